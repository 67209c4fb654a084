// Leader failure, loss of quorum and graceful shutdown on a 3-node cluster (issue 3 "Proof":
// leader kill -9 with a new leader elected and writes resuming; a minority answering 503 within
// the timeout with nothing half-done; SIGTERM handing leadership over).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include "cluster_harness.h"

namespace integration {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

int64_t ms_since(Clock::time_point start) {
  return duration_cast<milliseconds>(Clock::now() - start).count();
}

// The acknowledged id of a 2xx create, or "".
std::string acked_id(const HttpResult& r) {
  const Json entry = r.json();
  return r.ok() && entry.is_object() ? entry.value("id", "") : "";
}

// True when some entry carries `key` (key index lookup on node i, linearizable).
std::optional<bool> key_exists(const Cluster& cluster, size_t i, const std::string& key) {
  const HttpResult r = cluster.request(i, "GET", "/api/kv?key=" + key);
  if (r.status != 200 || !r.json().is_array()) return std::nullopt;
  return !r.json().empty();
}

TEST(LeaderFailover, NewLeaderAfterKill9AndNoAcknowledgedWriteLost) {
  Cluster cluster;
  ASSERT_TRUE(cluster.wait_for_leader());
  std::map<std::string, std::string> acked;
  std::vector<int64_t> failover_ms;
  constexpr int kRounds = 3;
  constexpr auto kFailoverBound = 5s;  // generous for loaded CI; the aim is under 1 s

  for (int round = 0; round < kRounds; ++round) {
    const auto old_leader = cluster.wait_for_leader();
    ASSERT_TRUE(old_leader) << "round " << round;
    const CreatedBatch batch =
        cluster.create_many(*old_leader, "before" + std::to_string(round), 20);
    ASSERT_TRUE(batch.failures.empty()) << batch.failures.front();
    acked.insert(batch.acked.begin(), batch.acked.end());

    const auto killed_at = Clock::now();
    cluster.kill(*old_leader);
    // The first acknowledged write after the kill, through whichever survivor answers.
    const std::string key = "failover" + std::to_string(round);
    const HttpResult first = cluster.create_retrying(key, key, kFailoverBound);
    const int64_t took_ms = ms_since(killed_at);
    ASSERT_TRUE(first.ok()) << "no write succeeded within " << kFailoverBound.count()
                            << " s of the leader's kill: " << first.describe();
    acked[acked_id(first)] = key;
    failover_ms.push_back(took_ms);
    std::cout << "[failover] round " << round << ": leader " << *old_leader
              << " killed; first acknowledged write after " << took_ms << " ms" << std::endl;

    const auto new_leader = cluster.wait_for_leader();
    ASSERT_TRUE(new_leader);
    EXPECT_NE(*new_leader, *old_leader);
    const CreatedBatch after =
        cluster.create_many(*new_leader, "after" + std::to_string(round), 20);
    ASSERT_TRUE(after.failures.empty()) << after.failures.front();
    acked.insert(after.acked.begin(), after.acked.end());

    cluster.restart(*old_leader);
    ASSERT_TRUE(cluster.wait_converged());
  }
  std::cout << "[failover] kill -9 of the leader to first acknowledged write: max "
            << *std::max_element(failover_ms.begin(), failover_ms.end()) << " ms over "
            << failover_ms.size() << " kills" << std::endl;
  for (size_t i = 0; i < cluster.size(); ++i) {
    expect_all_present(cluster, i, acked);
    EXPECT_EQ(cluster.state(i)->entry_count, acked.size()) << "node " << i;
  }
}

// Two of three nodes die with the leader surviving: writes it accepted before noticing answer
// 504 (outcome unknown) after the commit timeout, later ones 503 at once; never 2xx. Once the
// majority is back, no write answered 503 ever appears.
TEST(Minority, SurvivingLeaderNeverAcknowledgesAndNothingHalfDone) {
  constexpr int kCommitTimeoutMs = 1500;
  ClusterOptions options;
  options.commit_timeout_ms = kCommitTimeoutMs;
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const CreatedBatch before = cluster.create_many(*leader, "before", 10);
  ASSERT_TRUE(before.failures.empty()) << before.failures.front();
  for (size_t f : cluster.followers_of(*leader)) cluster.kill(f);

  std::vector<std::string> refused_keys, unknown_keys;
  const auto deadline = Clock::now() + 10s;
  for (int n = 0; Clock::now() < deadline; ++n) {
    const std::string key = "minority-" + std::to_string(n);
    const auto sent_at = Clock::now();
    const HttpResult r = cluster.create(*leader, key, key, {}, milliseconds(kCommitTimeoutMs) + 3s);
    const int64_t took_ms = ms_since(sent_at);
    std::cout << "[minority] write " << n << ": " << r.status << " after " << took_ms << " ms"
              << std::endl;
    ASSERT_TRUE(r.status == 503 || r.status == 504) << "write " << n << ": " << r.describe();
    EXPECT_LE(took_ms, kCommitTimeoutMs + 1000) << "answered later than the commit timeout";
    expect_error_body(r);
    if (r.status == 503) {
      EXPECT_FALSE(r.header("Retry-After").empty()) << "503 without Retry-After";
      refused_keys.push_back(key);
      if (refused_keys.size() >= 3) break;
    } else {
      unknown_keys.push_back(key);
    }
  }
  ASSERT_FALSE(refused_keys.empty()) << "the lone leader never started refusing writes";
  // Without a quorum a linearizable read cannot be served either; a local one can.
  const HttpResult read = cluster.request(*leader, "GET", "/api/kv?limit=1", {}, {}, 6s);
  EXPECT_EQ(read.status, 503) << read.describe();
  EXPECT_EQ(cluster.request(*leader, "GET", "/api/kv?limit=1&consistency=local").status, 200);

  for (size_t i = 0; i < cluster.size(); ++i) {
    if (!cluster.running(i)) cluster.restart(i);
  }
  ASSERT_TRUE(cluster.wait_for_leader());
  const HttpResult recovered = cluster.create_retrying("recovered", "yes");
  ASSERT_TRUE(recovered.ok()) << recovered.describe();
  ASSERT_TRUE(cluster.wait_converged());
  const auto new_leader = cluster.wait_for_leader();
  ASSERT_TRUE(new_leader);
  for (const std::string& key : refused_keys) {
    EXPECT_EQ(key_exists(cluster, *new_leader, key), std::optional<bool>(false))
        << key << " was answered 503 but is in the store";
  }
  for (const std::string& key : unknown_keys) {
    std::cout << "[minority] " << key << " (504, outcome unknown): "
              << (key_exists(cluster, *new_leader, key).value_or(false) ? "applied" : "not applied")
              << std::endl;
  }
  for (size_t i = 0; i < cluster.size(); ++i) expect_all_present(cluster, i, before.acked);
}

// Two of three nodes die with a follower surviving: it has no leader to forward to, so every
// write is refused with 503 promptly.
TEST(Minority, SurvivingFollowerRefusesWritesWith503) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const std::vector<size_t> followers = cluster.followers_of(*leader);
  const size_t survivor = followers[0];
  cluster.kill(*leader);
  cluster.kill(followers[1]);

