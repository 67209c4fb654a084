// Replication through the public API on a healthy 3-node cluster, and a follower's recovery
// (the reference README's Scenarios 1 and 4; issue 3 "Proof").
#include <gtest/gtest.h>

#include <iostream>
#include <regex>

#include "cluster_harness.h"

namespace integration {
namespace {

// The full KVEntry of the reference README, as design.md §4 returns it.
void expect_full_entry(const Json& entry, std::string_view key, std::string_view value) {
  ASSERT_TRUE(entry.is_object()) << entry.dump();
  ASSERT_TRUE(entry.contains("id") && entry["id"].is_string()) << entry.dump();
  EXPECT_TRUE(is_uuid(entry["id"].get<std::string>())) << entry.dump();
  EXPECT_EQ(entry.value("key", ""), key);
  EXPECT_EQ(entry.value("value", ""), value);
  ASSERT_TRUE(entry.contains("seq") && entry["seq"].is_number_unsigned()) << entry.dump();
  EXPECT_GT(entry["seq"].get<uint64_t>(), 0u);
  ASSERT_TRUE(entry.contains("source_node") && entry["source_node"].is_number_unsigned())
      << entry.dump();
  ASSERT_TRUE(entry.contains("created_at") && entry["created_at"].is_string()) << entry.dump();
  static const std::regex kRfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  EXPECT_TRUE(std::regex_match(entry["created_at"].get<std::string>(), kRfc3339)) << entry.dump();
}

TEST(Scenario1, CreateOnLeaderReadOnFollowersThenUpdateAndDelete) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader) << "no leader elected";
  const std::vector<size_t> followers = cluster.followers_of(*leader);
  ASSERT_EQ(followers.size(), 2u);

  const HttpResult created = cluster.create(*leader, "test1", "hello");
  ASSERT_EQ(created.status, 201) << created.describe();
  const Json entry = created.json();
  expect_full_entry(entry, "test1", "hello");
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(entry["source_node"].get<uint64_t>(), *leader);
  const std::string id = entry["id"];

  // Default reads are linearizable: a follower answers with the entry at once.
  for (size_t f : followers) {
    const HttpResult r = cluster.get(f, id);
    ASSERT_EQ(r.status, 200) << "follower " << f << ": " << r.describe();
    EXPECT_EQ(r.json(), entry) << "follower " << f;
  }
  // Local reads see it once replication reached the follower.
  for (size_t f : followers) {
    EXPECT_TRUE(wait_until([&] { return cluster.get(f, id, true).status == 200; }, 5s))
        << "follower " << f << " never applied the entry";
    EXPECT_EQ(cluster.get(f, id, true).json(), entry);
  }
  // The list on every node (Scenario 1 step 3) and the key lookup.
  for (size_t i = 0; i < cluster.size(); ++i) {
    const HttpResult list = cluster.request(i, "GET", "/api/kv");
    ASSERT_EQ(list.status, 200) << list.describe();
    EXPECT_EQ(list.json(), Json::array({entry})) << "node " << i;
    EXPECT_EQ(list.header("X-Total-Count"), "1");
    const HttpResult by_key = cluster.request(i, "GET", "/api/kv?key=test1");
    ASSERT_EQ(by_key.status, 200) << by_key.describe();
    EXPECT_EQ(by_key.json(), Json::array({entry})) << "node " << i;
    const HttpResult no_key = cluster.request(i, "GET", "/api/kv?key=absent");
    ASSERT_EQ(no_key.status, 200) << no_key.describe();
    EXPECT_EQ(no_key.json(), Json::array());
  }

