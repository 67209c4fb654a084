// Issue 14 "Peer authentication (always on)", tried as an attacker on the same network would:
// forged peer frames without the cluster secret (no MAC, or a MAC under another secret) against
// a real 3-node cluster are refused with 401 before decoding, counted in
// raft_peer_frames_rejected_total{reason}, change nothing, and the cluster keeps serving with
// every acknowledged write present on every node. Admin routes need the admin token.
#include "peer_auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>

#include "cluster_harness.h"
#include "peer_codec.h"
#include "peer_transport.h"

namespace integration {
namespace {

// The key of a cluster secret the attacker made up: a MAC the cluster must refuse.
stress_node::PeerKey attacker_key() {
  const std::string hex = random_hex(32);
  std::string secret;
  for (size_t i = 0; i < hex.size(); i += 2) {
    secret.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  std::string error;
  auto key = stress_node::PeerKey::derive(secret, &error);
  if (!key) throw std::runtime_error(error);
  return *key;
}

stress_node::PeerKey cluster_key(const Cluster& cluster) {
  std::string error;
  auto key = stress_node::PeerKey::from_file(cluster.cluster_secret_path(), &error);
  if (!key) throw std::runtime_error(error);
  return *key;
}

// POSTs `message` as a one-message frame to node `to` on `path`, signed with `key` (null: no
// X-Raft-Mac), its X-Raft-From/To naming the message's parties.
HttpResult send_frame(const Cluster& cluster, size_t to, std::string_view path,
                      const raft::Message& message, const stress_node::PeerKey* key) {
  const std::string body = stress_node::encode_batch({message});
  Headers headers = stress_node::frame_headers(key, path, message.from, message.to, body);
  headers.emplace_back("Content-Type", std::string(stress_node::kPeerContentType));
  return cluster.request(to, "POST", path, body, headers);
}

double rejected(const Cluster& cluster, size_t node, const std::string& reason) {
  return cluster.metric(node, "raft_peer_frames_rejected_total{reason=\"" + reason + "\"}")
      .value_or(0);
}

uint64_t status_u64(const Cluster& cluster, size_t node, const char* field) {
  const auto s = cluster.state(node);
  return s ? s->raw.value(field, uint64_t{0}) : 0;
}

// Every acknowledged write is on every node, and the nodes agree.
void expect_nothing_lost(Cluster& cluster, const std::map<std::string, std::string>& acked) {
  ASSERT_TRUE(cluster.wait_for_leader(20s));
  const HttpResult after = cluster.create_retrying("after-the-attack", "v");
  EXPECT_TRUE(after.ok()) << after.describe();
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) expect_all_present(cluster, i, acked);
}

// The attack of the issue: with both followers gone, forged AppendResp{from=follower,
// index=leader_last} frames would complete the write's quorum, so the leader would acknowledge a
// write only it holds. Without the secret they are refused and the write is not acknowledged.
TEST(PeerAuthAdversary, ForgedAppendRespWithoutSecretDoesNotCompleteAQuorum) {
  ClusterOptions options;
  // Slow elections (2-4 s) so that the leader with dead followers does not step down (CheckQuorum)
  // before the write's commit timeout ends it.
  options.tick_ms = 50;
  options.election_ticks = 40;
  options.commit_timeout_ms = 1500;
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader(20s);
  ASSERT_TRUE(leader);
  const CreatedBatch before = cluster.create_many(*leader, "before", 20);
  ASSERT_TRUE(before.failures.empty()) << before.failures.front();
  const std::vector<size_t> followers = cluster.followers_of(*leader);
  ASSERT_EQ(followers.size(), 2u);
  for (size_t f : followers) cluster.kill(f);

  const uint64_t last_before = status_u64(cluster, *leader, "last_index");
  const uint64_t term = status_u64(cluster, *leader, "term");
  std::atomic<bool> stop{false};
  std::atomic<bool> answered{false};
  HttpResult write;
  Workers workers(stop);
  workers.spawn([&] {
    write = cluster.create(*leader, "forged-quorum", "only-the-leader-holds-this", {}, 10s);
    answered = true;
  });
  // The write is in the leader's log once its last index moves.
  ASSERT_TRUE(wait_until(
      [&] { return status_u64(cluster, *leader, "last_index") > last_before || answered; }, 5s));
  const uint64_t last = status_u64(cluster, *leader, "last_index");
  const stress_node::PeerKey wrong_key = attacker_key();
  int forged = 0;
  int not_refused = 0;
  std::string last_not_refused;
  while (!answered && forged < 400) {
    for (size_t f : followers) {
      raft::Message m;
      m.type = raft::MessageType::kAppendResp;
      m.from = f;
      m.to = *leader;
      m.term = term;
      m.index = last;
      for (const stress_node::PeerKey* key :
           {static_cast<const stress_node::PeerKey*>(nullptr), &wrong_key}) {
        const HttpResult r = send_frame(cluster, *leader, stress_node::kRaftAppendPath, m, key);
        if (r.status != 401) last_not_refused = r.describe();
        not_refused += r.status != 401 ? 1 : 0;
        ++forged;
      }
    }
  }
  workers.join();
  EXPECT_EQ(not_refused, 0) << "of " << forged << " forged frames; the last: " << last_not_refused;
  EXPECT_FALSE(write.ok()) << "a write acknowledged on forged AppendResp frames: "
                           << write.describe();
  EXPECT_GE(rejected(cluster, *leader, "missing_mac") + rejected(cluster, *leader, "bad_mac"),
            forged);

  for (size_t f : followers) cluster.restart(f);
  expect_nothing_lost(cluster, before.acked);
}

// Each forged message class of the issue, to a follower (Append, TimeoutNow, Snapshot,
// ReadIndexResp) or the leader (AppendResp), with no MAC and with a MAC under another secret.
TEST(PeerAuthAdversary, ForgedFramesWithoutSecretAreRejectedCountedAndChangeNothing) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const CreatedBatch before = cluster.create_many(*leader, "before", 20);
  ASSERT_TRUE(before.failures.empty()) << before.failures.front();
  ASSERT_TRUE(cluster.wait_converged());
  const size_t victim = cluster.followers_of(*leader).front();
  const auto victim_state = cluster.state(victim);
  ASSERT_TRUE(victim_state);
  const uint64_t term = victim_state->term;
  const uint64_t last = victim_state->raw.value("last_index", uint64_t{0});

