// peer_transport.h against tiny Beast servers on loopback: routing, batching, isolation of
// slow or dead peers, the queue bound, backoff and recovery.
#include "peer_transport.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <future>
#include <mutex>
#include <thread>

#include "../common/test_http_server.h"
#include "peer_codec.h"

namespace stress_node {
namespace {

namespace test = common::test;

using namespace std::chrono_literals;
using common::test::IoThread;
using common::test::TestHttpServer;
using common::test::wait_until;

struct Delivery {
  std::string path;
  std::string content_type;
  std::vector<raft::Message> messages;
  std::string body;
  std::string from, to, mac;  // X-Raft-From, X-Raft-To, X-Raft-Mac ("" when absent)
};

std::string header_of(const test::Request& request, std::string_view name) {
  return std::string(request[boost::beast::string_view(name.data(), name.size())]);
}

// A peer that decodes what it receives and records it. `gate`, if set, holds the FIRST request
// until the test opens it, so the test can pile messages up behind an in-flight request.
class RecordingPeer {
 public:
  explicit RecordingPeer(bool gated = false, uint16_t port = 0)
      : gated_(gated), gate_(open_.get_future().share()), server_(handler(), port) {}
  ~RecordingPeer() { open_gate(); }

  void open_gate() {
    std::call_once(opened_, [this] { open_.set_value(); });
  }
  common::Endpoint endpoint() const { return server_.endpoint(); }
  size_t requests() const { return server_.requests(); }
  std::vector<Delivery> deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  // Every message received, in arrival order.
  std::vector<raft::Message> messages() const {
    std::vector<raft::Message> all;
    for (const Delivery& d : deliveries())
      all.insert(all.end(), d.messages.begin(), d.messages.end());
    return all;
  }
  size_t message_count() const { return messages().size(); }

 private:
  TestHttpServer::Handler handler() {
    return [this](const test::Request& request) -> std::optional<test::Response> {
      if (gated_ && first_) {
        first_ = false;
        // Bounded: a test that forgets to open the gate fails instead of hanging.
        if (gate_.wait_for(10s) != std::future_status::ready) return std::nullopt;
      }
      std::string error;
      std::optional<std::vector<raft::Message>> batch = decode_batch(request.body(), &error);
      if (!batch) {
        test::Response bad{boost::beast::http::status::bad_request, 11};
        bad.body() = error;
        bad.prepare_payload();
        return bad;
      }
      std::lock_guard lock(mutex_);
      deliveries_.push_back({std::string(request.target()),
                             std::string(request[boost::beast::http::field::content_type]),
                             std::move(*batch), request.body(), header_of(request, kPeerFromHeader),
                             header_of(request, kPeerToHeader),
                             header_of(request, kPeerMacHeader)});
      return test::ok_response();
    };
  }

