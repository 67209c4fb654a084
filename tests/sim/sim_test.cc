// Tests of the simulator itself: it must be deterministic, its faults must be real, and its
// checker must be able to fail (a check that cannot fail proves nothing).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "sim/checker.h"
#include "sim/cluster.h"
#include "sim/network.h"
#include "sim/scenario.h"
#include "sim/state_machine.h"

namespace sim {
namespace {

constexpr size_t kDeliveriesMax = 100000;

raft::Message message(raft::NodeId from, raft::NodeId to, raft::Index index = 0) {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.index = index;
  return m;
}

std::vector<raft::Message> drain(Network& net, Tick until) {
  std::vector<raft::Message> out;
  for (Tick t = 0; t <= until; ++t) {
    while (std::optional<raft::Message> m = net.next_due(t)) out.push_back(std::move(*m));
  }
  return out;
}

raft::Entry entry(raft::Index index, raft::Term term, uint64_t proposal_id) {
  return raft::Entry{term, index, raft::EntryType::kNormal,
                     raft::Payload(encode_command(Command{proposal_id, 0}, 16))};
}

// --- determinism ---------------------------------------------------------------------------

TEST(Simulator, SameSeedReplaysTheSameTrace) {
  const SeedReport a = run_seed(7);
  const SeedReport b = run_seed(7);
  ASSERT_TRUE(a.ok) << a.property << ": " << a.description;
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.ticks, b.ticks);
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.commits, b.commits);
  EXPECT_NE(run_seed(8).trace_hash, a.trace_hash);
}

TEST(Simulator, SeedsConvergeAndDoRealWork) {
  uint64_t commits = 0, elections = 0, crashes = 0, snapshots = 0, reinstalled = 0;
  for (uint64_t seed = 100; seed < 120; ++seed) {
    const SeedReport r = run_seed(seed);
    ASSERT_TRUE(r.ok) << "seed " << seed << " " << r.property << ": " << r.description
                      << "\nreplay: " << replay_command(seed);
    commits += r.commits;
    elections += r.elections;
    crashes += r.crashes;
    snapshots += r.snapshots_installed;
    reinstalled += r.snapshots_reinstalled;
  }
  // A simulation that commits nothing or never crashes anything would pass vacuously.
  EXPECT_GT(commits, 20u * 100);
  EXPECT_GT(elections, 20u * 2);
  EXPECT_GT(crashes, 10u);
  EXPECT_GT(snapshots, 0u);
  // Forced snapshots reach followers that already hold their entries (issue 13 bug 2).
  EXPECT_GT(reinstalled, 0u);
}

// --- the network ---------------------------------------------------------------------------

TEST(Network, CutLinkDropsOneDirectionOnly) {
  Network net(3, Rng(1), 100);
  net.cut(0, 1);
  net.send(message(0, 1), 0);
  net.send(message(1, 0), 0);
  net.send(message(0, 2), 0);
  const std::vector<raft::Message> got = drain(net, 0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].from, 1u);
  EXPECT_EQ(got[1].to, 2u);
  EXPECT_EQ(net.stats().dropped_partition, 1u);
  net.heal_all();
  net.send(message(0, 1), 0);
  EXPECT_EQ(drain(net, 0).size(), 1u);
}

TEST(Network, DropsAndDuplicatesAtTheConfiguredRate) {
  Network dropping(2, Rng(2), 1000);
  dropping.set_faults(NetworkFaults{1.0, 0, 0});
  for (int i = 0; i < 50; ++i) dropping.send(message(0, 1), 0);
  EXPECT_TRUE(drain(dropping, 0).empty());
  EXPECT_EQ(dropping.stats().dropped, 50u);

  Network duplicating(2, Rng(3), 1000);
  duplicating.set_faults(NetworkFaults{0, 1.0, 0});
  for (int i = 0; i < 50; ++i) duplicating.send(message(0, 1), 0);
  EXPECT_EQ(drain(duplicating, 0).size(), 100u);
}

