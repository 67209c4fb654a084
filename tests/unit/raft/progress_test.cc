// Inflights, Progress and ProgressTracker: the leader's view of each follower and the quorum
// arithmetic over the voter set.
#include "raft/progress.h"

#include <gtest/gtest.h>

#include "test_cluster.h"

namespace raft::test {
namespace {

// --- Inflights: the pipelining bound ---

TEST(Inflights, FullAtCapacity) {
  Inflights in(3);
  in.add(1);
  in.add(2);
  EXPECT_FALSE(in.full());
  in.add(3);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 3u);
}

TEST(Inflights, FreeLeReleasesAppendsUpToIndex) {
  Inflights in(10);
  for (Index i = 1; i <= 5; ++i) in.add(i * 10);
  in.free_le(30);
  EXPECT_EQ(in.count(), 2u);
  in.free_le(29);
  EXPECT_EQ(in.count(), 2u) << "an older acknowledgement frees nothing more";
  in.free_le(45);
  EXPECT_EQ(in.count(), 1u);
  in.free_le(1000);
  EXPECT_EQ(in.count(), 0u);
}

TEST(Inflights, FreeingMakesRoomWhenFull) {
  Inflights in(2);
  in.add(5);
  in.add(9);
  ASSERT_TRUE(in.full());
  in.free_le(5);
  EXPECT_FALSE(in.full());
  in.add(12);
  EXPECT_TRUE(in.full());
}

TEST(Inflights, ResetEmpties) {
  Inflights in(2);
  in.add(1);
  in.add(2);
  in.reset();
  EXPECT_EQ(in.count(), 0u);
  EXPECT_FALSE(in.full());
}

// --- Progress ---

TEST(Progress, StartsInProbe) {
  Progress pr(4);
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.match_index, 0u);
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, MaybeUpdateAdvancesMatchAndNext) {
  Progress pr(4);
  pr.next_index = 5;
  EXPECT_TRUE(pr.maybe_update(7));
  EXPECT_EQ(pr.match_index, 7u);
  EXPECT_EQ(pr.next_index, 8u);
  EXPECT_FALSE(pr.maybe_update(7)) << "nothing new";
  EXPECT_FALSE(pr.maybe_update(6)) << "a stale answer";
  EXPECT_EQ(pr.match_index, 7u) << "match never moves backwards";
  EXPECT_EQ(pr.next_index, 8u);
}

TEST(Progress, MaybeUpdateDoesNotPullNextBack) {
  Progress pr(4);
  pr.become_replicate();
  pr.next_index = 20;  // Appends for 1..19 are in flight
  EXPECT_TRUE(pr.maybe_update(10));
  EXPECT_EQ(pr.match_index, 10u);
  EXPECT_EQ(pr.next_index, 20u);
}

TEST(Progress, BecomeReplicateSendsRightAfterMatch) {
  Progress pr(4);
  pr.match_index = 4;
  pr.next_index = 5;
  pr.become_replicate();
  EXPECT_EQ(pr.state, ProgressState::kReplicate);
  EXPECT_EQ(pr.next_index, 5u);
}

TEST(Progress, BecomeProbeFromReplicateRestartsAfterMatch) {
  Progress pr(4);
  pr.match_index = 4;
  pr.become_replicate();
  pr.next_index = 10;
  pr.inflights.add(7);
  pr.inflights.add(9);
  pr.become_probe();
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.next_index, 5u);
  EXPECT_FALSE(pr.probe_sent);
  EXPECT_EQ(pr.inflights.count(), 0u) << "the pipeline is abandoned";
}