  const auto from_leader = [&](raft::MessageType type) {
    raft::Message m;
    m.type = type;
    m.from = *leader;
    m.to = victim;
    m.term = term;
    return m;
  };
  raft::Message append = from_leader(raft::MessageType::kAppend);
  append.index = last;
  append.log_term = term;
  append.commit = last + 1;
  append.entries = {{term, last + 1, raft::EntryType::kNormal, raft::Payload(std::string("evil"))}};
  raft::Message snapshot = from_leader(raft::MessageType::kSnapshot);
  snapshot.snapshot = {last + 1000, term, raft::ConfState{{victim}}, 4, 0};
  snapshot.snapshot_data = raft::Payload(std::string("evil"));
  snapshot.snapshot_last = true;
  raft::Message read_resp = from_leader(raft::MessageType::kReadIndexResp);
  read_resp.index = last;
  read_resp.context = 1;  // read ids count up from 1
  struct Forgery {
    const char* name;
    raft::Message message;
    size_t target;
  };
  raft::Message append_resp;
  append_resp.type = raft::MessageType::kAppendResp;
  append_resp.from = victim;
  append_resp.to = *leader;
  append_resp.term = term;
  append_resp.index = last + 1000;
  const std::vector<Forgery> forgeries = {
      {"Append", append, victim},
      {"TimeoutNow", from_leader(raft::MessageType::kTimeoutNow), victim},
      {"Snapshot", snapshot, victim},
      {"ReadIndexResp", read_resp, victim},
      {"AppendResp", append_resp, *leader},
  };
  const stress_node::PeerKey wrong_key = attacker_key();
  for (const Forgery& forgery : forgeries) {
    const std::string path(stress_node::path_of(stress_node::route_of(forgery.message.type)));
    const HttpResult unsigned_frame =
        send_frame(cluster, forgery.target, path, forgery.message, nullptr);
    EXPECT_EQ(unsigned_frame.status, 401) << forgery.name << ": " << unsigned_frame.describe();
    EXPECT_EQ(unsigned_frame.json().value("error", ""), "missing_mac") << forgery.name;
    const HttpResult wrongly_signed =
        send_frame(cluster, forgery.target, path, forgery.message, &wrong_key);
    EXPECT_EQ(wrongly_signed.status, 401) << forgery.name << ": " << wrongly_signed.describe();
    EXPECT_EQ(wrongly_signed.json().value("error", ""), "bad_mac") << forgery.name;
    expect_error_body(wrongly_signed);
  }
  EXPECT_EQ(rejected(cluster, victim, "missing_mac"), 4);
  EXPECT_EQ(rejected(cluster, victim, "bad_mac"), 4);
  EXPECT_EQ(rejected(cluster, *leader, "missing_mac"), 1);
  EXPECT_EQ(rejected(cluster, *leader, "bad_mac"), 1);
  // Nothing reached the victim's log or state: no forged entry or snapshot.
  EXPECT_LT(status_u64(cluster, victim, "snapshot_index"), last + 1000);