  std::vector<std::string> keys;
  for (int n = 0; n < 5; ++n) {
    const std::string key = "lonely-" + std::to_string(n);
    const auto sent_at = Clock::now();
    const HttpResult r = cluster.create(survivor, key, key, {}, 10s);
    const int64_t took_ms = ms_since(sent_at);
    std::cout << "[minority] follower write " << n << ": " << r.status << " after " << took_ms
              << " ms" << std::endl;
    EXPECT_EQ(r.status, 503) << r.describe();
    EXPECT_LE(took_ms, 6000);
    expect_error_body(r);
    keys.push_back(key);
  }
  cluster.restart(*leader);
  cluster.restart(followers[1]);
  const auto new_leader = cluster.wait_for_leader();
  ASSERT_TRUE(new_leader);
  ASSERT_TRUE(cluster.create_retrying("recovered", "yes").ok());
  ASSERT_TRUE(cluster.wait_converged());
  for (const std::string& key : keys) {
    EXPECT_EQ(key_exists(cluster, *new_leader, key), std::optional<bool>(false))
        << key << " was answered 503 but is in the store";
  }
}

// SIGTERM on the leader: it hands leadership over (so a new leader is up well before an election
// timeout could elect one), answers what it accepted, exits 0; no acknowledged write is lost.
TEST(GracefulShutdown, SigtermOnLeaderHandsOverAndExitsZero) {
  ClusterOptions options;
  // Elections only after 1-2 s: a leader within a few hundred ms can only come from hand-over.
  options.election_ticks = 50;
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader(15s);
  ASSERT_TRUE(leader);
  const CreatedBatch before = cluster.create_many(*leader, "before", 20);
  ASSERT_TRUE(before.failures.empty()) << before.failures.front();

  // Clients keep writing to every node while the leader stops.
  constexpr size_t kWriters = 4;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::map<std::string, std::string> acked = before.acked;
  std::vector<std::string> refused_keys;
  std::map<std::string, size_t> not_acked;  // answer -> count
  Workers writers(stop);
  for (size_t w = 0; w < kWriters; ++w) {
    writers.spawn([&, w] {
      for (size_t n = 0; !stop; ++n) {
        const std::string key = "during-" + std::to_string(w) + "-" + std::to_string(n);
        const HttpResult r = cluster.create((w + n) % cluster.size(), key, key, {}, 8s);
        std::lock_guard lock(mutex);
        if (r.ok()) {
          acked[acked_id(r)] = key;
          continue;
        }
        if (r.status == 503) refused_keys.push_back(key);
        ++not_acked[r.status == 0 ? "no answer" : std::to_string(r.status)];
        // A refused connection returns at once: do not spin on the stopped node.
        std::this_thread::sleep_for(10ms);
      }
    });
  }
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return acked.size() >= before.acked.size() + 50;
      },
      10s));

  const auto term_sent = Clock::now();
  cluster.signal(*leader, SIGTERM);
  std::optional<size_t> new_leader;
  const bool handed_over = wait_until(
      [&] {
        for (size_t i : cluster.followers_of(*leader)) {
          const auto s = cluster.state(i);
          if (s && s->role == "leader") {
            new_leader = i;
            return true;
          }
        }
        return false;
      },
      5s, 5ms);
  const int64_t handover_ms = ms_since(term_sent);
  const auto exit = cluster.wait_exit(*leader, 10s);
  const int64_t exit_ms = ms_since(term_sent);
  std::cout << "[sigterm] new leader after " << handover_ms << " ms; old leader exited after "
            << exit_ms << " ms (" << (exit ? exit->describe() : "still running") << ")"
            << std::endl;
  ASSERT_TRUE(handed_over) << "no other node became leader within 5 s of SIGTERM";
  EXPECT_LT(handover_ms, 800) << "leadership was not handed over (took an election timeout)";
  ASSERT_TRUE(exit) << "the leader did not exit within 10 s of SIGTERM";
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->describe();
  EXPECT_LT(exit_ms, 5000);

  // Writes resume on the new leader, then the old one rejoins.
  const HttpResult resumed = cluster.create_retrying("resumed", "yes");
  ASSERT_TRUE(resumed.ok()) << resumed.describe();
  writers.join();
  acked[acked_id(resumed)] = "yes";
  std::cout << "[sigterm] " << acked.size() << " writes acknowledged; not acknowledged:";
  for (const auto& [answer, count] : not_acked) std::cout << " {" << answer << ": " << count << "}";
  std::cout << std::endl;
  cluster.restart(*leader);
  ASSERT_TRUE(cluster.wait_for_leader());
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) expect_all_present(cluster, i, acked);
  const auto reader = cluster.wait_for_leader();
  ASSERT_TRUE(reader);
  for (const std::string& key : refused_keys) {
    EXPECT_EQ(key_exists(cluster, *reader, key), std::optional<bool>(false))
        << key << " was answered 503 but is in the store";
  }
}

