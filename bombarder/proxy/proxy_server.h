// A Toxiproxy-compatible TCP fault proxy (issue 6): proxies {name, listen, upstream, enabled},
// each with a chain of toxics per direction, managed through Toxiproxy's REST API.
//
// Threading: everything (the API server, every proxy's acceptor, every link and its toxics) runs
// on the one io_context given to ProxyServer, which must be run by exactly one thread. API
// handlers and link coroutines then share the proxies' state without locks, and a toxic added,
// updated or removed through the API is seen by the very next chunk of every existing link.
// Faults are timing faults (milliseconds), not throughput ones, so one core is plenty.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/asio.h"

namespace bombarder::proxy {

// One API answer: HTTP status and JSON body ("" for 204).
struct ApiResult {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class ProxyServer {
 public:
  // `seed` seeds the randomness of toxicity, jitter, slicer and packet_loss (each link draws its
  // own generator from the server's, in connection order).
  ProxyServer(boost::asio::io_context& io, uint64_t seed);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Toxiproxy's routes, plus GET /metrics (Prometheus text: every proxy's state, connections and
  // toxics): `method` "GET"/"POST"/"PATCH"/"DELETE", `target` the request target
  // ("/proxies/x/toxics?..."), `body` the request body. Never throws for bad input: errors come
  // back as {"error": "...", "status": N}. Must be called on the io_context's thread.
  ApiResult handle(std::string_view method, std::string_view target, std::string_view body);

  // Starts serving the HTTP API on host:port (port 0 = any); returns the bound port. Throws
  // boost::system::system_error when the address cannot be bound.
  uint16_t listen_api(const std::string& host, uint16_t port);

  // Stops the API listener and every proxy (closing all their connections).
  void shutdown();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bombarder::proxy
