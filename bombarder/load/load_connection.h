// One keep-alive HTTP/1.1 connection of one load worker to one node, the way wrk drives load:
// a worker sends its next request on the connection its previous answer came back on, the
// request goes out as one preformatted buffer, and the answer is parsed by Beast. The hot path
// has no pool, queue, strand or timer-per-operation stream. (common::HttpClientPool, with its
// queues and strand, serves the control commands; through it the load engine reached about half
// of wrk's rate against a do-nothing server, see benchmarks/loadgen_vs_wrk.sh.)
//
// Single-threaded: every call and callback happens on the one thread running `io`.
// A failed or timed-out exchange closes the connection; the next send reconnects.
// With a TLS context, each connect is followed by a TLS handshake (certificate verified against
// the context's CAs and `host`, common/tls.h), under the same exchange deadline.
// With WireFraming::kResp (Redis, store_adapter.h) the buffer is a RESP command and the answer
// one RESP reply, handed to `done` as a 200 whose body is the reply's raw bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bombarder/client/redis_resp.h"
#include "bombarder/client/store_adapter.h"
#include "common/tls.h"

namespace bombarder {

// Connection churn of one node's pool, counted by every LoadConnection given it (load_metrics.h
// shows it as bombarder_pool_*). Relaxed atomics: shards on several threads share one.
struct ConnectionCounters {
  std::atomic<uint64_t> opened{0};          // connects that succeeded
  std::atomic<uint64_t> connect_failed{0};  // connects that failed or timed out
  std::atomic<uint64_t> closed{0};          // opened connections closed again, for any reason
  [[nodiscard]] uint64_t open_now() const {
    const uint64_t o = opened.load(std::memory_order_relaxed);
    const uint64_t c = closed.load(std::memory_order_relaxed);
    return o > c ? o - c : 0;
  }
};

class LoadConnection {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  // `ec` empty: `response` holds the answer (any status). Otherwise a transport error:
  // connection_refused, timed_out (the deadline passed), eof, connection_reset, ...
  using Done = std::function<void(boost::system::error_code ec, Response& response)>;

  // `counters` (may be null) must outlive the connection.
  // `tls` null: plain HTTP; otherwise `host` is the name or address the server's certificate
  // must carry.
  LoadConnection(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint to,
                 ConnectionCounters* counters = nullptr,
                 std::shared_ptr<boost::asio::ssl::context> tls = nullptr, std::string host = {},
                 WireFraming framing = WireFraming::kHttp1)
      : socket_(io),
        timer_(io),
        to_(to),
        counters_(counters),
        tls_context_(std::move(tls)),
        host_(std::move(host)),
        framing_(framing) {}

  // `wire` (a complete HTTP/1.1 request, keep-alive) must stay alive until `done` runs. One
  // exchange at a time.
  void send(const std::string& wire, std::chrono::milliseconds timeout, Done done);
  void close();

  // Appends a request to `out`: request line, Host, Content-Type and Content-Length when there
  // is a body, `extra_header` (already "Name: value\r\n" or empty), blank line, body.
  static void format_request(std::string& out, std::string_view method, std::string_view target,
                             std::string_view host, std::string_view extra_header,
                             std::string_view body);

 private:
  void handshake();
  void write();
  template <typename Stream>
  void read_resp(Stream& stream);
  void finish(boost::system::error_code ec);
  // Runs `f` with the stream of this connection: the TLS stream over socket_, or socket_.
  template <typename F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::tcp::endpoint to_;
  ConnectionCounters* counters_;
  const std::shared_ptr<boost::asio::ssl::context> tls_context_;
  const std::string host_;
  const WireFraming framing_;
  // A TLS session lives as long as one TCP connection: a new one per connect (never replaced
  // while an operation on it is pending: one exchange at a time, and close() leaves it be).
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  bool connected_ = false;
  bool timed_out_ = false;
  uint64_t exchange_ = 0;  // numbers the exchanges, so a late timer cannot hit the next one
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
  Response response_;
  // kResp: the reply's bytes so far and the reader that says when they are one whole reply.
  std::string resp_bytes_;
  std::optional<RespReader> resp_reader_;
  const std::string* wire_ = nullptr;
  Done done_;
};

}  // namespace bombarder