TEST(Network, DelaysReorderButDeliverEverythingWithinTheBound) {
  Network net(2, Rng(4), 1000);
  net.set_faults(NetworkFaults{0, 0, 5});
  for (raft::Index i = 0; i < 100; ++i) net.send(message(0, 1, i), 0);
  EXPECT_TRUE(drain(net, 4).size() < 100u);
  // Sent at tick 0 with delays in [0, 5]: everything has arrived by tick 5.
  Network again(2, Rng(4), 1000);
  again.set_faults(NetworkFaults{0, 0, 5});
  for (raft::Index i = 0; i < 100; ++i) again.send(message(0, 1, i), 0);
  const std::vector<raft::Message> got = drain(again, 5);
  ASSERT_EQ(got.size(), 100u);
  bool reordered = false;
  for (size_t k = 1; k < got.size(); ++k) reordered |= got[k].index < got[k - 1].index;
  EXPECT_TRUE(reordered);
}

TEST(Network, QueueIsBounded) {
  Network net(2, Rng(5), 10);
  for (int i = 0; i < 25; ++i) net.send(message(0, 1), 0);
  EXPECT_EQ(net.in_flight(), 10u);
  EXPECT_EQ(net.stats().dropped_overflow, 15u);
}

// --- the checker catches fabricated violations ---------------------------------------------

TEST(Checker, CatchesTwoLeadersInOneTerm) {
  Checker checker(3);
  raft::MemoryStorage storage;
  checker.after_event(NodeView{0, raft::Role::kLeader, 5, 0}, storage);
  checker.after_event(NodeView{1, raft::Role::kFollower, 5, 0}, storage);
  EXPECT_FALSE(checker.failed());
  checker.after_event(NodeView{2, raft::Role::kLeader, 5, 0}, storage);
  ASSERT_TRUE(checker.failed());
  EXPECT_EQ(checker.violation().property, "ElectionSafety");
}

TEST(Checker, CatchesTermAndCommitGoingBackwards) {
  Checker term_checker(1);
  raft::MemoryStorage storage;
  term_checker.after_event(NodeView{0, raft::Role::kFollower, 4, 0}, storage);
  term_checker.after_event(NodeView{0, raft::Role::kFollower, 3, 0}, storage);
  EXPECT_EQ(term_checker.violation().property, "TermMonotonic");

  Checker persisted(1);
  persisted.on_hard_state_persisted(0, raft::HardState{4, 0, 0}, raft::HardState{3, 0, 0}, storage);
  EXPECT_EQ(persisted.violation().property, "TermMonotonic");
}

TEST(Checker, CatchesConflictingEntriesWithTheSameIndexAndTerm) {
  Checker checker(2);
  raft::MemoryStorage a, b;
  const std::vector<raft::Entry> at_a{entry(1, 1, 10)};
  const std::vector<raft::Entry> at_b{entry(1, 1, 11)};
  a.append(at_a);
  b.append(at_b);
  checker.on_entries_persisted(0, a, at_a);
  EXPECT_FALSE(checker.failed());
  checker.on_entries_persisted(1, b, at_b);
  ASSERT_TRUE(checker.failed());
  EXPECT_EQ(checker.violation().property, "LogMatching");
}

TEST(Checker, CatchesALeaderMissingACommittedEntry) {
  Checker checker(2);
  raft::MemoryStorage full, empty;
  const std::vector<raft::Entry> entries{entry(1, 1, 10), entry(2, 1, 11)};
  full.append(entries);
  checker.on_entries_persisted(0, full, entries);
  checker.on_hard_state_persisted(0, raft::HardState{1, 0, 0}, raft::HardState{1, 0, 2}, full);
  checker.after_event(NodeView{1, raft::Role::kLeader, 2, 0}, empty);
  ASSERT_TRUE(checker.failed());
  EXPECT_EQ(checker.violation().property, "LeaderCompleteness");
}

TEST(Checker, CatchesAStaleRead) {
  Checker checker(1);
  raft::MemoryStorage storage;
  const std::vector<raft::Entry> entries{entry(1, 1, 10), entry(2, 1, 11), entry(3, 1, 12)};
  storage.append(entries);
  checker.on_entries_persisted(0, storage, entries);
  checker.on_hard_state_persisted(0, raft::HardState{1, 0, 0}, raft::HardState{1, 0, 3}, storage);
  checker.on_read_issued(42);
  checker.on_read_state(0, raft::ReadState{42, 3, true});
  EXPECT_FALSE(checker.failed());
  checker.on_read_issued(43);
  checker.on_read_state(0, raft::ReadState{43, 2, true});
  ASSERT_TRUE(checker.failed());
  EXPECT_EQ(checker.violation().property, "ReadIndexSafety");
}