  const HttpResult updated =
      cluster.request(*leader, "PUT", "/api/kv/" + id, R"({"value":"world"})");
  ASSERT_EQ(updated.status, 200) << updated.describe();
  const Json after_update = updated.json();
  expect_full_entry(after_update, "test1", "world");
  EXPECT_EQ(after_update.value("id", ""), id);
  EXPECT_EQ(after_update["seq"], entry["seq"]) << "seq is the create's index";
  EXPECT_EQ(after_update["created_at"], entry["created_at"]);
  for (size_t f : followers) {
    const HttpResult r = cluster.get(f, id);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.json().value("value", ""), "world") << "follower " << f;
  }

  const HttpResult deleted = cluster.request(*leader, "DELETE", "/api/kv/" + id);
  EXPECT_EQ(deleted.status, 204) << deleted.describe();
  EXPECT_TRUE(deleted.body.empty());
  for (size_t i = 0; i < cluster.size(); ++i) {
    const HttpResult r = cluster.get(i, id);
    EXPECT_EQ(r.status, 404) << "node " << i << ": " << r.describe();
    expect_error_body(r);
  }
  const HttpResult again = cluster.request(*leader, "DELETE", "/api/kv/" + id);
  EXPECT_EQ(again.status, 404) << again.describe();
  EXPECT_TRUE(cluster.wait_converged());
}

TEST(Forwarding, WritesToFollowersAreForwardedToTheLeader) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const std::vector<size_t> followers = cluster.followers_of(*leader);

  const HttpResult created = cluster.create(followers[0], "forwarded", "v1");
  ASSERT_EQ(created.status, 201) << created.describe();
  const Json entry = created.json();
  expect_full_entry(entry, "forwarded", "v1");
  ASSERT_FALSE(HasFailure());
  const std::string id = entry["id"];
  for (size_t i = 0; i < cluster.size(); ++i) {
    const HttpResult r = cluster.get(i, id);
    ASSERT_EQ(r.status, 200) << "node " << i << ": " << r.describe();
    EXPECT_EQ(r.json(), entry);
  }

  // Updates and deletes through the other follower.
  const HttpResult updated =
      cluster.request(followers[1], "PUT", "/api/kv/" + id, R"({"value":"v2"})");
  ASSERT_EQ(updated.status, 200) << updated.describe();
  EXPECT_EQ(updated.json().value("value", ""), "v2");
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.get(i, id).json().value("value", ""), "v2") << "node " << i;
  }
  const HttpResult deleted = cluster.request(followers[1], "DELETE", "/api/kv/" + id);
  EXPECT_EQ(deleted.status, 204) << deleted.describe();
  for (size_t i = 0; i < cluster.size(); ++i) EXPECT_EQ(cluster.get(i, id).status, 404);
  EXPECT_TRUE(cluster.wait_converged());
}

TEST(Idempotency, RetriedPostWithTheSameKeyCreatesOneEntry) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const Headers key_a = {{"Idempotency-Key", "retry-a"}};

  const HttpResult first = cluster.create(*leader, "idem", "one", key_a);
  ASSERT_EQ(first.status, 201) << first.describe();
  const HttpResult second = cluster.create(*leader, "idem", "one", key_a);
  ASSERT_EQ(second.status, 201) << second.describe();
  EXPECT_EQ(second.json(), first.json()) << "a replay answers the original result";
  EXPECT_EQ(second.header("Idempotent-Replayed"), "true");
  // The same retry through a follower (forwarded) is also the original.
  const HttpResult via_follower =
      cluster.create(cluster.followers_of(*leader)[0], "idem", "one", key_a);
  ASSERT_EQ(via_follower.status, 201) << via_follower.describe();
  EXPECT_EQ(via_follower.json().value("id", ""), first.json().value("id", ""));

  const HttpResult listed = cluster.request(*leader, "GET", "/api/kv?key=idem");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json().size(), 1u) << listed.body;
  EXPECT_EQ(listed.header("X-Total-Count"), "1");

  // Another key is another write.
  const HttpResult other = cluster.create(*leader, "idem", "one", {{"Idempotency-Key", "retry-b"}});
  ASSERT_EQ(other.status, 201) << other.describe();
  EXPECT_NE(other.json().value("id", ""), first.json().value("id", ""));
  EXPECT_EQ(cluster.request(*leader, "GET", "/api/kv?key=idem").json().size(), 2u);
  EXPECT_TRUE(cluster.wait_converged());
}

