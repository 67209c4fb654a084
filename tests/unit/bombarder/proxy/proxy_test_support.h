// Shared by the proxy unit tests: a ProxyServer on its own io thread, driven through handle()
// (or its HTTP API), an in-process echo/sink server, and blocking loopback clients with timeouts.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bombarder/proxy/proxy_server.h"
#include "common/asio.h"

namespace proxy_test {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A ProxyServer whose io_context runs on a background thread.
class RunningProxy {
 public:
  explicit RunningProxy(uint64_t seed = 42)
      : guard_(boost::asio::make_work_guard(io_)),
        server_(std::make_unique<bombarder::proxy::ProxyServer>(io_, seed)),
        thread_([this] { io_.run(); }) {}
  ~RunningProxy() {
    boost::asio::post(io_, [this] { server_.reset(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  bombarder::proxy::ApiResult api(const std::string& method, const std::string& target,
                                  const std::string& body = "") {
    std::promise<bombarder::proxy::ApiResult> done;
    boost::asio::post(io_, [&] { done.set_value(server_->handle(method, target, body)); });
    return done.get_future().get();
  }
  json api_json(const std::string& method, const std::string& target, const json& body,
                int expected_status) {
    auto r = api(method, target, body.dump());
    EXPECT_EQ(r.status, expected_status) << method << " " << target << ": " << r.body;
    return r.body.empty() ? json() : json::parse(r.body);
  }
  uint16_t listen_api() {
    std::promise<uint16_t> done;
    boost::asio::post(io_, [&] { done.set_value(server_->listen_api("127.0.0.1", 0)); });
    return done.get_future().get();
  }
  // Creates proxy `name` on 127.0.0.1:0 in front of upstream_port; returns its listen port.
  uint16_t create(const std::string& name, uint16_t upstream_port) {
    json p = api_json("POST", "/proxies",
                      {{"name", name},
                       {"listen", "127.0.0.1:0"},
                       {"upstream", "127.0.0.1:" + std::to_string(upstream_port)}},
                      201);
    std::string listen = p.at("listen").get<std::string>();
    return static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  }
  void add_toxic(const std::string& proxy, const json& toxic) {
    api_json("POST", "/proxies/" + proxy + "/toxics", toxic, 200);
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<bombarder::proxy::ProxyServer> server_;
  std::thread thread_;
};

inline int listen_socket(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  ::listen(fd, 64);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Echo (or, with echo=false, sink that counts bytes) server, one thread per connection.
class TcpServer {
 public:
  explicit TcpServer(bool echo = true) : echo_(echo) {
    fd_ = listen_socket(port_);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::lock_guard lock(mu_);
        if (stopping_) {
          ::close(c);
          return;
        }
        conns_.push_back(c);
        workers_.emplace_back([this, c] {
          char buf[65536];
          for (;;) {
            ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n == 0) ++ends_seen_;
            if (n <= 0) break;
            received_ += static_cast<size_t>(n);
            if (echo_ && ::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL) < 0) break;
          }
          ::shutdown(c, SHUT_WR);
        });
      }
    });
  }
  ~TcpServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    }
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& w : workers_) w.join();
    for (int c : conns_) ::close(c);
  }
  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] size_t received() const { return received_.load(); }
  // Connections whose peer closed its sending side (everything it sent has arrived).
  [[nodiscard]] size_t ends_seen() const { return ends_seen_.load(); }

 private:
  bool echo_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
  std::atomic<size_t> received_{0};
  std::atomic<size_t> ends_seen_{0};
};

// A blocking loopback client with a receive timeout.
class Client {
 public:
  explicit Client(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeout(timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { ::close(fd_); }
  void set_timeout(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] int fd() const { return fd_; }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // One recv: >0 bytes, 0 EOF, -1 error (errno in last_errno(): EAGAIN = timeout).
  ssize_t recv_some(std::string& out, size_t max = 65536) {
    std::vector<char> buf(max);
    ssize_t n = ::recv(fd_, buf.data(), max, 0);
    last_errno_ = n < 0 ? errno : 0;
    if (n > 0) out.append(buf.data(), static_cast<size_t>(n));
    return n;
  }
  // Reads until `n` bytes arrived, EOF, error or timeout; returns what arrived.
  std::string recv_exactly(size_t n) {
    std::string out;
    while (out.size() < n) {
      if (recv_some(out, n - out.size()) <= 0) break;
    }
    return out;
  }
  [[nodiscard]] int last_errno() const { return last_errno_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int last_errno_ = 0;
};

inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace proxy_test