TEST(Checker, CatchesDifferentEntriesAppliedAtOneIndex) {
  Checker checker(2);
  raft::MemoryStorage storage;
  const std::vector<raft::Entry> entries{entry(1, 1, 10)};
  storage.append(entries);
  checker.on_entries_persisted(0, storage, entries);
  checker.on_hard_state_persisted(0, raft::HardState{1, 0, 0}, raft::HardState{1, 0, 1}, storage);
  checker.on_proposed(10, 1, 1);
  checker.on_applied(0, entries[0], 111);
  EXPECT_FALSE(checker.failed());
  checker.on_applied(1, entries[0], 222);  // same entry, different resulting state
  ASSERT_TRUE(checker.failed());
  EXPECT_EQ(checker.violation().property, "StateMachineSafety");
}

// --- the whole pipeline catches a broken host ----------------------------------------------

TEST(Simulator, CatchesAHostThatCorruptsWhatItPersists) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    SeedOptions options;
    options.bug = InjectedBug::kCorruptPersistedEntry;
    const SeedReport r = run_seed(seed, options);
    EXPECT_FALSE(r.ok) << "seed " << seed;
    EXPECT_TRUE(r.property == "LogMatching" || r.property == "StateMachineSafety")
        << r.property << ": " << r.description;
  }
}

// --- crash model ---------------------------------------------------------------------------

ClusterOptions quiet_cluster(size_t nodes) {
  ClusterOptions options;
  options.node_count = nodes;
  options.seed = 99;
  return options;
}

raft::NodeId elect(Cluster& cluster) {
  for (int t = 0; t < 1000 && cluster.leader() == raft::kNoNode; ++t) {
    cluster.run_tick(kDeliveriesMax);
  }
  return cluster.leader();
}

TEST(Cluster, CrashDuringPersistLosesTheWholeBatch) {
  Cluster cluster(quiet_cluster(3));
  const raft::NodeId leader = elect(cluster);
  ASSERT_NE(leader, raft::kNoNode);
  const raft::NodeId follower = (leader + 1) % 3;
  const raft::Index last_before = cluster.node(follower).storage().last_index();
  const raft::HardState hard_before = cluster.node(follower).storage().hard_state();

  cluster.node(follower).crash_at_next_sync(CrashPoint::kDuringPersist);
  const raft::ProposeResult r = cluster.propose(leader, Command{1, 0}, 32);
  ASSERT_EQ(r.status, raft::Status::kOk);
  cluster.deliver_due(kDeliveriesMax);
  EXPECT_FALSE(cluster.node(follower).alive());
  EXPECT_EQ(cluster.node(follower).storage().last_index(), last_before);
  EXPECT_EQ(cluster.node(follower).storage().hard_state(), hard_before);

  // The other two still form a majority; the restarted node catches up from its disk.
  cluster.restart(follower);
  for (int t = 0; t < 200; ++t) cluster.run_tick(kDeliveriesMax);
  ASSERT_FALSE(cluster.failed()) << cluster.checker()->violation().description;
  EXPECT_EQ(cluster.node(follower).state_machine().applied_index(),
            cluster.node(leader).state_machine().applied_index());
  EXPECT_GE(cluster.node(follower).state_machine().applied_index(), r.index);
}

