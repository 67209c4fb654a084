// unit.bombarder.ProxyToxics.*: every toxic measured through a real proxy (proxy_server.h) in front
// of an in-process echo or sink server, timed with a steady clock.
#include <sys/socket.h>

#include <thread>

#include "../../common/test_http.h"
#include "proxy_test_support.h"

namespace {

using namespace proxy_test;
using namespace std::chrono_literals;

// Round trip of `msg` through `c`: milliseconds, or -1 if the echo did not come back whole.
double round_trip(Client& c, const std::string& msg) {
  auto start = Clock::now();
  if (!c.send(msg)) return -1;
  if (c.recv_exactly(msg.size()) != msg) return -1;
  return ms_since(start);
}

TEST(ProxyToxics, PassesDataBothWaysWithoutToxics) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("echo", echo.port());
  Client c(port);
  ASSERT_TRUE(c.connected());
  std::string big(200000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(c.send(big));
  EXPECT_EQ(c.recv_exactly(big.size()), big);
  EXPECT_LT(round_trip(c, "ping"), 100.0);
}

TEST(ProxyToxics, LatencyDelaysEachDirection) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p", {{"type", "latency"}, {"attributes", {{"latency", 150}}}});
  proxy.add_toxic("p", {{"type", "latency"},
                        {"stream", "upstream"},
                        {"attributes", {{"latency", 100}, {"jitter", 20}}}});
  Client c(port);
  for (int i = 0; i < 3; ++i) {
    double ms = round_trip(c, "hello");
    EXPECT_GE(ms, 150.0 + 80.0) << "round trip " << i;
    EXPECT_LT(ms, 150.0 + 120.0 + 150.0) << "round trip " << i;
  }
}

TEST(ProxyToxics, ToxicChangesReachExistingConnections) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  Client c(port);
  EXPECT_LT(round_trip(c, "a"), 100.0);
  proxy.add_toxic("p", {{"name", "slow"}, {"type", "latency"}, {"attributes", {{"latency", 200}}}});
  EXPECT_GE(round_trip(c, "b"), 200.0);
  proxy.api_json("POST", "/proxies/p/toxics/slow", {{"attributes", {{"latency", 400}}}}, 200);
  EXPECT_GE(round_trip(c, "c"), 400.0);
  EXPECT_EQ(proxy.api("DELETE", "/proxies/p/toxics/slow").status, 204);
  EXPECT_LT(round_trip(c, "d"), 100.0);
}

TEST(ProxyToxics, ToxicityZeroNeverAppliesAndOneAlwaysDoes) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p", {{"name", "never"},
                        {"type", "latency"},
                        {"toxicity", 0.0},
                        {"attributes", {{"latency", 300}}}});
  for (int i = 0; i < 10; ++i) {
    Client c(port);
    EXPECT_LT(round_trip(c, "x"), 150.0) << "connection " << i;
  }
  proxy.api_json("POST", "/proxies/p/toxics/never", {{"toxicity", 1.0}}, 200);
  Client c(port);
  EXPECT_GE(round_trip(c, "x"), 300.0);
}

TEST(ProxyToxics, ToxicityHalfAppliesToSomeConnections) {
  TcpServer echo;
  RunningProxy proxy(7);
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p",
                  {{"type", "latency"}, {"toxicity", 0.5}, {"attributes", {{"latency", 120}}}});
  int slow = 0;
  for (int i = 0; i < 20; ++i) {
    Client c(port);
    if (round_trip(c, "x") >= 120.0) ++slow;
  }
  EXPECT_GE(slow, 3);
  EXPECT_LE(slow, 17);
}

TEST(ProxyToxics, BandwidthCapsThroughput) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  // 100 KB/s = 100 bytes/ms downstream: 60 000 bytes need >= 600 ms (upstream is free).
  proxy.add_toxic("p", {{"type", "bandwidth"}, {"attributes", {{"rate", 100}}}});
  Client c(port);
  std::string data(60000, 'b');
  auto start = Clock::now();
  ASSERT_TRUE(c.send(data));
  EXPECT_EQ(c.recv_exactly(data.size()).size(), data.size());
  double ms = ms_since(start);
  EXPECT_GE(ms, 550.0);
  EXPECT_LT(ms, 1500.0);
}