TEST(GracefulShutdown, SigtermOnFollowerExitsZeroAndLeavesTheLeaderAlone) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const auto term = cluster.state(*leader)->term;
  const size_t follower = cluster.followers_of(*leader)[0];
  cluster.signal(follower, SIGTERM);
  const auto exit = cluster.wait_exit(follower, 5s);
  ASSERT_TRUE(exit) << "the follower did not exit within 5 s of SIGTERM";
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->describe();
  EXPECT_EQ(cluster.leader_index(), leader);
  EXPECT_EQ(cluster.state(*leader)->term, term) << "a follower's shutdown caused an election";
  EXPECT_EQ(cluster.create(*leader, "two", "of three").status, 201);
  cluster.restart(follower);
  EXPECT_TRUE(cluster.wait_converged());
}

// A leader without a quorum holds a client's write in its log, uncommitted, when it is told to
// stop. The answer it gives must not be 503 ("not applied, retry"): the entry stays in its log
// and is committed once it leads again. Either 504 (outcome unknown) or nothing definite.
TEST(GracefulShutdown, WritePendingAtShutdownIsNotAnswered503IfItCanStillCommit) {
  ClusterOptions options;
  options.commit_timeout_ms = 20000;  // the write stays pending until the shutdown answers it
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const std::vector<size_t> followers = cluster.followers_of(*leader);
  for (size_t f : followers) cluster.kill(f);

  std::atomic<bool> stop{false};
  HttpResult answer;
  Workers client(stop);
  client.spawn([&] { answer = cluster.create(*leader, "pending", "at-shutdown", {}, 30s); });
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = cluster.state(*leader);
        return s && s->raw.value("pending_writes", 0) >= 1;
      },
      5s));
  cluster.signal(*leader, SIGTERM);
  const auto exit = cluster.wait_exit(*leader, 10s);
  client.join();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->describe();
  std::cout << "[shutdown] the pending write was answered " << answer.describe() << std::endl;
  EXPECT_FALSE(answer.ok()) << "acknowledged without a quorum: " << answer.describe();

  // The old leader's log is the longest: with one follower it must win and commit the entry.
  cluster.restart(*leader);
  cluster.restart(followers[0]);
  const auto new_leader = cluster.wait_for_leader();
  ASSERT_TRUE(new_leader);
  ASSERT_TRUE(cluster.create_retrying("after", "restart").ok());
  const auto exists = key_exists(cluster, *new_leader, "pending");
  ASSERT_TRUE(exists);
  std::cout << "[shutdown] after the restart the write is " << (*exists ? "applied" : "absent")
            << std::endl;
  if (*exists) {
    EXPECT_NE(answer.status, 503) << "answered 503 (not applied) but it was applied: "
                                  << answer.describe();
  }
  cluster.restart(followers[1]);
  EXPECT_TRUE(cluster.wait_converged());
}