// An Idempotency-Key identifies one request. Reusing it for a different request is refused with
// 422 (as the IETF Idempotency-Key draft says), decided by the replicated table's fingerprint,
// so the answer is the same through any node; also after a first answer of 404 (issue 13).
TEST(Idempotency, KeyReusedForADifferentRequestIs422ThroughAnyNode) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const size_t follower = cluster.followers_of(*leader)[0];
  const Headers key = {{"Idempotency-Key", "reused"}};
  const HttpResult first = cluster.create(*leader, "first", "v1", key);
  ASSERT_EQ(first.status, 201) << first.describe();
  const std::string id = first.json().value("id", "");

  for (size_t node : {*leader, follower}) {
    const HttpResult other_body = cluster.create(node, "second", "v2", key);
    EXPECT_EQ(other_body.status, 422) << other_body.describe();
    EXPECT_EQ(other_body.json().value("error", ""), "idempotency_key_reused");
    const HttpResult other_method = cluster.request(node, "DELETE", "/api/kv/" + id, {}, key);
    EXPECT_EQ(other_method.status, 422) << other_method.describe();
    const HttpResult same = cluster.create(node, "first", "v1", key);
    EXPECT_EQ(same.status, 201) << same.describe();
    EXPECT_EQ(same.json().value("id", ""), id) << "a retry is answered with the first answer";
  }
  EXPECT_EQ(cluster.get(*leader, id).status, 200);

  // After a 404 the key still names that request: a PUT under it is not answered "404".
  const std::string absent = "0f8fad5b-d9cb-469f-a165-70867728950e";
  const Headers gone = {{"Idempotency-Key", "after-404"}};
  ASSERT_EQ(cluster.request(*leader, "DELETE", "/api/kv/" + absent, {}, gone).status, 404);
  const HttpResult put =
      cluster.request(follower, "PUT", "/api/kv/" + absent, R"({"value":"v"})", gone);
  EXPECT_EQ(put.status, 422) << put.describe();
  EXPECT_TRUE(cluster.wait_converged());
}

// Reference README Scenario 4: a follower is killed while writes continue; once restarted it
// catches up to the leader's exact state.
TEST(Scenario4, KilledFollowerCatchesUpAfterRestart) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  CreatedBatch before = cluster.create_many(*leader, "before", 100);
  ASSERT_TRUE(before.failures.empty()) << before.failures.front();
  const size_t victim = cluster.followers_of(*leader)[0];
  cluster.kill(victim);

  CreatedBatch during = cluster.create_many(*leader, "during", 200);
  ASSERT_TRUE(during.failures.empty()) << during.failures.front();
  // Scenario 4 step 4: the leader reports the dead follower as desynced.
  EXPECT_TRUE(wait_until(
      [&] {
        const Json sync = cluster.request(*leader, "GET", "/_raft/sync-status").json();
        if (!sync.is_object() || !sync.contains("followers")) return false;
        for (const Json& f : sync["followers"]) {
          if (f.value("id", uint64_t{99}) == victim) return f.value("state", "") == "desynced";
        }
        return false;
      },
      5s))
      << cluster.request(*leader, "GET", "/_raft/sync-status").body;

  cluster.restart(victim);
  ASSERT_TRUE(cluster.wait_converged(20s));
  const auto victim_state = cluster.state(victim);
  ASSERT_TRUE(victim_state);
  EXPECT_EQ(victim_state->entry_count, 300u);
  std::map<std::string, std::string> acked = before.acked;
  acked.insert(during.acked.begin(), during.acked.end());
  expect_all_present(cluster, victim, acked);
  EXPECT_TRUE(wait_until(
      [&] {
        const Json sync = cluster.request(*leader, "GET", "/_raft/sync-status").json();
        if (!sync.is_object() || !sync.contains("followers")) return false;
        for (const Json& f : sync["followers"]) {
          if (f.value("state", "") != "healthy") return false;
        }
        return true;
      },
      5s))
      << cluster.request(*leader, "GET", "/_raft/sync-status").body;
}