TEST(ProxyToxics, LimitDataClosesAfterBytes) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p", {{"type", "limit_data"}, {"attributes", {{"bytes", 10}}}});
  Client c(port);
  ASSERT_TRUE(c.send("0123456"));
  EXPECT_EQ(c.recv_exactly(7), "0123456");
  ASSERT_TRUE(c.send("789abcdef"));
  std::string rest;
  while (c.recv_some(rest) > 0) {
  }
  EXPECT_EQ(rest, "789");
  EXPECT_NE(c.last_errno(), EAGAIN) << "closed, not timed out";
}

TEST(ProxyToxics, ResetPeerSendsRst) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic(
      "p", {{"type", "reset_peer"}, {"stream", "upstream"}, {"attributes", {{"timeout", 100}}}});
  Client c(port);
  auto start = Clock::now();
  ASSERT_TRUE(c.send("hello"));
  std::string out;
  EXPECT_EQ(c.recv_some(out), -1);
  EXPECT_EQ(c.last_errno(), ECONNRESET);
  EXPECT_TRUE(out.empty());
  EXPECT_GE(ms_since(start), 90.0);
}

TEST(ProxyToxics, TimeoutStopsDataThenCloses) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  Client c(port, 200ms);
  EXPECT_GE(round_trip(c, "before"), 0.0);
  auto start = Clock::now();
  proxy.add_toxic("p", {{"type", "timeout"}, {"attributes", {{"timeout", 500}}}});
  ASSERT_TRUE(c.send("during"));
  std::string out;
  EXPECT_EQ(c.recv_some(out), -1);
  EXPECT_EQ(c.last_errno(), EAGAIN) << "no data while the toxic holds";
  c.set_timeout(2000ms);
  EXPECT_EQ(c.recv_some(out), 0) << "closed after the timeout";
  EXPECT_TRUE(out.empty());
  EXPECT_GE(ms_since(start), 450.0);
  EXPECT_LT(ms_since(start), 1500.0);
}

TEST(ProxyToxics, TimeoutZeroHoldsDataUntilRemoved) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p", {{"name", "t"}, {"type", "timeout"}, {"attributes", {{"timeout", 0}}}});
  Client c(port, 400ms);
  ASSERT_TRUE(c.send("held"));
  std::string out;
  EXPECT_EQ(c.recv_some(out), -1);
  EXPECT_EQ(c.last_errno(), EAGAIN) << "neither data nor close";
  EXPECT_EQ(proxy.api("DELETE", "/proxies/p/toxics/t").status, 204);
  c.set_timeout(2000ms);
  // As Toxiproxy: what the toxic held back is delivered once it is removed, then new data.
  EXPECT_EQ(c.recv_exactly(4), "held");
  EXPECT_GE(round_trip(c, "after"), 0.0) << "the connection lives on once the toxic is gone";
}

TEST(ProxyToxics, TimeoutZeroUpdatedToAClosingTimeoutDropsWhatItHeld) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p", {{"name", "t"}, {"type", "timeout"}, {"attributes", {{"timeout", 0}}}});
  Client c(port, 300ms);
  ASSERT_TRUE(c.send("held"));
  std::string out;
  EXPECT_EQ(c.recv_some(out), -1);
  auto start = Clock::now();
  EXPECT_EQ(proxy.api("POST", "/proxies/p/toxics/t", R"({"attributes":{"timeout":200}})").status,
            200);
  c.set_timeout(2000ms);
  EXPECT_EQ(c.recv_some(out), 0) << "closed after the new timeout, nothing delivered";
  EXPECT_TRUE(out.empty()) << out;
  EXPECT_GE(ms_since(start), 150.0);
}