  const bool gated_;
  bool first_ = true;  // server thread only
  std::promise<void> open_;
  std::once_flag opened_;
  std::shared_future<void> gate_;
  mutable std::mutex mutex_;
  std::vector<Delivery> deliveries_;
  TestHttpServer server_;  // last: its thread stops before the members above go away
};

raft::Message message(raft::MessageType type, raft::NodeId to, uint64_t context) {
  raft::Message m;
  m.type = type;
  m.from = 0;
  m.to = to;
  m.term = 3;
  m.context = context;
  return m;
}

raft::Message heartbeat(raft::NodeId to, uint64_t context) {
  return message(raft::MessageType::kHeartbeat, to, context);
}

// An Append without entries: a message the transport never coalesces (heartbeats it does).
raft::Message empty_append(raft::NodeId to, uint64_t context) {
  return message(raft::MessageType::kAppend, to, context);
}

std::vector<uint64_t> contexts(const std::vector<raft::Message>& messages) {
  std::vector<uint64_t> out;
  for (const raft::Message& m : messages) out.push_back(m.context);
  return out;
}

TEST(PeerTransport, MessagesArriveDecodedAtTheirRouteInOrder) {
  RecordingPeer peer;
  IoThread loop;
  PeerTransport transport(loop.io(), 0, {{0, {"127.0.0.1", 1}}, {1, peer.endpoint()}});

  raft::Message append = message(raft::MessageType::kAppend, 1, 3);
  append.entries = {{3, 10, raft::EntryType::kNormal, raft::Payload(std::string("cmd"))}};
  raft::Message snapshot = message(raft::MessageType::kSnapshot, 1, 5);
  snapshot.snapshot = {10, 3, raft::ConfState{{0, 1, 2}}, 4, 99};
  snapshot.snapshot_data = raft::Payload(std::string("snap"));
  snapshot.snapshot_last = true;
  const std::vector<raft::Message> sent = {message(raft::MessageType::kVote, 1, 1),
                                           message(raft::MessageType::kPreVoteResp, 1, 2),
                                           append,
                                           heartbeat(1, 4),
                                           snapshot,
                                           message(raft::MessageType::kTimeoutNow, 1, 6),
                                           message(raft::MessageType::kSnapshotResp, 1, 7)};
  transport.send(std::vector<raft::Message>(sent));

  ASSERT_TRUE(wait_until([&] { return peer.message_count() == sent.size(); }));
  EXPECT_EQ(peer.messages(), sent);
  for (const Delivery& d : peer.deliveries()) {
    EXPECT_EQ(d.content_type, kPeerContentType);
    for (const raft::Message& m : d.messages) {
      EXPECT_EQ(d.path, path_of(route_of(m.type))) << raft::to_string(m.type);
    }
  }
  const std::vector<Delivery> d = peer.deliveries();
  ASSERT_EQ(d.size(), 4u);  // vote pair, append run, snapshot, append run
  EXPECT_EQ(d[0].path, kRaftVotePath);
  EXPECT_EQ(d[1].path, kRaftAppendPath);
  EXPECT_EQ(d[2].path, kRaftSnapshotPath);
  EXPECT_EQ(d[3].path, kRaftAppendPath);

  ASSERT_TRUE(wait_until([&] { return transport.stats().at(1).batches_sent == 4; }));
  const PeerStats s = transport.stats().at(1);
  EXPECT_TRUE(s.reachable);
  EXPECT_EQ(s.messages_sent, sent.size());
  EXPECT_EQ(s.messages_dropped, 0u);
  EXPECT_EQ(s.send_failures, 0u);
  EXPECT_GT(s.bytes_sent, 0u);
  EXPECT_GE(s.last_success_ms_ago, 0);
  EXPECT_EQ(transport.stats().count(0), 0u);  // self is not a peer
}

TEST(PeerTransport, FramesAreSignedForTheirPathAndPartiesWhenAKeyIsSet) {
  RecordingPeer peer;
  IoThread loop;
  std::string error;
  auto key = PeerKey::derive(std::string(32, 's'), &error);
  ASSERT_TRUE(key) << error;
  PeerTransportOptions options;
  options.key = std::make_shared<const PeerKey>(*key);
  PeerTransport transport(loop.io(), 0, {{0, {"127.0.0.1", 1}}, {1, peer.endpoint()}}, options);
  transport.send({message(raft::MessageType::kVote, 1, 1)});
  ASSERT_TRUE(wait_until([&] { return peer.message_count() == 1; }));
  transport.send({empty_append(1, 2)});
  ASSERT_TRUE(wait_until([&] { return peer.message_count() == 2; }));

  const PeerAuthConfig receiver{1, {0, 1}, options.key};
  for (const Delivery& d : peer.deliveries()) {
    EXPECT_EQ(d.from, "0");
    EXPECT_EQ(d.to, "1");
    const FrameVerdict verdict = authenticate_frame(receiver, d.path, d.from, d.to, d.mac, d.body);
    EXPECT_TRUE(verdict.accepted()) << d.path << ": " << verdict.message;
  }
}

TEST(PeerTransport, InsecureTransportNamesThePartiesWithoutAMac) {
  RecordingPeer peer;
  IoThread loop;
  PeerTransport transport(loop.io(), 0, {{0, {"127.0.0.1", 1}}, {1, peer.endpoint()}});
  transport.send({empty_append(1, 1)});
  ASSERT_TRUE(wait_until([&] { return peer.message_count() == 1; }));
  const Delivery d = peer.deliveries().at(0);
  EXPECT_EQ(d.from, "0");
  EXPECT_EQ(d.to, "1");
  EXPECT_EQ(d.mac, "");
}

TEST(PeerTransport, MessagesQueuedBehindAnInFlightRequestLeaveAsOneBatch) {
  RecordingPeer peer(/*gated=*/true);
  IoThread loop;
  PeerTransport transport(loop.io(), 0, {{1, peer.endpoint()}});
  transport.send({heartbeat(1, 0)});
  ASSERT_TRUE(wait_until([&] { return peer.requests() == 1; }));
  constexpr uint64_t kMore = 500;
  for (uint64_t i = 1; i <= kMore; ++i) transport.send({empty_append(1, i)});
  peer.open_gate();

  ASSERT_TRUE(wait_until([&] { return peer.message_count() == kMore + 1; }));
  std::vector<uint64_t> expected(kMore + 1);
  for (uint64_t i = 0; i <= kMore; ++i) expected[i] = i;
  EXPECT_EQ(contexts(peer.messages()), expected);
  EXPECT_EQ(peer.requests(), 2u);
  ASSERT_TRUE(wait_until([&] { return transport.stats().at(1).batches_sent == 2; }));
}

TEST(PeerTransport, DeadAndSilentPeersDoNotDelayALiveOne) {
  RecordingPeer live;
  TestHttpServer silent([](const test::Request&) { return std::optional<test::Response>(); });
  const common::Endpoint dead{"127.0.0.1", test::unused_port()};
  IoThread loop(/*threads=*/4);
  PeerTransportOptions options;
  options.request_timeout = 30s;  // far past the deadline below: waiting on it would show
  PeerTransport transport(loop.io(), 0, {{1, live.endpoint()}, {2, dead}, {3, silent.endpoint()}},
                          options);

  constexpr uint64_t kRounds = 200;
  const auto started = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kRounds; ++i) {
    transport.send({empty_append(1, i), empty_append(2, i), empty_append(3, i)});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "send() must not block";
  ASSERT_TRUE(wait_until([&] { return live.message_count() == kRounds; }, 5s));

  // The server records a batch before the transport hears the answer: wait for the stats too.
  ASSERT_TRUE(wait_until([&] { return transport.stats().at(1).messages_sent == kRounds; }, 5s));
  ASSERT_TRUE(wait_until([&] { return transport.stats().at(2).send_failures >= 1; }, 5s));
  const std::map<raft::NodeId, PeerStats> s = transport.stats();
  EXPECT_TRUE(s.at(1).reachable);
  EXPECT_EQ(s.at(1).messages_sent, kRounds);
  EXPECT_FALSE(s.at(2).reachable);
  EXPECT_EQ(s.at(2).messages_sent, 0u);
  EXPECT_EQ(s.at(2).last_success_ms_ago, -1);
  EXPECT_EQ(s.at(3).messages_sent, 0u);
  EXPECT_EQ(s.at(3).send_failures, 0u);  // still waiting on its one request
}

TEST(PeerTransport, OverflowDropsTheOldestButKeepsSnapshotChunks) {
  RecordingPeer peer(/*gated=*/true);
  IoThread loop;
  PeerTransportOptions options;
  options.queue_messages_max = 10;
  PeerTransport transport(loop.io(), 0, {{1, peer.endpoint()}}, options);
  transport.send({heartbeat(1, 0)});
  ASSERT_TRUE(wait_until([&] { return peer.requests() == 1; }));

  // Queue: the snapshot chunk, then 20 appends; the bound of 10 drops appends 1..11.
  std::vector<raft::Message> burst = {message(raft::MessageType::kSnapshot, 1, 100)};
  for (uint64_t i = 1; i <= 20; ++i) burst.push_back(empty_append(1, i));
  transport.send(std::move(burst));
  EXPECT_EQ(transport.stats().at(1).messages_dropped, 11u);
  EXPECT_EQ(transport.stats().at(1).queued_messages, 10u);
  peer.open_gate();

  const std::vector<uint64_t> expected = {0, 100, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  ASSERT_TRUE(wait_until([&] { return peer.message_count() == expected.size(); }));
  EXPECT_EQ(contexts(peer.messages()), expected);
}

TEST(PeerTransport, AQueuedHeartbeatIsReplacedByTheNextOne) {
  RecordingPeer peer(/*gated=*/true);
  IoThread loop;
  PeerTransport transport(loop.io(), 0, {{1, peer.endpoint()}});
  transport.send({heartbeat(1, 0)});
  ASSERT_TRUE(wait_until([&] { return peer.requests() == 1; }));

  // Behind the request in flight: appends keep their order; of the heartbeats only the newest
  // is left, after the appends that were queued before it.
  transport.send({heartbeat(1, 1), empty_append(1, 100), heartbeat(1, 2)});
  transport.send({heartbeat(1, 3), empty_append(1, 101)});
  transport.send({heartbeat(1, 4)});
  EXPECT_EQ(transport.stats().at(1).queued_messages, 3u);
  EXPECT_EQ(transport.stats().at(1).heartbeats_superseded, 3u);
  EXPECT_EQ(transport.stats().at(1).messages_dropped, 0u);
  peer.open_gate();

  const std::vector<uint64_t> expected = {0, 100, 101, 4};
  ASSERT_TRUE(wait_until([&] { return peer.message_count() == expected.size(); }));
  EXPECT_EQ(contexts(peer.messages()), expected);

  // Once sent, a heartbeat is not taken back: the next one queues normally.
  transport.send({heartbeat(1, 5)});
  ASSERT_TRUE(wait_until([&] { return peer.message_count() == expected.size() + 1; }));
  EXPECT_EQ(contexts(peer.messages()).back(), 5u);
  EXPECT_EQ(transport.stats().at(1).heartbeats_superseded, 3u);
}

TEST(PeerTransport, UnreachablePeerIsRetriedWithBackoffAndRecovers) {
  const uint16_t port = test::unused_port();
  IoThread loop;
  PeerTransportOptions options;
  options.backoff_min = 10ms;
  options.backoff_max = 40ms;
  PeerTransport transport(loop.io(), 0, {{1, {"127.0.0.1", port}}}, options);

  // The raft thread sends heartbeats continually; every failure drops its batch.
  uint64_t context = 0;
  ASSERT_TRUE(wait_until([&] {
    transport.send({heartbeat(1, context++)});
    return transport.stats().at(1).send_failures >= 3;
  }));
  EXPECT_FALSE(transport.stats().at(1).reachable);
  const uint64_t failures = transport.stats().at(1).send_failures;
  // Backoff keeps a dead peer to about one attempt per backoff, not one per send().
  EXPECT_LT(failures, context);

  RecordingPeer peer(/*gated=*/false, port);
  ASSERT_TRUE(wait_until([&] {
    transport.send({heartbeat(1, context++)});
    return peer.message_count() > 0 && transport.stats().at(1).last_success_ms_ago >= 0;
  }));
  EXPECT_TRUE(transport.stats().at(1).reachable);
}

TEST(PeerTransport, NonOkAnswersCountAsFailures) {
  TestHttpServer broken([](const test::Request&) -> std::optional<test::Response> {
    test::Response r{boost::beast::http::status::service_unavailable, 11};
    r.prepare_payload();
    return r;
  });
  IoThread loop;
  PeerTransport transport(loop.io(), 0, {{1, broken.endpoint()}});
  transport.send({heartbeat(1, 1)});
  ASSERT_TRUE(wait_until([&] { return transport.stats().at(1).send_failures == 1; }));
  const PeerStats s = transport.stats().at(1);
  EXPECT_TRUE(s.reachable);  // it answered
  EXPECT_EQ(s.batches_sent, 0u);
  EXPECT_EQ(s.messages_sent, 0u);
}

TEST(PeerTransport, StopAbandonsInFlightWorkAndIgnoresLaterSends) {
  TestHttpServer silent([](const test::Request&) { return std::optional<test::Response>(); });
  IoThread loop;
  PeerTransport transport(loop.io(), 0, {{1, silent.endpoint()}});
  transport.send({heartbeat(1, 1)});
  ASSERT_TRUE(wait_until([&] { return silent.requests() == 1; }));
  transport.send({heartbeat(1, 2)});
  transport.stop();
  transport.send({heartbeat(1, 3)});
  EXPECT_EQ(transport.stats().at(1).queued_messages, 0u);
  ASSERT_TRUE(wait_until([&] { return transport.stats().at(1).send_failures == 1; }));
  transport.stop();  // idempotent
}

// Whether `fd` has something to read (data, or the peer's close) within `timeout`.
bool readable_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// stress_node stops its loop in the same handler that stops the transport (main.cc shut_down),
// so the pool's close never runs. What the request in flight then holds must not keep the
// transport, its pool and the connection alive: a cycle did (LeakSanitizer at node exits under
// load). The peer sees the connection closed once the loop is gone.
TEST(PeerTransport, StoppedWithItsLoopMidRequestLeavesNoConnectionOpen) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  asio::io_context server_io;
  tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  const common::Endpoint peer{"127.0.0.1", acceptor.local_endpoint().port()};
  tcp::socket accepted(server_io);
  {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread loop([&] { io.run(); });
    {
      PeerTransport transport(io, 0, {{1, peer}});
      transport.send({heartbeat(1, 1)});
      ASSERT_TRUE(readable_within(acceptor.native_handle(), 5s)) << "the transport never dialed";
      acceptor.accept(accepted);
      ASSERT_TRUE(readable_within(accepted.native_handle(), 5s)) << "no request arrived";
      char request[512];
      ASSERT_GT(accepted.read_some(asio::buffer(request)), 0u);  // in flight: never answered
      asio::post(io, [&] {
        transport.stop();
        io.stop();
      });
      loop.join();
    }
  }
  boost::system::error_code ec;
  while (!ec) {  // the request's tail, if any, then the close
    ASSERT_TRUE(readable_within(accepted.native_handle(), 5s)) << "the connection is still open";
    char rest[512];
    (void)accepted.read_some(asio::buffer(rest), ec);
  }
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(PeerTransport, RoutesFollowMessageTypes) {
  using T = raft::MessageType;
  for (T t : {T::kPreVote, T::kPreVoteResp, T::kVote, T::kVoteResp}) {
    EXPECT_EQ(route_of(t), PeerRoute::kVote);
  }
  EXPECT_EQ(route_of(T::kSnapshot), PeerRoute::kSnapshot);
  for (T t : {T::kAppend, T::kAppendResp, T::kHeartbeat, T::kHeartbeatResp, T::kSnapshotResp,
              T::kTimeoutNow, T::kReadIndex, T::kReadIndexResp}) {
    EXPECT_EQ(route_of(t), PeerRoute::kAppend);
  }
}

}  // namespace
}  // namespace stress_node
