// The operational endpoints of design.md §4: /metrics, /status, /_raft/health,
// /_raft/sync-status, /_raft/resync_stats and /_raft/force-resync, on a live 3-node cluster.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.h"

namespace integration {
namespace {

void expect_unsigned(const Json& doc, const char* name) {
  EXPECT_TRUE(doc.contains(name) && doc[name].is_number_unsigned())
      << "'" << name << "' missing or not a count in " << doc.dump();
}

TEST(Observability, MetricsArePrometheusTextWithRaftFigures) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  ASSERT_EQ(cluster.create(*leader, "m", "1").status, 201);
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) {
    const HttpResult r = cluster.request(i, "GET", "/metrics");
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.header("Content-Type").starts_with("text/plain")) << r.header("Content-Type");
    for (const char* line :
         {"# TYPE raft_term gauge", "# HELP raft_term ", "# TYPE raft_commit_index gauge",
          "# TYPE raft_applied_index gauge", "# TYPE raft_leader_changes_total counter",
          "# TYPE raft_proposals_total counter", "# TYPE http_requests_total counter"}) {
      EXPECT_NE(r.body.find(line), std::string::npos) << "node " << i << " lacks '" << line << "'";
    }
    const auto s = cluster.state(i);
    ASSERT_TRUE(s);
    EXPECT_EQ(cluster.metric(i, "raft_term"), static_cast<double>(s->term)) << "node " << i;
    EXPECT_EQ(cluster.metric(i, "raft_is_leader"), i == *leader ? 1.0 : 0.0) << "node " << i;
    EXPECT_GE(cluster.metric(i, "raft_applied_index").value_or(0), 2.0) << "node " << i;
    EXPECT_EQ(cluster.metric(i, "kv_entries"), 1.0) << "node " << i;
    // Every node persisted at least its first entries: the fsync histogram has observations.
    EXPECT_NE(r.body.find("# TYPE raft_log_persist_duration_seconds histogram"), std::string::npos);
    EXPECT_GE(cluster.metric(i, "raft_log_persist_duration_seconds_count").value_or(0), 1.0)
        << "node " << i;
  }
  // The leader counted the proposal and the client request by route and code.
  EXPECT_GE(cluster.metric(*leader, "raft_proposals_total").value_or(0), 1.0);
  const std::string body = cluster.request(*leader, "GET", "/metrics").body;
  EXPECT_NE(body.find("http_requests_total{"), std::string::npos);
  EXPECT_NE(body.find("route=\"/api/kv\""), std::string::npos);
}

TEST(Observability, StatusAndHealthDescribeEachNode) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  for (size_t i = 0; i < cluster.size(); ++i) {
    const HttpResult r = cluster.request(i, "GET", "/status");
    ASSERT_EQ(r.status, 200) << r.describe();
    const Json status = r.json();
    EXPECT_EQ(status.value("node_id", uint64_t{99}), i);
    EXPECT_EQ(status.value("role", ""), i == *leader ? "leader" : "follower");
    EXPECT_EQ(status.value("leader_id", uint64_t{99}), *leader);
    EXPECT_EQ(status.value("leader", ""), cluster.address(*leader));
    for (const char* name : {"term", "commit_index", "applied_index", "entry_count", "uptime_s"}) {
      expect_unsigned(status, name);
    }
    // A string once the node's first hash is computed (null until then, a moment after start).
    EXPECT_TRUE(status.contains("state_hash") &&
                (status["state_hash"].is_string() || status["state_hash"].is_null()));
    EXPECT_TRUE(status.contains("version") && status["version"].is_string());

    const HttpResult h = cluster.request(i, "GET", "/_raft/health");
    ASSERT_EQ(h.status, 200) << h.describe();
    const Json health = h.json();
    EXPECT_EQ(health.value("role", ""), status.value("role", "x"));
    EXPECT_EQ(health.value("leader_id", uint64_t{99}), *leader);
    for (const char* name : {"term", "commit_index", "applied_index"}) {
      expect_unsigned(health, name);
    }
  }
}

TEST(Observability, SyncStatusOnTheLeaderListsFollowersAndFollowersPointToIt) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const CreatedBatch batch = cluster.create_many(*leader, "sync", 20);
  ASSERT_TRUE(batch.failures.empty());
  ASSERT_TRUE(cluster.wait_converged());

  const HttpResult r = cluster.request(*leader, "GET", "/_raft/sync-status");
  ASSERT_EQ(r.status, 200) << r.describe();
  const Json sync = r.json();
  ASSERT_TRUE(sync.contains("followers") && sync["followers"].is_array()) << r.body;
  std::set<std::string> addresses;
  for (const Json& f : sync["followers"]) {
    addresses.insert(f.value("address", ""));
    for (const char* name : {"match_index", "lag"}) expect_unsigned(f, name);
    EXPECT_TRUE(std::set<std::string>({"healthy", "lagging", "desynced", "snapshotting"})
                    .contains(f.value("state", "")))
        << f.dump();
  }
  std::set<std::string> expected;
  for (size_t f : cluster.followers_of(*leader)) expected.insert(cluster.address(f));
  EXPECT_EQ(addresses, expected);
  // With no writes going on, every follower is caught up and healthy.
  EXPECT_TRUE(wait_until(
      [&] {
        const Json now = cluster.request(*leader, "GET", "/_raft/sync-status").json();
        for (const Json& f : now.value("followers", Json::array())) {
          if (f.value("state", "") != "healthy" || f.value("lag", uint64_t{1}) != 0) return false;
        }
        return true;
      },
      5s))
      << cluster.request(*leader, "GET", "/_raft/sync-status").body;

  for (size_t f : cluster.followers_of(*leader)) {
    const HttpResult answer = cluster.request(f, "GET", "/_raft/sync-status");
    EXPECT_EQ(answer.status, 503) << answer.describe();
    expect_error_body(answer);
    EXPECT_EQ(answer.json().value("leader", ""), cluster.address(*leader)) << answer.body;
  }
}

