// Issue 15, the streaming peer transport against real nodes: clusters commit over either
// transport (--peer-transport stream|http), and an attacker on the network who opens a stream
// to a node (a genuine upgrade: it recorded or holds the secret's MAC of one) gets every
// forged, replayed, reordered, truncated or oversized frame refused before decoding, counted in
// raft_peer_frames_rejected_total{reason}, its connection closed, and the cluster keeps serving.
#include "peer_stream.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "cluster_harness.h"
#include "peer_auth.h"
#include "peer_codec.h"

namespace integration {
namespace {

stress_node::PeerKey key_from_file(const std::filesystem::path& path) {
  std::string error;
  auto key = stress_node::PeerKey::from_file(path, &error);
  if (!key) throw std::runtime_error(error);
  return *key;
}

stress_node::PeerKey attacker_key() {
  std::string error;
  auto key = stress_node::PeerKey::derive(random_hex(32), &error);
  if (!key) throw std::runtime_error(error);
  return *key;
}

// A blocking client connection to 127.0.0.1:port with deadlines (poll), closed on destruction.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to port " + std::to_string(port));
    }
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False when the peer closed the connection (EPIPE/ECONNRESET).
  bool write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // Reads until `until` appears in what was read, or EOF, or the deadline.
  std::string read_until(std::string_view until, std::chrono::milliseconds timeout) {
    std::string got;
    const auto deadline = Clock::now() + timeout;
    while (got.find(until) == std::string::npos && Clock::now() < deadline) {
      if (!readable(deadline)) break;
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      got.append(chunk, static_cast<size_t>(n));
    }
    return got;
  }
  // True once the server has closed the connection (EOF or reset) within `timeout`.
  bool closed_by_server(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!readable(deadline)) return false;
      char chunk[256];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  bool readable(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) > 0;
  }
  int fd_;
};

// An upgraded stream to node `to` as member `from` (the upgrade signed with `key`, null: none).
struct OpenedStream {
  std::unique_ptr<RawConnection> connection;
  int status = 0;
  std::string connection_id;  // when 101
};

OpenedStream open_stream(uint16_t port, uint64_t from, uint64_t to, const stress_node::PeerKey* key,
                         std::string nonce = stress_node::new_stream_nonce()) {
  OpenedStream out;
  out.connection = std::make_unique<RawConnection>(port);
  std::string request =
      "GET /_raft/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
      "Upgrade: raftkv-peer-stream/1\r\nX-Raft-Stream-Nonce: " +
      nonce + "\r\n";
  for (const auto& [name, value] :
       stress_node::frame_headers(key, stress_node::kRaftStreamPath, from, to, nonce)) {
    request += name + ": " + value + "\r\n";
  }
  request += "\r\n";
  EXPECT_TRUE(out.connection->write(request));
  const std::string answer = out.connection->read_until("\r\n\r\n", 5s);
  if (answer.size() > 12) out.status = std::stoi(answer.substr(9, 3));
  const std::string header = "X-Raft-Stream-Nonce: ";
  const size_t at = answer.find(header);
  if (out.status == 101 && at != std::string::npos) {
    out.connection_id =
        stress_node::stream_connection_id(nonce, answer.substr(at + header.size(), 32));
  }
  return out;
}

// A harmless genuine batch from `from` to `to`: an AppendResp of term 0, which Raft ignores as
// stale.
std::string harmless_batch(uint64_t from, uint64_t to) {
  raft::Message m;
  m.type = raft::MessageType::kAppendResp;
  m.from = from;
  m.to = to;
  return stress_node::encode_batch({m});
}

double rejected(const Cluster& cluster, size_t node, const std::string& reason) {
  return cluster.metric(node, "raft_peer_frames_rejected_total{reason=\"" + reason + "\"}")
      .value_or(0);
}

// Waits until node i has counted `count` rejections for `reason`.
bool counted(const Cluster& cluster, size_t node, const std::string& reason, double count) {
  return wait_until([&] { return rejected(cluster, node, reason) >= count; }, 5s);
}

class PeerStreamAdversary : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.wait_for_leader(20s));
    const auto leader = cluster_.leader_index();
    ASSERT_TRUE(leader);
    const auto followers = cluster_.followers_of(*leader);
    ASSERT_EQ(followers.size(), 2u);
    // The attacker poses as one follower to the other: no real traffic flows on that direction.
    target_ = followers[0];
    posing_as_ = followers[1];
  }

  OpenedStream open(const stress_node::PeerKey* key) {
    return open_stream(cluster_.port(target_), posing_as_, target_, key);
  }
  std::string frame(const stress_node::PeerKey* key, const std::string& connection_id,
                    uint64_t skip, const std::string& body) {
    stress_node::StreamFrameWriter writer(key, connection_id, posing_as_, target_);
    for (uint64_t i = 0; i < skip; ++i) (void)writer.next_prefix("");
    return writer.next_prefix(body) + body;
  }

  Cluster cluster_;
  const stress_node::PeerKey key_ = key_from_file(cluster_.cluster_secret_path());
  size_t target_ = 0;
  size_t posing_as_ = 0;
};