TEST(ProxyToxics, SlicerSlicesWithDelay) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic(
      "p", {{"type", "slicer"},
            {"attributes", {{"average_size", 10}, {"size_variation", 0}, {"delay", 30000}}}});
  Client c(port);
  std::string msg(100, 's');
  auto start = Clock::now();
  ASSERT_TRUE(c.send(msg));
  std::string got;
  int reads = 0;
  size_t biggest = 0;
  while (got.size() < msg.size()) {
    std::string piece;
    if (c.recv_some(piece) <= 0) break;
    ++reads;
    biggest = std::max(biggest, piece.size());
    got += piece;
  }
  EXPECT_EQ(got, msg);
  EXPECT_LE(biggest, 10u);
  EXPECT_GE(reads, 10);
  EXPECT_GE(ms_since(start), 9 * 30.0 - 10.0);
}

TEST(ProxyToxics, SlowCloseDelaysTheClose) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic("p", {{"type", "slow_close"}, {"attributes", {{"delay", 300}}}});
  Client c(port);
  EXPECT_GE(round_trip(c, "x"), 0.0);
  EXPECT_LT(round_trip(c, "y"), 100.0) << "data itself is not delayed";
  auto start = Clock::now();
  // Our FIN reaches the echo server, whose FIN comes back through the slow_close toxic.
  ::shutdown(c.fd(), SHUT_WR);
  std::string out;
  EXPECT_EQ(c.recv_some(out), 0);
  EXPECT_GE(ms_since(start), 290.0);
}

TEST(ProxyToxics, PacketLossDropsAboutTheFraction) {
  TcpServer sink(false);
  RunningProxy proxy(1234);
  uint16_t port = proxy.create("p", sink.port());
  proxy.add_toxic(
      "p",
      {{"type", "packet_loss"}, {"stream", "upstream"}, {"attributes", {{"probability", 0.3}}}});
  Client c(port);
  const int kMessages = 400;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(c.send("0123456789"));
    std::this_thread::sleep_for(1ms);  // pacing: one chunk per message
  }
  // The proxy forwards the close after the chunks before it: once the sink sees it, all is in.
  ::shutdown(c.fd(), SHUT_WR);
  ASSERT_TRUE(common::test::wait_until([&] { return sink.ends_seen() == 1; }, 5s));
  double fraction = static_cast<double>(sink.received()) / (kMessages * 10.0);
  EXPECT_GT(fraction, 0.55);
  EXPECT_LT(fraction, 0.85);
}

TEST(ProxyToxics, PacketLossOneDropsEverythingZeroNothing) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  proxy.add_toxic(
      "p", {{"name", "loss"}, {"type", "packet_loss"}, {"attributes", {{"probability", 1.0}}}});
  Client c(port, 300ms);
  ASSERT_TRUE(c.send("gone"));
  std::string out;
  EXPECT_EQ(c.recv_some(out), -1);
  EXPECT_EQ(c.last_errno(), EAGAIN);
  proxy.api_json("POST", "/proxies/p/toxics/loss", {{"attributes", {{"probability", 0.0}}}}, 200);
  for (int i = 0; i < 20; ++i) EXPECT_GE(round_trip(c, "kept"), 0.0);
}

TEST(ProxyToxics, DisablingClosesConnectionsAndStopsListening) {
  TcpServer echo;
  RunningProxy proxy;
  uint16_t port = proxy.create("p", echo.port());
  Client c(port);
  EXPECT_GE(round_trip(c, "x"), 0.0);
  proxy.api_json("POST", "/proxies/p", {{"enabled", false}}, 200);
  std::string out;
  EXPECT_LE(c.recv_some(out), 0);
  EXPECT_NE(c.last_errno(), EAGAIN);
  Client refused(port);
  EXPECT_FALSE(refused.connected());
  proxy.api_json("POST", "/proxies/p", {{"enabled", true}}, 200);
  Client again(port);
  ASSERT_TRUE(again.connected());
  EXPECT_GE(round_trip(again, "y"), 0.0);
}

TEST(ProxyToxics, UnreachableUpstreamClosesTheClient) {
  uint16_t dead_port = 0;
  int fd = listen_socket(dead_port);
  ::close(fd);  // nothing listens there now
  RunningProxy proxy;
  uint16_t port = proxy.create("p", dead_port);
  Client c(port);
  ASSERT_TRUE(c.connected());
  std::string out;
  EXPECT_LE(c.recv_some(out), 0);
  EXPECT_NE(c.last_errno(), EAGAIN);
}

}  // namespace