TEST(Progress, BecomeSnapshotPausesAppendsUntilInstalled) {
  Progress pr(4);
  pr.match_index = 2;
  pr.become_replicate();
  pr.inflights.add(5);
  pr.become_snapshot(10);
  EXPECT_EQ(pr.state, ProgressState::kSnapshot);
  EXPECT_EQ(pr.snapshot_index, 10u);
  EXPECT_EQ(pr.snapshot_offset, 0u);
  EXPECT_EQ(pr.inflights.count(), 0u);
  EXPECT_TRUE(pr.is_paused()) << "Appends are paused while a snapshot is in flight";
  // The follower reports the snapshot installed: it matches at the snapshot index, and
  // replication resumes right after it.
  EXPECT_TRUE(pr.maybe_update(10));
  pr.become_probe();
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.next_index, 11u);
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, ProbeRejectionUsesFollowerHint) {
  // §5.3 fast back-off: jump to the follower's hint instead of decrementing by one.
  Progress pr(4);
  pr.next_index = 10;
  pr.probe_sent = true;
  EXPECT_TRUE(pr.maybe_decrease_to(9, 5));
  EXPECT_EQ(pr.next_index, 6u);
  EXPECT_FALSE(pr.probe_sent) << "a rejection frees the probe";
}

TEST(Progress, ProbeRejectionNeverGoesBelowMatch) {
  Progress pr(4);
  pr.match_index = 3;
  pr.next_index = 10;
  EXPECT_TRUE(pr.maybe_decrease_to(9, 0));
  EXPECT_EQ(pr.next_index, 4u);
}

TEST(Progress, ProbeRejectionWithHintPastRejectedIndexDecrementsByOne) {
  Progress pr(4);
  pr.next_index = 10;
  EXPECT_TRUE(pr.maybe_decrease_to(9, 20));
  EXPECT_EQ(pr.next_index, 9u);
}

TEST(Progress, StaleProbeRejectionIsIgnored) {
  Progress pr(4);
  pr.next_index = 6;
  EXPECT_FALSE(pr.maybe_decrease_to(3, 1)) << "not the Append we are waiting for";
  EXPECT_EQ(pr.next_index, 6u);
}

TEST(Progress, ReplicateRejectionFallsBackToMatch) {
  Progress pr(4);
  pr.match_index = 5;
  pr.become_replicate();
  pr.next_index = 10;
  EXPECT_FALSE(pr.maybe_decrease_to(5, 2)) << "rejection of an index already matched is stale";
  EXPECT_EQ(pr.next_index, 10u);
  EXPECT_TRUE(pr.maybe_decrease_to(7, 6));
  EXPECT_EQ(pr.next_index, 6u);
}

TEST(Progress, PausedByStateAndInflights) {
  Progress probe(2);
  probe.probe_sent = true;
  EXPECT_TRUE(probe.is_paused()) << "probe: one Append at a time";

  Progress replicate(2);
  replicate.become_replicate();
  replicate.inflights.add(1);
  EXPECT_FALSE(replicate.is_paused());
  replicate.inflights.add(2);
  EXPECT_TRUE(replicate.is_paused()) << "replicate: paused when the pipeline is full";
}

// --- ProgressTracker: the voter set and quorum arithmetic ---

ProgressTracker tracker_with(size_t voters, size_t inflight_max = 8) {
  ProgressTracker t(1, inflight_max);
  t.set_conf(ConfState{voter_ids(voters)});
  return t;
}

TEST(ProgressTracker, PeersAreVotersExceptSelf) {
  ProgressTracker t = tracker_with(3);
  ASSERT_EQ(t.peers().size(), 2u);
  EXPECT_EQ(t.peers().begin()->first, 2u);
  EXPECT_NE(t.find(3), nullptr);
  EXPECT_EQ(t.find(1), nullptr) << "self has no Progress";
  EXPECT_EQ(t.find(4), nullptr);
  EXPECT_TRUE(t.is_voter(1));
  EXPECT_TRUE(t.is_voter(3));
  EXPECT_FALSE(t.is_voter(4));
}

TEST(ProgressTracker, QuorumIsMajorityForOneToSevenVoters) {
  const int want[] = {0, 1, 2, 2, 3, 3, 4, 4};
  for (size_t n = 1; n <= 7; ++n) {
    EXPECT_EQ(tracker_with(n).quorum(), want[n]) << n << " voters";
  }
}

TEST(ProgressTracker, SetConfKeepsProgressOfVotersThatStay) {
  ProgressTracker t = tracker_with(3);
  t.find(2)->match_index = 7;
  t.set_conf(ConfState{{1, 2, 3, 4}});
  ASSERT_NE(t.find(2), nullptr);
  EXPECT_EQ(t.find(2)->match_index, 7u);
  EXPECT_NE(t.find(4), nullptr);
  t.set_conf(ConfState{{1, 2}});
  EXPECT_EQ(t.find(3), nullptr);
  EXPECT_EQ(t.quorum(), 2);
}

