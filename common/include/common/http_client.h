// An asynchronous HTTP/1.1 client with a keep-alive connection pool per endpoint, shared by
// stress_node (forwarding writes to the leader, peer traffic) and bombarder (load generation).
//
// Bounds: at most `connections_per_endpoint_max` connections per endpoint; requests beyond that
// wait in a FIFO queue of at most `queued_requests_max` per endpoint, and a request arriving at a
// full queue fails at once with HttpClientError::kQueueFull. Response bodies over
// `response_body_bytes_max` fail with boost::beast::http::error::body_limit.
//
// Timeouts: a request's timeout runs from the call to request() and covers waiting in the queue,
// resolving, connecting, writing and reading; past it the request fails with
// boost::beast::error::timeout. A connection that failed or timed out is closed, never reused.
//
// Threads: request() and close() may be called from any thread. Every Done callback runs exactly
// once, on a thread running the io_context (serialized with the pool's other handlers), never
// inside request() itself. The io_context must outlive the pool's pending work.
//
// TLS: a pool given an SSL context speaks HTTPS to every endpoint, verifying each server's
// certificate against the context's CAs and the endpoint's host (common/tls.h); a failed
// handshake fails the request like any transport error (an ssl category error code).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/asio.h"
#include "common/endpoint.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace common {

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;  // "/api/kv?limit=10"
  std::string body;
  std::string content_type = "application/json";  // sent only with a non-empty body
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names, arrival order
  // The first header with this name (case-insensitive), or "" if absent.
  [[nodiscard]] std::string header(std::string_view name) const;
};

enum class HttpClientError {
  kQueueFull = 1,  // the endpoint's wait queue is at queued_requests_max
};
const boost::system::error_category& http_client_category();
boost::system::error_code make_error_code(HttpClientError e);

class HttpClientPool {
 public:
  explicit HttpClientPool(boost::asio::io_context& io, size_t connections_per_endpoint_max = 8,
                          size_t queued_requests_max = 10000,
                          uint64_t response_body_bytes_max = 64 << 20,
                          std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  // Closes (see close()).
  ~HttpClientPool();
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  // `ec` is empty on any HTTP response, whatever its status; otherwise the transport error
  // (connection_refused, timeout, kQueueFull, body_limit, operation_aborted, ...).
  using Done = std::function<void(boost::system::error_code, HttpResponse)>;
  void request(const Endpoint& to, HttpRequest request, std::chrono::milliseconds timeout,
               Done done);

  // Cancels everything: queued and in-flight requests complete with operation_aborted, open
  // connections are closed, and later requests fail with operation_aborted. Idempotent.
  void close();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with in-flight handlers, which may outlive the pool
};

}  // namespace common

template <>
struct boost::system::is_error_code_enum<common::HttpClientError> : std::true_type {};