TEST(Cluster, LeaderCrashBetweenItsAppendAndItsOwnWriteLosesNothingCommitted) {
  // Thesis §10.2.1: the leader's Append leaves before its write. If the leader dies before the
  // write, the followers hold an entry the leader never counted; a new leader commits it.
  Cluster cluster(quiet_cluster(3));
  const raft::NodeId leader = elect(cluster);
  ASSERT_NE(leader, raft::kNoNode);
  const raft::Index leader_last = cluster.node(leader).storage().last_index();
  cluster.node(leader).crash_at_next_sync(CrashPoint::kDuringPersist);
  const raft::ProposeResult r = cluster.propose(leader, Command{1, 0}, 32);
  ASSERT_EQ(r.status, raft::Status::kOk);
  EXPECT_FALSE(cluster.node(leader).alive());
  EXPECT_EQ(cluster.node(leader).storage().last_index(), leader_last) << "the write was lost";
  cluster.deliver_due(kDeliveriesMax);
  for (raft::NodeId n = 0; n < 3; ++n) {
    if (n != leader) {
      EXPECT_GE(cluster.node(n).storage().last_index(), r.index) << "n" << n << " got the Append";
    }
  }
  for (int t = 0; t < 300; ++t) cluster.run_tick(kDeliveriesMax);
  cluster.restart(leader);
  for (int t = 0; t < 300; ++t) cluster.run_tick(kDeliveriesMax);
  ASSERT_FALSE(cluster.failed()) << cluster.checker()->violation().description;
  EXPECT_TRUE(cluster.checker()->was_applied(1)) << "the new leader committed the entry";
  EXPECT_EQ(cluster.node(leader).state_machine().digest(),
            cluster.node((leader + 1) % 3).state_machine().digest());
}

// n0 wins term 1 with n1's vote; n1 restarts; n2, which never heard of n0, runs for term 1
// too. Returns the violated property ("" if none).
std::string run_same_term_rival(InjectedBug bug) {
  ClusterOptions options = quiet_cluster(3);
  options.bug = bug;
  options.config.pre_vote = false;
  Cluster cluster(options);
  // Every crash loses what was not synced: a vote must be synced to survive.
  for (raft::NodeId n = 0; n < 3; ++n) cluster.node(n).set_unsynced_loss_probability(1.0);
  cluster.network().cut_both(0, 2);
  cluster.campaign(0);
  cluster.deliver_due(1);  // n0's Vote reaches n1, which grants it
  cluster.deliver_due(1);  // the grant reaches n0: leader of term 1
  EXPECT_EQ(cluster.leader(), 0u);
  cluster.network().cut_both(0, 1);  // keep n1's log empty, so n2's log is as up to date
  cluster.crash(1);
  cluster.restart(1);
  cluster.campaign(2);
  cluster.deliver_due(kDeliveriesMax);
  return cluster.checker()->violation().property;
}

TEST(Cluster, RestartedVoterKeepsItsVote) {
  EXPECT_EQ(run_same_term_rival(InjectedBug::kNone), "");
}

TEST(Cluster, CatchesAHostThatForgetsItsVote) {
  EXPECT_EQ(run_same_term_rival(InjectedBug::kForgetVote), "SingleVote");
}

TEST(Cluster, CatchesAHostThatDoesNotSyncItsVote) {
  EXPECT_EQ(run_same_term_rival(InjectedBug::kVoteUnsynced), "SingleVote");
}

TEST(Cluster, RestartedNodeBehindTheSnapshotCatchesUpByChunkedInstallSnapshot) {
  ClusterOptions options = quiet_cluster(3);
  options.config.snapshot_chunk_bytes_max = 64;  // the 272-byte snapshot takes 5 chunks
  Cluster cluster(options);
  const raft::NodeId leader = elect(cluster);
  ASSERT_NE(leader, raft::kNoNode);
  const raft::NodeId lagging = (leader + 1) % 3;
  cluster.crash(lagging);
  for (uint64_t id = 1; id <= 100; ++id) {
    ASSERT_EQ(cluster.propose(leader, Command{id, 1}, 40).status, raft::Status::kOk);
    cluster.run_tick(kDeliveriesMax);
    for (raft::NodeId n = 0; n < 3; ++n) cluster.node(n).maybe_snapshot(20, 0);
  }
  cluster.restart(lagging);
  for (int t = 0; t < 200; ++t) cluster.run_tick(kDeliveriesMax);
  ASSERT_FALSE(cluster.failed()) << cluster.checker()->violation().description;
  EXPECT_GE(cluster.node(lagging).stats().snapshots_installed, 1u);
  EXPECT_EQ(cluster.node(lagging).state_machine().digest(),
            cluster.node(leader).state_machine().digest());
}

}  // namespace
}  // namespace sim