TEST(ProgressTracker, ResetAllStartsEveryPeerAfterLastIndex) {
  ProgressTracker t = tracker_with(3);
  t.find(2)->match_index = 4;
  t.find(2)->become_replicate();
  t.reset_all(9);
  for (const auto& [id, pr] : t.peers()) {
    EXPECT_EQ(pr.match_index, 0u) << id;
    EXPECT_EQ(pr.next_index, 10u) << id;
    EXPECT_EQ(pr.state, ProgressState::kProbe) << id;
  }
}

struct QuorumCase {
  size_t voters;
  uint64_t self;
  std::vector<uint64_t> peers;  // for voters 2..n
  uint64_t want;
};

const std::vector<QuorumCase>& quorum_cases() {
  static const std::vector<QuorumCase> cases = {
      {1, 5, {}, 5},           {2, 5, {3}, 3},          {2, 5, {0}, 0},
      {3, 5, {3, 1}, 3},       {3, 5, {0, 0}, 0},       {3, 5, {5, 5}, 5},
      {4, 5, {4, 3, 1}, 3},    {4, 5, {4, 0, 0}, 0},    {5, 5, {5, 4, 2, 1}, 4},
      {5, 5, {1, 1, 1, 1}, 1}, {5, 2, {9, 9, 9, 9}, 9},
  };
  return cases;
}

TEST(ProgressTracker, QuorumMatchIsLargestIndexOnAMajority) {
  for (const QuorumCase& c : quorum_cases()) {
    ProgressTracker t = tracker_with(c.voters);
    for (size_t k = 0; k < c.peers.size(); ++k) t.find(k + 2)->match_index = c.peers[k];
    EXPECT_EQ(t.quorum_match(c.self), c.want) << c.voters << " voters, self " << c.self;
  }
}

TEST(ProgressTracker, QuorumReadRoundIsLargestRoundEchoedByAMajority) {
  for (const QuorumCase& c : quorum_cases()) {
    ProgressTracker t = tracker_with(c.voters);
    for (size_t k = 0; k < c.peers.size(); ++k) t.find(k + 2)->read_round_acked = c.peers[k];
    EXPECT_EQ(t.quorum_read_round(c.self), c.want) << c.voters << " voters, self " << c.self;
  }
}

TEST(ProgressTracker, TallyCountsGrantsAndRejections) {
  struct Case {
    size_t voters;
    std::map<NodeId, bool> votes;  // always includes the candidate's own vote
    int want;
  };
  const std::vector<Case> cases = {
      {1, {{1, true}}, +1},
      {3, {{1, true}}, 0},
      {3, {{1, true}, {2, true}}, +1},
      {3, {{1, true}, {2, false}}, 0},
      {3, {{1, true}, {2, false}, {3, false}}, -1},
      {4, {{1, true}, {2, true}}, 0},
      {4, {{1, true}, {2, false}, {3, false}}, -1},
      {5, {{1, true}, {2, true}, {3, true}}, +1},
      {5, {{1, true}, {2, false}, {3, false}}, 0},
      {5, {{1, true}, {2, false}, {3, false}, {4, false}}, -1},
      {5, {{1, true}, {2, true}, {3, false}, {4, false}, {5, false}}, -1},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(tracker_with(cases[i].voters).tally(cases[i].votes), cases[i].want) << "case " << i;
  }
}

TEST(ProgressTracker, QuorumActiveCountsSelfAndClearsMarks) {
  ProgressTracker t = tracker_with(3);
  EXPECT_FALSE(t.quorum_active_and_reset()) << "only self was heard from";
  t.find(3)->recent_active = true;
  EXPECT_TRUE(t.quorum_active_and_reset());
  EXPECT_FALSE(t.find(3)->recent_active) << "marks are cleared for the next round";
  EXPECT_FALSE(t.quorum_active_and_reset());

  ProgressTracker single = tracker_with(1);
  EXPECT_TRUE(single.quorum_active_and_reset());
}

}  // namespace
}  // namespace raft::test