// Scenario 4 with compaction: the leader's log no longer holds what the follower missed, so the
// follower must catch up by installing a snapshot.
TEST(Scenario4, KilledFollowerCatchesUpBySnapshotWhenTheLeaderCompacted) {
  ClusterOptions options;
  options.snapshot_threshold = 50;
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  CreatedBatch batch = cluster.create_many(*leader, "before", 100);
  ASSERT_TRUE(batch.failures.empty()) << batch.failures.front();
  const size_t victim = cluster.followers_of(*leader)[0];
  ASSERT_TRUE(wait_until([&] { return cluster.converged(); }, 5s));
  const auto victim_last = cluster.metric(victim, "raft_last_index");
  ASSERT_TRUE(victim_last);
  cluster.kill(victim);

  // 200 entries as in the scenario, then more until the leader's log starts past what the
  // follower holds (the node keeps some log behind each snapshot for slow followers).
  constexpr size_t kRoundEntries = 200;
  constexpr size_t kEntriesMax = 3000;
  size_t written = 0;
  for (int round = 0; written < kEntriesMax; ++round) {
    CreatedBatch more =
        cluster.create_many(*leader, "during" + std::to_string(round), kRoundEntries, 8);
    ASSERT_TRUE(more.failures.empty()) << more.failures.front();
    batch.acked.insert(more.acked.begin(), more.acked.end());
    written += kRoundEntries;
    const auto first_index = cluster.metric(*leader, "raft_first_index");
    ASSERT_TRUE(first_index);
    if (*first_index > *victim_last + 1) break;
  }
  const auto leader_first = cluster.metric(*leader, "raft_first_index");
  std::cout << "[scenario4] wrote " << written << " entries while node " << victim
            << " was down; leader log starts at " << leader_first.value_or(-1)
            << ", the follower had up to " << *victim_last << std::endl;
  ASSERT_GT(leader_first.value_or(0), *victim_last + 1)
      << "the leader never compacted past the follower in " << kEntriesMax << " entries";

  cluster.restart(victim);
  ASSERT_TRUE(cluster.wait_converged(20s));
  const Json victim_stats = cluster.request(victim, "GET", "/_raft/resync_stats").json();
  const Json leader_stats = cluster.request(*leader, "GET", "/_raft/resync_stats").json();
  std::cout << "[scenario4] follower resync_stats " << victim_stats.dump() << "\n"
            << "[scenario4] leader resync_stats " << leader_stats.dump() << std::endl;
  EXPECT_GE(victim_stats.value("snapshots_received", uint64_t{0}), 1u) << victim_stats.dump();
  EXPECT_GE(leader_stats.value("snapshots_sent", uint64_t{0}), 1u) << leader_stats.dump();
  // The transfer and the install were timed (the leader counts a send once the follower
  // replicates again past the snapshot: converged above).
  EXPECT_GE(leader_stats["durations_ms"]["sent"].value("count", uint64_t{0}), 1u)
      << leader_stats.dump();
  EXPECT_GE(leader_stats["durations_ms"]["created"].value("count", uint64_t{0}), 1u)
      << leader_stats.dump();
  EXPECT_GE(victim_stats["durations_ms"]["installed"].value("count", uint64_t{0}), 1u)
      << victim_stats.dump();
  expect_all_present(cluster, victim, batch.acked);
  EXPECT_EQ(cluster.state(victim)->entry_count, batch.acked.size());
}

}  // namespace
}  // namespace integration
