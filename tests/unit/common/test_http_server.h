// Test helpers for HTTP clients: a tiny Beast server on 127.0.0.1 with its own thread, and an
// io_context running on threads. (Polling with a deadline: wait_until in test_http.h.)
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/endpoint.h"
#include "test_http.h"

namespace common::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline Response ok_response(std::string body = "") {
  Response r{http::status::ok, 11};
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

// A JSON answer; a null body gives an empty one (as for 204).
inline Response json_response(http::status status, const nlohmann::json& body) {
  Response r{status, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = body.is_null() ? "" : body.dump();
  r.prepare_payload();
  return r;
}

// An io_context running on its own thread(s). Destruction waits for the loop to run out of work,
// so objects destroyed earlier must have cancelled theirs (close()/stop()): a hang here (caught
// by the ctest timeout) is a leak of pending operations.
class IoThread {
 public:
  explicit IoThread(int threads = 1) : work_(asio::make_work_guard(io_)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThread() {
    work_.reset();
    for (std::thread& t : threads_) t.join();
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

// Serves keep-alive HTTP/1.1 on 127.0.0.1. The handler runs on the server's one thread; it
// returns the response, or nullopt to never answer (the connection stays open, silent). A
// response with keep_alive(false) closes the connection after it is written.
class TestHttpServer {
 public:
  using Handler = std::function<std::optional<Response>(const Request&)>;

  explicit TestHttpServer(Handler handler, uint16_t port = 0)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port)),
        handler_(std::move(handler)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestHttpServer() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  common::Endpoint endpoint() const { return {"127.0.0.1", port()}; }
  size_t accepted() const { return accepted_; }
  size_t requests() const { return requests_; }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(TestHttpServer& server, tcp::socket socket)
        : server_(server), socket_(std::move(socket)) {}

    void read() {
      parser_.emplace();
      parser_->body_limit(1ull << 30);
      http::async_read(socket_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (!ec) self->respond();
                       });
    }

   private:
    void respond() {
      ++server_.requests_;
      const Request request = parser_->release();
      std::optional<Response> response = server_.handler_(request);
      if (!response) {
        server_.silent_.push_back(shared_from_this());
        return;
      }
      response_ = std::move(*response);
      if (response_.keep_alive()) response_.keep_alive(request.keep_alive());
      http::async_write(socket_, response_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return;
                          if (!self->response_.keep_alive()) {
                            self->socket_.shutdown(tcp::socket::shutdown_both, ec);
                            return;
                          }
                          self->read();
                        });
    }

    TestHttpServer& server_;
    tcp::socket socket_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Response response_;
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      std::make_shared<Session>(*this, std::move(socket))->read();
      accept();
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  Handler handler_;
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> requests_{0};
  std::vector<std::shared_ptr<Session>> silent_;  // server thread only
  std::thread thread_;
};

// A loopback port with nothing listening (bound, then released).
inline uint16_t unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace common::test