  // Control: the same kind of frame signed with the cluster's own secret gets through the
  // boundary, so the 401s above are the MAC's doing and not a malformed frame's.
  const stress_node::PeerKey key = cluster_key(cluster);
  raft::Message heartbeat_resp;
  heartbeat_resp.type = raft::MessageType::kHeartbeatResp;
  heartbeat_resp.from = victim;
  heartbeat_resp.to = *leader;
  heartbeat_resp.term = term;
  const HttpResult genuine =
      send_frame(cluster, *leader, stress_node::kRaftAppendPath, heartbeat_resp, &key);
  EXPECT_EQ(genuine.status, 204) << genuine.describe();
  // A genuine frame replayed to another route is refused too.
  const std::string body = stress_node::encode_batch({heartbeat_resp});
  Headers headers =
      stress_node::frame_headers(&key, stress_node::kRaftAppendPath, victim, *leader, body);
  const HttpResult replayed =
      cluster.request(*leader, "POST", std::string(stress_node::kRaftVotePath), body, headers);
  EXPECT_EQ(replayed.status, 401) << replayed.describe();

  expect_nothing_lost(cluster, before.acked);
}

TEST(PeerAuthAdversary, AdminRoutesWithoutTheTokenAre401) {
  ClusterOptions options;
  options.extra_args = {"--debug-endpoints"};
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const std::string resync =
      "/_raft/force-resync?target=" + cluster.address(cluster.followers_of(*leader).front());
  const std::vector<Headers> refused = {
      {},
      {{"Authorization", "Bearer " + random_hex(32)}},
      {{"Authorization", "Bearer " + cluster.admin_token().substr(1)}},
      {{"Authorization", cluster.admin_token()}},
      {{"Authorization", "Basic " + cluster.admin_token()}},
  };
  for (const Headers& headers : refused) {
    const std::string shown = headers.empty() ? "(none)" : headers.front().second.substr(0, 12);
    for (const std::string& target : {resync, std::string("/_debug/hang?loop=io&ms=2000")}) {
      const HttpResult r = cluster.request(*leader, "POST", target, "", headers);
      EXPECT_EQ(r.status, 401) << target << " with " << shown << ": " << r.describe();
      EXPECT_EQ(r.json().value("error", ""), "unauthorized") << target;
      EXPECT_TRUE(r.header("WWW-Authenticate").starts_with("Bearer")) << target;
    }
  }
  // The node never hung: it answers at once.
  EXPECT_EQ(cluster.request(*leader, "GET", "/status", "", {}, 1s).status, 200);
  // With the token both work.
  const HttpResult ok = cluster.request(*leader, "POST", resync, "", cluster.admin_headers(), 30s);
  EXPECT_EQ(ok.status, 202) << ok.describe();
  const HttpResult hang =
      cluster.request(*leader, "POST", "/_debug/hang?loop=raft&ms=1", "", cluster.admin_headers());
  EXPECT_EQ(hang.status, 202) << hang.describe();
}

TEST(PeerAuthAdversary, AdminRoutesAreDisabledWithoutATokenFile) {
  ClusterOptions options;
  options.nodes = 1;
  options.admin_token = false;
  options.extra_args = {"--debug-endpoints"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.wait_for_leader());
  EXPECT_EQ(cluster.state(0)->raw.value("admin_api", ""), "disabled");
  for (const char* target : {"/_raft/force-resync?target=127.0.0.1:1", "/_debug/hang?ms=1"}) {
    const HttpResult r =
        cluster.request(0, "POST", target, "", {{"Authorization", "Bearer " + random_hex(32)}});
    EXPECT_EQ(r.status, 403) << target << ": " << r.describe();
    EXPECT_EQ(r.json().value("error", ""), "admin_disabled") << target;
  }
}

// Two clusters with different secrets: a node pointed at the other cluster's members is refused
// by every one of them, counted, and both clusters keep working.
TEST(PeerAuthAdversary, NodesWithDifferentSecretsRefuseEachOther) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const stress_node::PeerKey other = attacker_key();
  raft::Message vote;
  vote.type = raft::MessageType::kVote;
  vote.from = cluster.followers_of(*leader).front();
  vote.to = *leader;
  vote.term = status_u64(cluster, *leader, "term") + 100;
  vote.index = 1u << 30;
  vote.log_term = vote.term;
  const HttpResult r = send_frame(cluster, *leader, stress_node::kRaftVotePath, vote, &other);
  EXPECT_EQ(r.status, 401) << r.describe();
  EXPECT_EQ(cluster.leader_index(), leader) << "a forged vote request deposed the leader";
  EXPECT_EQ(rejected(cluster, *leader, "bad_mac"), 1);
}

}  // namespace
}  // namespace integration