TEST_F(PeerStreamAdversary, AnUpgradeWithoutAValidMacOrNonceIsRefused) {
  EXPECT_EQ(open(nullptr).status, 401);
  EXPECT_TRUE(counted(cluster_, target_, "missing_mac", 1));
  const stress_node::PeerKey wrong = attacker_key();
  EXPECT_EQ(open(&wrong).status, 401);
  EXPECT_TRUE(counted(cluster_, target_, "bad_mac", 1));
  EXPECT_EQ(open_stream(cluster_.port(target_), posing_as_, target_, &key_, "not-a-nonce").status,
            400);
  EXPECT_EQ(open(&key_).status, 101);
}

TEST_F(PeerStreamAdversary, ForgedReplayedReorderedTruncatedAndOversizedFramesAreRefused) {
  const std::string body = harmless_batch(posing_as_, target_);
  const stress_node::PeerKey wrong = attacker_key();
  double bad_mac = rejected(cluster_, target_, "bad_mac");
  {  // Forged: a MAC under another secret.
    OpenedStream s = open(&key_);
    ASSERT_EQ(s.status, 101);
    s.connection->write(frame(&wrong, s.connection_id, 0, body));
    EXPECT_TRUE(s.connection->closed_by_server(5s));
    EXPECT_TRUE(counted(cluster_, target_, "bad_mac", ++bad_mac));
  }
  {  // Replayed: a genuine frame sent twice on its connection.
    OpenedStream s = open(&key_);
    ASSERT_EQ(s.status, 101);
    const std::string genuine = frame(&key_, s.connection_id, 0, body);
    s.connection->write(genuine);
    s.connection->write(genuine);
    EXPECT_TRUE(s.connection->closed_by_server(5s));
    EXPECT_TRUE(counted(cluster_, target_, "bad_mac", ++bad_mac));
  }
  {  // Reordered: the second frame first.
    OpenedStream s = open(&key_);
    ASSERT_EQ(s.status, 101);
    s.connection->write(frame(&key_, s.connection_id, 1, body));
    EXPECT_TRUE(s.connection->closed_by_server(5s));
    EXPECT_TRUE(counted(cluster_, target_, "bad_mac", ++bad_mac));
  }
  {  // Moved: a genuine frame of another connection.
    OpenedStream other = open(&key_);
    OpenedStream s = open(&key_);
    ASSERT_EQ(s.status, 101);
    s.connection->write(frame(&key_, other.connection_id, 0, body));
    EXPECT_TRUE(s.connection->closed_by_server(5s));
    EXPECT_TRUE(counted(cluster_, target_, "bad_mac", ++bad_mac));
  }
  {  // Truncated: the connection ends inside a frame.
    OpenedStream s = open(&key_);
    ASSERT_EQ(s.status, 101);
    const std::string genuine = frame(&key_, s.connection_id, 0, body);
    s.connection->write(genuine.substr(0, genuine.size() - 3));
    s.connection->shutdown_write();
    EXPECT_TRUE(s.connection->closed_by_server(5s));
    EXPECT_TRUE(counted(cluster_, target_, "truncated_frame", 1));
  }
  {  // Oversized: a length prefix past the peer body limit, refused before reading it.
    OpenedStream s = open(&key_);
    ASSERT_EQ(s.status, 101);
    s.connection->write(std::string("\xff\xff\xff\xff", 4));
    EXPECT_TRUE(s.connection->closed_by_server(5s));
    EXPECT_TRUE(counted(cluster_, target_, "frame_too_large", 1));
  }
  // Nothing of it reached the core, and the cluster serves on.
  EXPECT_EQ(rejected(cluster_, target_, "decode"), 0);
  const HttpResult after = cluster_.create_retrying("after-the-attack", "v");
  EXPECT_TRUE(after.ok()) << after.describe();
  EXPECT_TRUE(cluster_.wait_converged());
}

// Both transports commit; the stream carries the appends (no /_raft/append request at all),
// the HTTP transport never opens a stream.
void expect_commits_over(const std::string& transport) {
  ClusterOptions options;
  options.extra_args = {"--peer-transport", transport};
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  const CreatedBatch batch = cluster.create_many(*leader, transport, 50);
  EXPECT_EQ(batch.acked.size(), 50u) << (batch.failures.empty() ? "" : batch.failures.front());
  ASSERT_TRUE(cluster.wait_converged());
  double streams = 0;
  double appends = 0;
  for (size_t i = 0; i < cluster.size(); ++i) {
    streams +=
        cluster.metric(i, "http_requests_total{code=\"101\",route=\"/_raft/stream\"}").value_or(0);
    appends +=
        cluster.metric(i, "http_requests_total{code=\"204\",route=\"/_raft/append\"}").value_or(0);
  }
  if (transport == "stream") {
    EXPECT_GE(streams, 2) << "the leader's streams to both followers";
    EXPECT_EQ(appends, 0);
  } else {
    EXPECT_EQ(streams, 0);
    EXPECT_GT(appends, 0);
  }
}

TEST(PeerStreamTransport, AClusterCommitsOverTheStream) { expect_commits_over("stream"); }
TEST(PeerStreamTransport, AClusterCommitsOverHttpRequests) { expect_commits_over("http"); }

TEST(PeerStreamTransport, AnUnknownTransportIsAUsageError) {
  const RunResult run = run_stress_node({"--node-id", "0", "--port", "1", "--peers", "2",
                                         "--insecure-peers", "--peer-transport", "carrier-pigeon"});
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.status->exited);
  EXPECT_NE(run.status->code, 0);
  EXPECT_NE(run.output.find("--peer-transport"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace integration
