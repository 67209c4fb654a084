// A trivial HTTP/1.1 keep-alive server for measuring the load generator itself (issue 4: "the
// load generator must not be the bottleneck: against a trivial local HTTP server it must reach
// at least half of what wrk reaches"). It does no work: POST answers 201 with a fixed entry,
// GET /status answers as a leader so bombarder's leader discovery finds it, anything else 200.
//
// Usage: trivial_http_server PORT [THREADS]   (binds 127.0.0.1; Ctrl-C or SIGTERM to stop)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kEntry =
    R"({"id":"0b7f3c1e-2d4a-4c55-9a8e-1f2e3d4c5b6a","key":"k","value":"v","seq":1,)"
    R"("source_node":0,"created_at":"2026-01-01T00:00:00.000Z"})";
constexpr const char* kStatus =
    R"({"node_id":0,"address":"127.0.0.1","role":"leader","term":1,"leader_id":0,)"
    R"("leader":null,"commit_index":0,"applied_index":0,"last_index":0,"entry_count":0,)"
    R"("state_hash":"0000000000000000","state_hash_index":0,"members":[]})";

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->answer();
                     });
  }
  void answer() {
    response_ = {};
    response_.version(11);
    response_.keep_alive(request_.keep_alive());
    response_.set(http::field::content_type, "application/json");
    if (request_.method() == http::verb::post) {
      response_.result(http::status::created);
      response_.body() = kEntry;
    } else if (request_.target() == "/status") {
      response_.result(http::status::ok);
      response_.body() = kStatus;
    } else {
      response_.result(http::status::ok);
      response_.body() = kEntry;
    }
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) return;
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(socket))->start();
    }
    accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: trivial_http_server PORT [THREADS]\n");
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  asio::io_context io(threads);
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  beast::error_code ec;
  acceptor.bind(endpoint, ec);
  if (ec) {
    std::fprintf(stderr, "trivial_http_server: cannot bind 127.0.0.1:%u: %s\n", port,
                 ec.message().c_str());
    return 1;
  }
  acceptor.listen();
  accept(acceptor);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](beast::error_code, int) { io.stop(); });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
