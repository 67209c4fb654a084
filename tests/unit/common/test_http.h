// Blocking HTTP helpers for tests of the node's HTTP layer: a raw loopback client (so tests can
// also send malformed requests) and polling with a deadline (tests never sleep a fixed time).
#pragma once

#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace common::test {

namespace http = boost::beast::http;
using Socket = boost::asio::ip::tcp::socket;

// Polls `done` every millisecond until it holds or `timeout` passes.
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }

  http::response<http::string_body> read() {
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    return response;
  }

  http::response<http::string_body> send(http::request<http::string_body> request) {
    request.set(http::field::host, "127.0.0.1");
    request.prepare_payload();
    http::write(socket_, request);
    return read();
  }

  http::response<http::string_body> send(http::verb method, const std::string& target,
                                         std::string body = "") {
    http::request<http::string_body> request{method, target, 11};
    request.body() = std::move(body);
    return send(std::move(request));
  }

  // True once the server has closed the connection.
  bool closed_by_peer() {
    char byte;
    boost::beast::error_code ec;
    socket_.read_some(boost::asio::buffer(&byte, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

  Socket& socket() { return socket_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }

 private:
  boost::asio::io_context io_;
  Socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace common::test
