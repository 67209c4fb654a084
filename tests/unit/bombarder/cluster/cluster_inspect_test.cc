// cluster_inspect.h: hash agreement across replicas and the sync-status follower lines.
#include "bombarder/cluster/cluster_inspect.h"

#include <gtest/gtest.h>

namespace bombarder {
namespace {

ClusterView::Node reachable(uint16_t port, uint64_t applied, std::string hash,
                            uint64_t hash_index) {
  StatusResponse s;
  s.node_id = port;
  s.role = "follower";
  s.applied_index = applied;
  s.commit_index = applied;
  s.state_hash = std::move(hash);
  s.state_hash_index = hash_index;
  return {{"127.0.0.1", port}, s, {}};
}

ClusterView::Node unreachable(uint16_t port) {
  return {{"127.0.0.1", port}, std::nullopt, "no answer: Connection refused"};
}

TEST(CompareHashes, EqualHashesAtTheSameAppliedIndexAgree) {
  ClusterView view;
  view.nodes = {reachable(1, 150, "aa", 150), reachable(2, 150, "aa", 150), unreachable(3)};
  const HashAgreement agreement = compare_hashes(view);
  EXPECT_TRUE(agreement.agree());
  EXPECT_EQ(agreement.compared_at, std::vector<uint64_t>{150});
}

TEST(CompareHashes, DifferentHashesAtTheSameAppliedIndexAreReportedWithTheirHolders) {
  ClusterView view;
  view.nodes = {reachable(1, 150, "aa", 150), reachable(2, 150, "bb", 150),
                reachable(3, 150, "aa", 150)};
  const HashAgreement agreement = compare_hashes(view);
  ASSERT_FALSE(agreement.agree());
  ASSERT_EQ(agreement.disagreements.size(), 1u);
  EXPECT_EQ(agreement.disagreements[0],
            "applied index 150: 127.0.0.1:1 aa 127.0.0.1:3 aa 127.0.0.1:2 bb");
}

TEST(CompareHashes, NodesAtDifferentAppliedIndexesAreNotCompared) {
  ClusterView view;
  view.nodes = {reachable(1, 150, "aa", 150), reachable(2, 151, "bb", 151)};
  const HashAgreement agreement = compare_hashes(view);
  EXPECT_TRUE(agreement.agree());
  EXPECT_TRUE(agreement.compared_at.empty());
}

TEST(CompareHashes, AHashThatDescribesAnOlderIndexIsLeftOut) {
  ClusterView view;
  // Node 2's hash is still the one of index 149: comparing it would report a false difference.
  view.nodes = {reachable(1, 150, "aa", 150), reachable(2, 150, "old", 149),
                reachable(3, 150, "aa", 150)};
  const HashAgreement agreement = compare_hashes(view);
  EXPECT_TRUE(agreement.agree());
  EXPECT_EQ(agreement.compared_at, std::vector<uint64_t>{150});
}

Json follower_json(const std::string& address, const std::string& state, uint64_t match,
                   uint64_t lag) {
  return {{"id", 1},
          {"address", address},
          {"match_index", match},
          {"next_index", match + 1},
          {"lag", lag},
          {"state", state},
          {"progress", "replicate"},
          {"last_contact_ms", 12},
          {"reachable", true},
          {"inflight_appends", 0},
          {"failures", 0},
          {"messages_dropped", 0}};
}

// `cluster status` exits 1 unless assess_health finds no problem (cluster_inspect_command.cc).
TEST(ClusterHealth, EveryNodeAnsweringALeaderAndAgreeingHashesIsHealthy) {
  ClusterView view;
  view.nodes = {reachable(1, 150, "aa", 150), reachable(2, 150, "aa", 150)};
  view.leader = 0;
  view.leader_address = "127.0.0.1:1";
  const ClusterHealth health = assess_health(view);
  EXPECT_TRUE(health.healthy());
  EXPECT_EQ(health.unreachable, 0u);
}

TEST(ClusterHealth, AnUnreachableNodeNoLeaderAndDifferingHashesAreEachNamed) {
  ClusterView view;
  view.nodes = {reachable(1, 150, "aa", 150), reachable(2, 150, "bb", 150), unreachable(3)};
  const ClusterHealth health = assess_health(view);
  EXPECT_FALSE(health.healthy());
  EXPECT_EQ(health.unreachable, 1u);
  ASSERT_EQ(health.problems.size(), 3u);
  EXPECT_EQ(health.problems[0], "1 of 3 nodes unreachable");
  EXPECT_EQ(health.problems[1], "no leader");
  EXPECT_EQ(health.problems[2],
            "state hashes differ at applied index 150: 127.0.0.1:1 aa 127.0.0.1:2 bb");
}

TEST(ClusterHealth, ALeaderOutsideTheAskedNodesIsAProblem) {
  ClusterView view;
  view.nodes = {reachable(1, 150, "aa", 150)};
  view.leader_address = "127.0.0.1:9";
  const ClusterHealth health = assess_health(view);
  EXPECT_EQ(health.problems,
            std::vector<std::string>{"the leader 127.0.0.1:9 is not among these nodes"});
}

// `cluster sync-status` exits 1 when this list is not empty.
TEST(SyncStatus, ListsTheFollowersThatAreNotHealthy) {
  SyncStatus sync;
  for (const char* state : {"healthy", "lagging", "snapshotting"}) {
    FollowerSync f;
    f.address = std::string("127.0.0.1:") + std::to_string(8081 + sync.followers.size());
    f.state = state;
    sync.followers.push_back(f);
  }
  EXPECT_EQ(sync.unhealthy(), (std::vector<std::string>{"127.0.0.1:8082 (lagging)",
                                                        "127.0.0.1:8083 (snapshotting)"}));
  sync.followers.resize(1);
  EXPECT_TRUE(sync.unhealthy().empty());
}

TEST(FollowerLine, StartsLikeTheReferenceExample) {
  // The reference README's example output, which our lines must start with.
  const FollowerSync healthy =
      FollowerSync::from_json(follower_json("127.0.0.1:8081", "healthy", 150, 0));
  const FollowerSync desynced =
      FollowerSync::from_json(follower_json("127.0.0.1:8082", "desynced", 50, 100));
  const std::string a = format_follower_line(healthy, 8, 3);
  const std::string b = format_follower_line(desynced, 8, 3);
  EXPECT_EQ(a.rfind("127.0.0.1:8081 (healthy)    - Last replicated: 150 | Lag: 0 |", 0), 0u) << a;
  EXPECT_EQ(b.rfind("127.0.0.1:8082 (desynced)   - Last replicated: 50  | Lag: 100 |", 0), 0u) << b;
  EXPECT_NE(a.find("Progress: replicate | Contact: 12 ms ago | Failures: 0"), std::string::npos)
      << a;
}

TEST(FollowerLine, ShowsSnapshotTransferAndSilence) {
  Json entry = follower_json("127.0.0.1:8082", "snapshotting", 10, 90);
  entry["progress"] = "snapshot";
  entry["last_contact_ms"] = nullptr;
  entry["reachable"] = false;
  entry["failures"] = 7;
  entry["snapshot"] = {{"index", 100}, {"offset_bytes", 2048}};
  const FollowerSync f = FollowerSync::from_json(entry);
  EXPECT_EQ(f.snapshot_index, 100u);
  EXPECT_FALSE(f.last_contact_ms.has_value());
  const std::string line = format_follower_line(f, 12, 2);
  EXPECT_EQ(line,
            "127.0.0.1:8082 (snapshotting) - Last replicated: 10 | Lag: 90 | Progress: snapshot | "
            "Contact: never | Failures: 7 | unreachable | Snapshot: index 100, 2.0 KiB sent");
}

TEST(FollowerSyncFromJson, MissingFieldThrows) {
  Json entry = follower_json("127.0.0.1:8082", "healthy", 10, 0);
  entry.erase("match_index");
  EXPECT_THROW((void)FollowerSync::from_json(entry), Json::exception);
}

}  // namespace
}  // namespace bombarder
