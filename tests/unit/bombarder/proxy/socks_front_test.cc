// The SOCKS5 front (socks_front.h, issue 18): a CONNECT to a routed name reaches the route's
// upstream and carries bytes both ways; an unrouted name is refused with reply 2 and an
// unreachable route with reply 5, then closed; a bad --socks-config is refused naming the entry.
#include "bombarder/proxy/socks_front.h"

#include <future>

#include "bombarder/base/errors.h"
#include "proxy_test_support.h"

namespace {

using bombarder::proxy::SocksFront;
using bombarder::proxy::SocksFrontConfig;
using proxy_test::Client;
using proxy_test::TcpServer;

// A SocksFront whose io_context runs on a background thread.
class RunningFront {
 public:
  explicit RunningFront(SocksFrontConfig config)
      : guard_(boost::asio::make_work_guard(io_)),
        front_(std::make_unique<SocksFront>(io_, std::move(config))) {
    front_->start();
    port_ = front_->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningFront() {
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
      front_->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<SocksFront> front_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Greeting (no authentication) and CONNECT to `name`:`port` by domain name, as Go sends them;
// the reply code (-1: no reply).
int socks_connect(Client& client, const std::string& name, uint16_t port) {
  std::string request = {5, 1, 0};
  request += std::string{5, 1, 0, 3, static_cast<char>(name.size())} + name;
  request += static_cast<char>(port >> 8);
  request += static_cast<char>(port & 0xff);
  if (!client.send(request)) return -1;
  const std::string method = client.recv_exactly(2);
  if (method != std::string{5, 0}) return -1;
  const std::string reply = client.recv_exactly(10);
  return reply.size() == 10 && reply[0] == 5 ? static_cast<unsigned char>(reply[1]) : -1;
}

TEST(SocksFront, ARoutedNameReachesItsUpstreamBothWays) {
  TcpServer echo;
  RunningFront front({"node0-peers",
                      "127.0.0.1:0",
                      {{"etcd-node-1:2380", "127.0.0.1:" + std::to_string(echo.port())}}});
  Client client(front.port());
  ASSERT_TRUE(client.connected());
  ASSERT_EQ(socks_connect(client, "etcd-node-1", 2380), 0);
  ASSERT_TRUE(client.send("GET /raft/stream HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(client.recv_exactly(29), "GET /raft/stream HTTP/1.1\r\n\r\n");
}

TEST(SocksFront, AnUnroutedNameIsRefusedAndClosed) {
  TcpServer echo;
  RunningFront front({"node0-peers",
                      "127.0.0.1:0",
                      {{"etcd-node-1:2380", "127.0.0.1:" + std::to_string(echo.port())}}});
  Client client(front.port());
  // The right name on another port is another destination.
  EXPECT_EQ(socks_connect(client, "etcd-node-1", 2381), 2);
  std::string rest;
  EXPECT_EQ(client.recv_some(rest), 0) << "closed after the refusal";
}

TEST(SocksFront, AnUnreachableRouteIsRefusedAsAFailedDial) {
  uint16_t closed_port = 0;
  const int fd = proxy_test::listen_socket(closed_port);
  ::close(fd);  // nothing listens there any more: a disabled link
  RunningFront front({"node0-peers",
                      "127.0.0.1:0",
                      {{"etcd-node-2:2380", "127.0.0.1:" + std::to_string(closed_port)}}});
  Client client(front.port());
  EXPECT_EQ(socks_connect(client, "etcd-node-2", 2380), 5);
}

TEST(SocksFront, ABadConfigIsRefusedNamingTheEntry) {
  using nlohmann::json;
  const auto message = [](const json& config) -> std::string {
    try {
      (void)bombarder::proxy::parse_socks_config(config);
    } catch (const bombarder::Error& e) {
      EXPECT_EQ(e.kind(), bombarder::ErrorKind::kInvalidInput);
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(message(json::object()).find("must hold a JSON array"), std::string::npos);
  EXPECT_NE(message(json::array({{{"name", "a"}, {"listen", "127.0.0.1:1"}}})).find("\"routes\""),
            std::string::npos);
  EXPECT_NE(message(json::array({{{"name", "a"},
                                  {"listen", "127.0.0.1:1"},
                                  {"routes", {{"etcd-node-1:2380", "nowhere"}}}}}))
                .find("route etcd-node-1:2380 'nowhere' is not IP:PORT"),
            std::string::npos);
  const auto fronts = bombarder::proxy::parse_socks_config(json::array(
      {{{"name", "a"}, {"listen", "127.0.0.1:0"}, {"routes", {{"x:1", "127.0.0.1:9"}}}}}));
  ASSERT_EQ(fronts.size(), 1u);
  EXPECT_EQ(fronts[0].routes.at("x:1"), "127.0.0.1:9");
}

}  // namespace