// The idempotency table is replicated state: a client that retries after the leader died gets
// the original answer from the new leader, not a second entry.
// A follower's linearizable read waits for the leader's answer to its ReadIndex. When that
// leader is gone (here paused), the read must end as soon as the follower learns of the
// election, with 503 no_leader to retry elsewhere: not hang until its read timeout (503
// no_quorum, seconds later), as it did before RaftNode::on_leader_changed.
TEST(LeaderFailover, AFollowersReadToAVanishedLeaderEndsAtTheLeaderChange) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const std::string id = acked_id(cluster.create(*leader, "read-at-failover", "v1"));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(cluster.wait_converged());
  const size_t follower = cluster.followers_of(*leader)[0];

  cluster.signal(*leader, SIGSTOP);
  const HttpResult read = cluster.get(follower, id);  // its ReadIndex goes to the paused leader
  cluster.signal(*leader, SIGCONT);
  EXPECT_EQ(read.status, 503) << read.describe();
  EXPECT_EQ(read.json().value("error", ""), "no_leader") << read.describe();
  // Reads work again once the cluster has its new leader.
  EXPECT_TRUE(wait_until([&] { return cluster.get(follower, id).status == 200; }, 10s));
}

TEST(LeaderFailover, IdempotentRetryAfterLeaderKillAnswersTheOriginal) {
  Cluster cluster;
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const Headers key = {{"Idempotency-Key", "client-42-request-7"}};
  const HttpResult first = cluster.create(*leader, "idem", "once", key);
  ASSERT_EQ(first.status, 201) << first.describe();
  cluster.kill(*leader);
  const auto new_leader = cluster.wait_for_leader();
  ASSERT_TRUE(new_leader);
  const HttpResult retry = cluster.create(*new_leader, "idem", "once", key);
  ASSERT_EQ(retry.status, 201) << retry.describe();
  EXPECT_EQ(retry.json(), first.json());
  EXPECT_EQ(retry.header("Idempotent-Replayed"), "true");
  cluster.restart(*leader);
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.request(i, "GET", "/api/kv?key=idem").json().size(), 1u) << "node " << i;
  }
}