TEST(Observability, ForceResyncSendsAFullSnapshotToTheFollower) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const CreatedBatch batch = cluster.create_many(*leader, "resync", 50);
  ASSERT_TRUE(batch.failures.empty());
  ASSERT_TRUE(cluster.wait_converged());
  const size_t target = cluster.followers_of(*leader)[0];

  const HttpResult refused = cluster.request(
      target, "POST",
      "/_raft/force-resync?target=" + cluster.address(cluster.followers_of(*leader)[1]), "",
      cluster.admin_headers());
  EXPECT_EQ(refused.status, 503) << "a follower cannot resync anyone: " << refused.describe();

  const HttpResult r =
      cluster.request(*leader, "POST", "/_raft/force-resync?target=" + cluster.address(target), "",
                      cluster.admin_headers());
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(wait_until(
      [&] {
        const Json stats = cluster.request(*leader, "GET", "/_raft/resync_stats").json();
        return stats.value("snapshots_sent", uint64_t{0}) >= 1 &&
               stats.value("forced_resyncs", uint64_t{0}) >= 1;
      },
      10s))
      << cluster.request(*leader, "GET", "/_raft/resync_stats").body;
  // The transfer is forced: the follower installs it although it is up to date (its commit
  // index is at or past the snapshot's), keeping its log after the snapshot.
  EXPECT_TRUE(wait_until(
      [&] {
        return cluster.request(target, "GET", "/_raft/resync_stats")
                   .json()
                   .value("snapshots_received", uint64_t{0}) >= 1;
      },
      10s))
      << cluster.request(target, "GET", "/_raft/resync_stats").body;
  std::cout << "[resync] leader resync_stats "
            << cluster.request(*leader, "GET", "/_raft/resync_stats").body << "\n[resync] target "
            << cluster.request(target, "GET", "/_raft/resync_stats").body << std::endl;
  ASSERT_TRUE(cluster.wait_converged());
  expect_all_present(cluster, target, batch.acked);
  // And it keeps replicating normally afterwards.
  ASSERT_EQ(cluster.create(*leader, "after", "resync").status, 201);
  EXPECT_TRUE(cluster.wait_converged());
}

// Issue 13 bug 2: force-resync of an up-to-date follower on a store of some tens of MB. The
// snapshot is written off the raft thread, so the leader keeps sending heartbeats meanwhile:
// nobody starts an election (the term stays), and the follower reinstalls the snapshot.
TEST(Observability, ForceResyncOfABigStoreKeepsTheLeaderAndReinstallsAnUpToDateFollower) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  // ~40 MB of state, written by 8 clients: large enough that serializing it takes longer than
  // an election timeout here (200-400 ms).
  constexpr size_t kEntries = 2500;
  const std::string value(16 << 10, 'r');
  std::atomic<size_t> next{0};
  std::atomic<size_t> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      for (size_t n = next++; n < kEntries; n = next++) {
        if (cluster.create(*leader, "big-" + std::to_string(n), value).status != 201) ++failures;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  ASSERT_EQ(failures.load(), 0u);
  ASSERT_TRUE(cluster.wait_converged());
  const size_t target = cluster.followers_of(*leader)[0];
  const auto before = cluster.state(*leader);
  ASSERT_TRUE(before);

  const HttpResult r =
      cluster.request(*leader, "POST", "/_raft/force-resync?target=" + cluster.address(target), {},
                      cluster.admin_headers(), 30s);
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(wait_until(
      [&] {
        return cluster.request(target, "GET", "/_raft/resync_stats")
                   .json()
                   .value("snapshots_reinstalled", uint64_t{0}) >= 1;
      },
      30s))
      << cluster.request(target, "GET", "/_raft/resync_stats").body;
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) {
    const auto s = cluster.state(i);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->term, before->term) << "node " << i << ": an election happened during the resync";
    EXPECT_EQ(s->leader_id, before->leader_id) << "node " << i;
  }
  ASSERT_EQ(cluster.create(*leader, "after", "resync").status, 201);
  EXPECT_TRUE(cluster.wait_converged());
}

}  // namespace
}  // namespace integration