// A leader paused (SIGSTOP, as a long GC pause or a partition would) is replaced; when it resumes
// it still believes it leads. Reads it answers must not be stale (ReadIndex confirms leadership
// with a quorum first), and writes it answers 2xx must be committed, 503 ones absent.
TEST(LeaderFailover, ResumedOldLeaderServesNoStaleReadsAndAcknowledgesNothingLost) {
  Cluster cluster;
  const auto old_leader = cluster.wait_for_leader();
  ASSERT_TRUE(old_leader);
  const HttpResult created = cluster.create(*old_leader, "register", "v1");
  ASSERT_EQ(created.status, 201) << created.describe();
  const std::string id = created.json().value("id", "");
  ASSERT_TRUE(cluster.wait_converged());

  cluster.signal(*old_leader, SIGSTOP);
  std::optional<size_t> new_leader;
  ASSERT_TRUE(wait_until(
      [&] {
        for (size_t i : cluster.followers_of(*old_leader)) {
          const auto s = cluster.state(i);
          if (s && s->role == "leader") new_leader = i;
        }
        return new_leader.has_value();
      },
      10s))
      << "no new leader while the old one is paused";
  const HttpResult updated =
      cluster.request(*new_leader, "PUT", "/api/kv/" + id, R"({"value":"v2"})");
  ASSERT_EQ(updated.status, 200) << updated.describe();

  // Clients queue requests at the paused node (the kernel accepts its connections), then it
  // resumes and answers them while it still thinks it leads.
  std::atomic<bool> stop{false};
  std::atomic<size_t> started{0};
  std::mutex mutex;
  std::vector<std::string> stale_reads;
  std::map<std::string, int> writes;  // key -> status, sent to the resumed node
  size_t reads_ok = 0;
  Workers clients(stop);
  for (int c = 0; c < 4; ++c) {
    clients.spawn([&, c] {
      for (int n = 0; !stop; ++n) {
        ++started;
        if (c == 0) {
          const std::string key = "paused-" + std::to_string(n);
          const HttpResult w = cluster.create(*old_leader, key, key, {}, 8s);
          std::lock_guard lock(mutex);
          writes[key] = w.status;
          continue;
        }
        const HttpResult r = cluster.get(*old_leader, id);
        std::lock_guard lock(mutex);
        if (r.status != 200) continue;
        ++reads_ok;
        if (r.json().value("value", "") != "v2") stale_reads.push_back(r.describe());
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return started >= 4; }, 5s));
  cluster.signal(*old_leader, SIGCONT);
  // Until the resumed node has learnt the new term and served reads again.
  EXPECT_TRUE(wait_until(
      [&] {
        const auto s = cluster.state(*old_leader);
        std::lock_guard lock(mutex);
        return s && s->role == "follower" && reads_ok >= 20;
      },
      10s));
  clients.join();
  std::map<int, size_t> write_statuses;
  for (const auto& [key, status] : writes) ++write_statuses[status];
  std::cout << "[paused] " << reads_ok << " reads answered by the resumed node, "
            << stale_reads.size() << " stale; its write answers (status: count):";
  for (const auto& [status, count] : write_statuses) std::cout << " " << status << ": " << count;
  std::cout << std::endl;
  EXPECT_TRUE(stale_reads.empty())
      << stale_reads.size() << " stale reads, first: " << stale_reads.front();

  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  ASSERT_TRUE(cluster.wait_converged());
  EXPECT_EQ(cluster.get(*leader, id).json().value("value", ""), "v2");
  for (const auto& [key, status] : writes) {
    const auto exists = key_exists(cluster, *leader, key);
    ASSERT_TRUE(exists);
    if (status >= 200 && status < 300) {
      EXPECT_TRUE(*exists) << key << " acknowledged but lost";
    }
    if (status == 503) {
      EXPECT_FALSE(*exists) << key << " answered 503 but applied";
    }
  }
}

// The follower entry of `follower` in the leader's /_raft/sync-status, or null.
Json sync_entry(const Cluster& cluster, size_t leader, size_t follower) {
  const Json sync = cluster.request(leader, "GET", "/_raft/sync-status").json();
  if (!sync.is_object() || !sync.contains("followers")) return nullptr;
  for (const Json& f : sync["followers"]) {
    if (f.value("id", uint64_t{99}) == follower) return f;
  }
  return nullptr;
}

// A follower that comes back must be part of the leader's quorum again within an election
// timeout: otherwise a second failure right after a restart costs the cluster its leader although
// a majority is up (Raft's availability argument assumes heartbeats reach every live peer). Seen
// in the chaos tests as leaders stepping down with 2 of 3 nodes up, when the peer transport kept
// a dead peer in a reconnect backoff of up to 1 s. The bound allows one maximal election timeout
// (the restarted node's pre-vote reaches the leader by then) plus half of one for the reconnect
// and catch-up on a loaded machine.
TEST(Availability, RestartedFollowerRejoinsTheQuorumWithinAnElectionTimeout) {
  ClusterOptions options;  // 20 ms ticks, 10 ticks: election timeout 200-400 ms
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const size_t follower = cluster.followers_of(*leader)[0];
  const auto election_timeout_max =
      std::chrono::milliseconds(2 * options.election_ticks * options.tick_ms);
  constexpr int kRounds = 3;
  int64_t worst_ms = 0;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t failures_before = sync_entry(cluster, *leader, follower).value("failures", 0);
    cluster.kill(follower);
    // Down long enough for the leader to have failed to reach it several times in a row.
    ASSERT_TRUE(wait_until(
        [&] {
          return sync_entry(cluster, *leader, follower).value("failures", 0) >= failures_before + 6;
        },
        10s))
        << sync_entry(cluster, *leader, follower).dump();
    // An entry it misses: only the leader's replication can bring it.
    ASSERT_EQ(cluster.create(*leader, "while-down", std::to_string(round)).status, 201);
    const uint64_t commit = cluster.state(*leader)->commit_index;
    cluster.restart(follower);
    const auto restarted_at = Clock::now();
    const bool back = wait_until(
        [&] {
          const auto s = cluster.state(follower);
          return s && s->applied_index >= commit;
        },
        5s, 2ms);
    const int64_t took_ms = ms_since(restarted_at);
    worst_ms = std::max(worst_ms, took_ms);
    std::cout << "[availability] round " << round << ": the restarted follower had the leader's "
              << "commit " << took_ms << " ms after it served" << std::endl;
    ASSERT_TRUE(back) << sync_entry(cluster, *leader, follower).dump();
  }
  EXPECT_LE(worst_ms, election_timeout_max.count() * 3 / 2)
      << "a restarted follower stays out of the leader's quorum for longer than an election "
         "timeout (peer transport reconnect backoff?)";
  EXPECT_TRUE(cluster.wait_converged());
}

}  // namespace
}  // namespace integration
