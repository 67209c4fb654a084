// The Raft paper as tests. Each test turns one claim of "In Search of an Understandable Consensus
// Algorithm (Extended Version)", Ongaro & Ousterhout 2014, into a scenario and cites its section
// in the suite name (PaperSec5_2 is §5.2). The ReadIndex, PreVote, CheckQuorum and leadership
// transfer tests cite Ongaro's thesis (2014), where those mechanisms are specified.
//
// Unless a test says otherwise, nodes run the plain §5 algorithm (test_config: no PreVote, no
// CheckQuorum), election timeout 10 ticks, heartbeat every tick, fixed per-node seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "test_cluster.h"

namespace raft::test {
namespace {

using enum MessageType;
using enum Role;

TestNode node_with_log(NodeId id, size_t voters, const std::vector<Term>& terms,
                       const HardState& hs) {
  TestNode n = node_of(id, voters);
  n.load(make_entries(1, terms), hs);
  return n;
}

Config realistic(Config c) {
  c.pre_vote = true;
  c.check_quorum = true;
  return c;
}

void use_realistic(Config& c) { c = realistic(c); }

// ---------------------------------------------------------------------------------------------
// §5.1 Raft basics: terms.
// "If one server's current term is smaller than the other's, then it updates its current term
// to the larger value. If a candidate or leader discovers that its term is out of date, it
// immediately reverts to follower state. If a server receives a request with a stale term
// number, it rejects the request."

void expect_adopts_higher_term(TestNode& n) {
  const Term higher = n.core().term() + 1;
  n.step(make_append(2, n.id(), higher, 0, 0, {}, 0));
  EXPECT_EQ(n.core().term(), higher);
  EXPECT_EQ(n.core().role(), kFollower);
  EXPECT_EQ(n.core().leader(), 2u);
  EXPECT_EQ(n.storage().hard_state().current_term, higher) << "the new term is persisted";
}

TEST(PaperSec5_1, FollowerAdoptsHigherTermFromMessage) {
  TestNode n = node_of(1, 3);
  make_follower(n, 3, 1);
  expect_adopts_higher_term(n);
}

TEST(PaperSec5_1, CandidateRevertsToFollowerOnHigherTerm) {
  TestNode n = node_of(1, 3);
  n.core().campaign();
  n.run();
  ASSERT_EQ(n.core().role(), kCandidate);
  expect_adopts_higher_term(n);
}

TEST(PaperSec5_1, LeaderRevertsToFollowerOnHigherTerm) {
  TestNode n = node_of(1, 3);
  ASSERT_TRUE(win_election(n));
  expect_adopts_higher_term(n);
}

TEST(PaperSec5_1, StaleTermAppendIsRejected) {
  TestNode n = node_of(1, 3);
  n.load({}, HardState{2, kNoNode, 0});
  n.step(make_append(2, 1, 1, 0, 0, make_entries(1, {1}), 0));
  EXPECT_EQ(n.core().term(), 2u);
  EXPECT_EQ(n.storage().last_index(), 0u) << "entries of a stale leader are not appended";
  EXPECT_EQ(n.core().leader(), kNoNode) << "a stale leader is not recognized";
  for (const Message& m : n.take_sent()) {
    EXPECT_FALSE(m.type == kAppendResp && !m.reject) << "a stale Append must not succeed";
    EXPECT_EQ(m.term, 2u) << "any answer carries the newer term so the stale leader steps down";
  }
}

TEST(PaperSec5_1, StaleTermVoteIsNotGranted) {
  TestNode n = node_of(1, 3);
  n.load({}, HardState{2, kNoNode, 0});
  n.step(make_vote(kVote, 2, 1, 1, 5, 1));
  for (const Message& m : n.take_sent()) {
    EXPECT_FALSE(m.type == kVoteResp && !m.reject) << "vote granted to a stale candidate";
  }
  EXPECT_EQ(n.storage().hard_state().voted_for, kNoNode);
  EXPECT_EQ(n.core().term(), 2u);
}

TEST(PaperSec5_1, LeaderIgnoresStaleTermMessages) {
  TestNode n = node_of(1, 3);
  n.load({}, HardState{1, kNoNode, 0});
  ASSERT_TRUE(win_election(n));
  const Term term = n.core().term();
  n.step(make_append(2, 1, term - 1, 0, 0, {}, 0));
  n.step(make_msg(kHeartbeat, 3, 1, term - 1));
  n.step(make_vote(kVote, 2, 1, term - 1, 100, term - 1));
  EXPECT_EQ(n.core().role(), kLeader);
  EXPECT_EQ(n.core().term(), term);
}

// ---------------------------------------------------------------------------------------------
// §5.2 Leader election.

TEST(PaperSec5_2, NodesStartAsFollowers) {
  // "When servers start up, they begin as followers."
  TestNode n = node_of(1, 3);
  EXPECT_EQ(n.core().role(), kFollower);
  EXPECT_EQ(n.core().term(), 0u);
  EXPECT_EQ(n.core().leader(), kNoNode);
}

TEST(PaperSec5_2, LeaderSendsHeartbeatsEveryInterval) {
  // "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
  // followers in order to maintain their authority."
  Config c = test_config(1, voter_ids(3));
  c.heartbeat_interval_ticks = 3;
  TestNode n(c);
  ASSERT_TRUE(win_election(n));
  ack_all_appends(n);
  n.tick(2);
  EXPECT_TRUE(of_type(n.take_sent(), kHeartbeat).empty()) << "heartbeat before the interval";
  n.tick();
  const std::vector<Message> sent = n.take_sent();
  const std::vector<Message> beats = of_type(sent, kHeartbeat);
  ASSERT_EQ(beats.size(), 2u);
  for (const Message& m : beats) {
    EXPECT_EQ(m.term, n.core().term());
    EXPECT_TRUE(m.entries.empty());
    EXPECT_EQ(m.commit, n.core().commit_index()) << "both followers match the commit index";
  }
  EXPECT_NE(beats[0].to, beats[1].to);
  EXPECT_TRUE(of_type(sent, kAppend).empty()) << "nothing to replicate";
}

TEST(PaperSec5_2, FollowerStaysFollowerWhileHearingFromLeader) {
  // "A server remains in follower state as long as it receives valid RPCs from a leader."
  TestNode n = node_of(1, 3);
  for (int i = 0; i < 5 * kElectionTicks; ++i) {
    make_follower(n, 2, 1);
    n.tick();
  }
  EXPECT_EQ(n.core().role(), kFollower);
  EXPECT_EQ(n.core().term(), 1u);
  EXPECT_TRUE(of_type(n.take_sent(), kVote).empty());
}

TEST(PaperSec5_2, FollowerStartsElectionAfterTimeout) {
  // "If a follower receives no communication over a period of time called the election timeout,
  // then it ... begins an election ... increments its current term and transitions to candidate
  // state. It then votes for itself and issues RequestVote RPCs in parallel to each of the other
  // servers."
  TestNode n = node_with_log(1, 3, {1}, HardState{1, kNoNode, 0});
  make_follower(n, 2, 1);
  n.take_sent();
  for (int i = 0; i < 2 * kElectionTicks && n.core().role() == kFollower; ++i) n.tick();
  ASSERT_EQ(n.core().role(), kCandidate);
  EXPECT_EQ(n.core().term(), 2u);
  EXPECT_EQ(n.storage().hard_state().current_term, 2u);
  EXPECT_EQ(n.storage().hard_state().voted_for, 1u) << "votes for itself, durably";
  const std::vector<Message> votes = of_type(n.take_sent(), kVote);
  ASSERT_EQ(votes.size(), 2u);
  std::set<NodeId> to;
  for (const Message& m : votes) {
    to.insert(m.to);
    EXPECT_EQ(m.term, 2u);
    EXPECT_EQ(m.index, 1u) << "candidate's last log index";
    EXPECT_EQ(m.log_term, 1u) << "candidate's last log term";
  }
  EXPECT_EQ(to, (std::set<NodeId>{2, 3}));
}

TEST(PaperSec5_2, CandidateStartsNewElectionAfterTimeout) {
  // "If many followers become candidates at the same time, votes could be split ... each
  // candidate will time out and start a new election by incrementing its term and initiating
  // another round of RequestVote RPCs."
  TestNode n = node_of(1, 3);
  n.core().campaign();
  n.run();
  ASSERT_EQ(n.core().role(), kCandidate);
  ASSERT_EQ(n.core().term(), 1u);
  n.take_sent();
  for (int i = 0; i < 2 * kElectionTicks && n.core().term() == 1; ++i) n.tick();
  EXPECT_EQ(n.core().role(), kCandidate);
  EXPECT_EQ(n.core().term(), 2u);
  const std::vector<Message> votes = of_type(n.take_sent(), kVote);
  ASSERT_EQ(votes.size(), 2u);
  for (const Message& m : votes) EXPECT_EQ(m.term, 2u);
}

TEST(PaperSec5_2, CandidatePersistsVoteForItselfBeforeRequestingVotes) {
  // Figure 2: currentTerm and votedFor are persistent state, updated on stable storage before
  // responding to RPCs. The harness's send() also checks this for every Vote it is handed.
  TestNode n = node_of(1, 3);
  n.core().campaign();
  n.run();
  EXPECT_EQ(n.storage().hard_state().current_term, 1u);
  EXPECT_EQ(n.storage().hard_state().voted_for, 1u);
  const auto persist = std::find(n.io_calls.begin(), n.io_calls.end(), "persist");
  const auto send = std::find(n.io_calls.begin(), n.io_calls.end(), "send");
  ASSERT_NE(send, n.io_calls.end());
  EXPECT_LT(persist, send);
}

TEST(PaperSec5_2, ElectionOutcomeAfterOneRoundOfVotes) {
  // "A candidate wins an election if it receives votes from a majority of the servers in the
  // full cluster for the same term." A majority of rejections ends the election as a follower
  // (etcd behaviour; the paper leaves it to the timeout); otherwise it stays a candidate.
  struct Case {
    size_t voters;
    std::map<NodeId, bool> votes;
    Role want;
  };
  const std::vector<Case> cases = {
      {1, {}, kLeader},
      {3, {{2, true}, {3, true}}, kLeader},
      {3, {{2, true}}, kLeader},
      {5, {{2, true}, {3, true}, {4, true}, {5, true}}, kLeader},
      {5, {{2, true}, {3, true}}, kLeader},
      {3, {{2, false}, {3, false}}, kFollower},
      {5, {{2, false}, {3, false}, {4, false}, {5, false}}, kFollower},
      {5, {{2, true}, {3, false}, {4, false}, {5, false}}, kFollower},
      {3, {}, kCandidate},
      {5, {{2, true}}, kCandidate},
      {5, {{2, false}, {3, false}}, kCandidate},
      {5, {}, kCandidate},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode n = node_of(1, cases[i].voters);
    n.core().campaign();
    n.run();
    for (const auto& [from, granted] : cases[i].votes) {
      Message r = make_msg(kVoteResp, from, 1, n.core().term());
      r.reject = !granted;
      n.step(r);
    }
    EXPECT_EQ(n.core().role(), cases[i].want) << "case " << i;
    EXPECT_EQ(n.core().term(), 1u) << "case " << i;
  }
}

TEST(PaperSec5_2, FollowerVotesAtMostOncePerTerm) {
  // "Each server will vote for at most one candidate in a given term, on a first-come-first-
  // served basis." Repeating the same grant is harmless (a lost VoteResp is retried).
  struct Case {
    NodeId voted_for;
    NodeId candidate;
    bool want_reject;
  };
  const std::vector<Case> cases = {
      {kNoNode, 2, false}, {kNoNode, 3, false}, {2, 2, false},
      {3, 3, false},       {2, 3, true},        {3, 2, true},
  };
  for (const Case& c : cases) {
    TestNode n = node_of(1, 3);
    n.load({}, HardState{1, c.voted_for, 0});
    n.step(make_vote(kVote, c.candidate, 1, 1, 0, 0));
    const std::vector<Message> resp = of_type(n.take_sent(), kVoteResp);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_EQ(resp[0].to, c.candidate);
    EXPECT_EQ(resp[0].term, 1u);
    EXPECT_EQ(resp[0].reject, c.want_reject)
        << "voted for " << c.voted_for << ", asked by " << c.candidate;
    EXPECT_EQ(n.storage().hard_state().voted_for,
              c.voted_for == kNoNode ? c.candidate : c.voted_for);
  }
}

TEST(PaperSec5_2, VoteSurvivesRestart) {
  // votedFor is persistent (Figure 2): a node that crashes after voting must not vote again in
  // the same term for someone else.
  TestNode n = node_of(1, 3);
  n.step(make_vote(kVote, 2, 1, 1, 0, 0));
  ASSERT_FALSE(of_type(n.take_sent(), kVoteResp).at(0).reject);
  n.restart();
  EXPECT_EQ(n.core().term(), 1u);
  n.step(make_vote(kVote, 3, 1, 1, 0, 0));
  std::vector<Message> resp = of_type(n.take_sent(), kVoteResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].reject) << "voted twice in term 1 after a restart";
  n.step(make_vote(kVote, 2, 1, 1, 0, 0));
  resp = of_type(n.take_sent(), kVoteResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
}

TEST(PaperSec5_2, CandidateStepsDownOnAppendFromLeaderOfSameTerm) {
  // "If the leader's term ... is at least as large as the candidate's current term, then the
  // candidate recognizes the leader as legitimate and returns to follower state."
  for (const Term leader_term : {Term{1}, Term{2}}) {
    TestNode n = node_of(1, 3);
    n.core().campaign();
    n.run();
    ASSERT_EQ(n.core().role(), kCandidate);
    n.step(make_append(2, 1, leader_term, 0, 0, {}, 0));
    EXPECT_EQ(n.core().role(), kFollower) << "leader term " << leader_term;
    EXPECT_EQ(n.core().leader(), 2u);
    EXPECT_EQ(n.core().term(), leader_term);
  }
}

TEST(PaperSec5_2, CandidateWinsWithVotesFromMajority) {
  Cluster c(3);
  c.stop(3);
  c.campaign(1);
  EXPECT_EQ(c.node(1).core().role(), kLeader) << "2 of 3 votes suffice";
  EXPECT_EQ(c.node(2).core().role(), kFollower);
  EXPECT_EQ(c.node(2).core().leader(), 1u);
  EXPECT_EQ(c.node(2).core().term(), c.node(1).core().term());
}

TEST(PaperSec5_2, CandidateWithoutMajorityDoesNotWin) {
  Cluster c(3);
  c.stop(2);
  c.stop(3);
  c.campaign(1);
  c.tick(1, 3 * kElectionTicks);
  EXPECT_NE(c.node(1).core().role(), kLeader);
}

TEST(PaperSec5_2, NewLeaderAppendsNoopEntry) {
  // §8: "each leader commit[s] a blank no-op entry into the log at the start of its term".
  Cluster c(3);
  c.campaign(1);
  TestNode& leader = c.node(1);
  ASSERT_EQ(leader.core().role(), kLeader);
  const std::vector<Entry> log = stored_log(leader.storage());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].type, EntryType::kNoop);
  EXPECT_EQ(log[0].term, leader.core().term());
  EXPECT_EQ(leader.core().commit_index(), 1u);
  EXPECT_TRUE(leader.state().empty()) << "the state machine skips the noop";
}

TEST(PaperSec5_2, SplitVoteLeadsToNewElection) {
  // Two candidates in a 4-node cluster each get 2 of 4 votes; nobody wins term 1, and
  // randomized timeouts elect a leader in a later term.
  Cluster c(4);
  c.set_filter([](Message& m) {
    const bool one_to_four = m.type == kVote && m.from == 1 && m.to == 4;
    const bool three_to_two = m.type == kVote && m.from == 3 && m.to == 2;
    return !one_to_four && !three_to_two;
  });
  c.node(1).core().campaign();
  c.node(3).core().campaign();
  c.stabilize();
  EXPECT_EQ(c.leader(), kNoNode) << "2 of 4 votes is not a majority";
  EXPECT_EQ(c.node(1).core().term(), 1u);
  EXPECT_EQ(c.node(3).core().term(), 1u);
  c.set_filter(nullptr);
  ASSERT_TRUE(c.tick_until([&] { return c.leader() != kNoNode; }, 10 * kElectionTicks));
  EXPECT_GE(c.node(c.leader()).core().term(), 2u);
}

TEST(PaperSec5_2, FollowersElectNewLeaderAfterLeaderCrash) {
  Cluster c(3);
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  c.stop(1);
  ASSERT_TRUE(c.tick_until([&] { return c.leader() != kNoNode; }, 5 * kElectionTicks));
  EXPECT_NE(c.leader(), 1u);
  EXPECT_GE(c.node(c.leader()).core().term(), 2u);
}

TEST(PaperSec5_2, FollowerElectionTimeoutIsRandomizedInRange) {
  // "Raft uses randomized election timeouts ... chosen randomly from a fixed interval". Ours is
  // [t, 2t) ticks, drawn anew for each term from the node's seed.
  TestNode n = node_of(1, 3);
  std::set<int> seen;
  for (int round = 0; round < 200; ++round) {
    make_follower(n, 2, n.core().term() + 1);
    int ticks = 0;
    while (n.core().role() == kFollower && ticks < 3 * kElectionTicks) {
      n.tick();
      ++ticks;
    }
    ASSERT_EQ(n.core().role(), kCandidate) << "round " << round;
    EXPECT_GE(ticks, kElectionTicks) << "round " << round;
    EXPECT_LT(ticks, 2 * kElectionTicks) << "round " << round;
    seen.insert(ticks);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kElectionTicks)) << "every value of [t, 2t) occurs";
}

TEST(PaperSec5_2, CandidateElectionTimeoutIsRandomizedInRange) {
  TestNode n = node_of(1, 3);
  n.core().campaign();
  n.run();
  std::set<int> seen;
  for (int round = 0; round < 200; ++round) {
    const Term term = n.core().term();
    int ticks = 0;
    while (n.core().term() == term && ticks < 3 * kElectionTicks) {
      n.tick();
      ++ticks;
    }
    ASSERT_EQ(n.core().role(), kCandidate);
    EXPECT_GE(ticks, kElectionTicks) << "round " << round;
    EXPECT_LT(ticks, 2 * kElectionTicks) << "round " << round;
    seen.insert(ticks);
  }
  EXPECT_GT(seen.size(), static_cast<size_t>(kElectionTicks / 2));
}

TEST(PaperSec5_2, NodesWithDifferentSeedsTimeOutAtDifferentTicks) {
  // Randomization is per node (Config::seed), which is what makes split votes rare.
  std::set<std::vector<int>> schedules;
  for (NodeId id = 1; id <= 3; ++id) {
    TestNode n = node_of(id, 3);
    std::vector<int> timeouts;
    for (int round = 0; round < 10; ++round) {
      make_follower(n, id == 1 ? 2 : 1, n.core().term() + 1);
      int ticks = 0;
      while (n.core().role() == kFollower && ticks < 3 * kElectionTicks) {
        n.tick();
        ++ticks;
      }
      timeouts.push_back(ticks);
    }
    schedules.insert(timeouts);
  }
  EXPECT_EQ(schedules.size(), 3u) << "three seeds, three different timeout sequences";
}

// ---------------------------------------------------------------------------------------------
// §5.3 Log replication.

TEST(PaperSec5_3, LeaderAppendsProposalAndReplicatesIt) {
  // "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in
  // parallel to each of the other servers ... the leader includes the index and term of the
  // entry in its log that immediately precedes the new entries."
  TestNode n = node_of(1, 3);
  ASSERT_TRUE(win_election(n));
  ack_all_appends(n);
  const Index li = n.core().last_index();
  const Term term = n.core().term();
  const ProposeResult r = n.core().propose(Payload(std::string("some data")));
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.index, li + 1);
  EXPECT_EQ(r.term, term);
  n.run();
  EXPECT_EQ(n.storage().last_index(), li + 1) << "the leader persists its own entry";
  EXPECT_EQ(n.core().commit_index(), li) << "not committed before replication";
  const std::vector<Message> sent = n.take_sent();
  for (NodeId to : {NodeId{2}, NodeId{3}}) {
    bool found = false;
    for (const Message& m : of_type_to(sent, kAppend, to)) {
      if (m.entries.empty()) continue;
      found = true;
      EXPECT_EQ(m.index, li);
      EXPECT_EQ(m.log_term, term);
      ASSERT_EQ(m.entries.size(), 1u);
      EXPECT_EQ(m.entries[0],
                (Entry{term, li + 1, EntryType::kNormal, Payload(std::string("some data"))}));
      EXPECT_EQ(m.commit, li);
    }
    EXPECT_TRUE(found) << "no Append with the new entry for " << to;
  }
}

TEST(PaperSec5_3, LeaderCommitsEntryOnceReplicatedOnMajority) {
  // "A log entry is committed once the leader that created the entry has replicated it on a
  // majority of the servers."
  struct Case {
    size_t voters;
    std::set<NodeId> acceptors;
    bool want_commit;
  };
  const std::vector<Case> cases = {
      {1, {}, true},     {3, {}, false},       {3, {2}, true},
      {3, {2, 3}, true}, {5, {}, false},       {5, {2}, false},
      {5, {2, 3}, true}, {5, {2, 3, 4}, true}, {5, {2, 3, 4, 5}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode n = node_of(1, cases[i].voters);
    ASSERT_TRUE(win_election(n));
    ack_all_appends(n);
    const Index li = n.core().last_index();
    ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
    n.run();
    for (const Message& m : of_type(n.take_sent(), kAppend)) {
      if (cases[i].acceptors.count(m.to)) n.step(accept_append(m));
    }
    EXPECT_EQ(n.core().commit_index() > li, cases[i].want_commit) << "case " << i;
  }
}

TEST(PaperSec5_3, LeaderAdvertisesCommitIndexToFollowers) {
  // "The leader keeps track of the highest index it knows to be committed, and it includes that
  // index in future AppendEntries RPCs (including heartbeats) so that the other servers
  // eventually find out."
  TestNode n = node_of(1, 3);
  ASSERT_TRUE(win_election(n));
  ack_all_appends(n);
  ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
  n.run();
  ack_all_appends(n);
  const Index committed = n.core().commit_index();
  ASSERT_EQ(committed, n.core().last_index());
  n.tick();
  const std::vector<Message> sent = n.take_sent();
  for (NodeId to : {NodeId{2}, NodeId{3}}) {
    Index best = 0;
    for (const Message& m : sent) {
      if (m.to == to && (m.type == kHeartbeat || m.type == kAppend))
        best = std::max(best, m.commit);
    }
    EXPECT_EQ(best, committed) << "follower " << to;
  }
}

TEST(PaperSec5_3, FollowerAppliesEntriesUpToLeaderCommit) {
  // "Once a follower learns that a log entry is committed, it applies the entry to its local
  // state machine (in log order)."
  TestNode n = node_of(1, 3);
  n.step(make_append(2, 1, 1, 0, 0, make_entries(1, {1, 1}), 1));
  EXPECT_EQ(n.core().commit_index(), 1u);
  EXPECT_EQ(n.state(), (std::vector<std::string>{"e1"}));
  Message beat = make_msg(kHeartbeat, 2, 1, 1);
  beat.commit = 2;
  n.step(beat);
  EXPECT_EQ(n.core().commit_index(), 2u);
  EXPECT_EQ(n.state(), (std::vector<std::string>{"e1", "e2"}));
}

TEST(PaperSec5_3, FollowerCommitIsCappedByLastNewEntry) {
  // Figure 2, AppendEntries rule 5: commitIndex = min(leaderCommit, index of last new entry).
  TestNode n = node_with_log(1, 3, {1, 1, 1}, HardState{1, kNoNode, 0});
  n.step(make_append(2, 1, 1, 1, 1, {}, 3));
  EXPECT_EQ(n.core().commit_index(), 1u)
      << "entries 2 and 3 were not verified by this Append; they may still be replaced";
}

TEST(PaperSec5_3, FollowerChecksPrecedingEntryAndHintsOnMismatch) {
  // "If the follower does not find an entry in its log with the same index and term, then it
  // refuses the new entries." The rejection carries the fast back-off hint (§5.3, end): the
  // largest index <= min(rejected index, last index) whose term <= the leader's log_term, and
  // that entry's term (etcd's findConflictByTerm).
  struct Case {
    Index index;
    Term log_term;
    bool want_reject;
    Index want_index;
    Index want_hint;
    Term want_hint_term;
  };
  const std::vector<Case> cases = {
      {0, 0, false, 0, 0, 0}, {1, 1, false, 1, 0, 0}, {2, 2, false, 2, 0, 0},
      {2, 1, true, 2, 1, 1},  {3, 3, true, 3, 2, 2},  {1, 2, true, 1, 1, 1},
  };
  for (const Case& c : cases) {
    TestNode n = node_with_log(1, 3, {1, 2}, HardState{2, kNoNode, 0});
    // A leader's prev entry is never newer than its own term (raft/validate.h drops that), so
    // the prev (3, 3) case comes from a leader of term 3.
    n.step(make_append(2, 1, std::max<Term>(2, c.log_term), c.index, c.log_term, {}, 0));
    const std::vector<Message> resp = of_type(n.take_sent(), kAppendResp);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_EQ(resp[0].reject, c.want_reject) << "prev (" << c.index << ", " << c.log_term << ")";
    EXPECT_EQ(resp[0].index, c.want_index) << "prev (" << c.index << ", " << c.log_term << ")";
    if (c.want_reject) {
      EXPECT_EQ(resp[0].reject_hint, c.want_hint)
          << "prev (" << c.index << ", " << c.log_term << ")";
      EXPECT_EQ(resp[0].log_term, c.want_hint_term)
          << "prev (" << c.index << ", " << c.log_term << ")";
    }
    EXPECT_EQ(stored_terms(n.storage()), (std::vector<Term>{1, 2})) << "log unchanged";
  }
}

TEST(PaperSec5_3, FollowerTruncatesConflictingSuffix) {
  // "If an existing entry conflicts with a new one (same index but different terms), delete the
  // existing entry and all that follow it. Append any new entries not already in the log."
  struct Case {
    Index prev_index;
    Term prev_term;
    std::vector<Entry> entries;
    std::vector<Term> want_terms;
  };
  const std::vector<Case> cases = {
      {2, 2, make_entries(3, {3}), {1, 2, 3}},
      {1, 1, make_entries(2, {3, 4}), {1, 3, 4}},
      {0, 0, make_entries(1, {1}), {1, 2}},  // already present: nothing is deleted
      {0, 0, make_entries(1, {3}), {3}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    TestNode n = node_with_log(1, 3, {1, 2}, HardState{2, kNoNode, 0});
    n.step(make_append(2, 1, 4, c.prev_index, c.prev_term, c.entries, 0));
    EXPECT_EQ(stored_terms(n.storage()), c.want_terms) << "case " << i;
    const std::vector<Message> resp = of_type(n.take_sent(), kAppendResp);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_FALSE(resp[0].reject);
    EXPECT_EQ(resp[0].index, c.prev_index + c.entries.size()) << "case " << i;
  }
}

TEST(PaperSec5_3, LeaderBringsFollowerLogsIntoAgreement) {
  // Figure 7: whatever the follower's log (missing entries, extra uncommitted entries, or both),
  // the leader "forces the followers' logs to duplicate its own".
  const std::vector<Term> leader_log = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<Term>> follower_logs = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a)
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d)
      {1, 1, 1, 4, 4, 4, 4},                 // (e)
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f)
  };
  for (size_t i = 0; i < follower_logs.size(); ++i) {
    Cluster c(3);
    c.node(1).load(make_entries(1, leader_log), HardState{7, kNoNode, 0});
    c.node(2).load(make_entries(1, follower_logs[i]), HardState{7, kNoNode, 0});
    c.node(3).load(make_entries(1, leader_log), HardState{7, kNoNode, 0});
    c.campaign(1);
    ASSERT_EQ(c.leader(), 1u) << "case (" << static_cast<char>('a' + i) << ")";
    c.tick(1);
    EXPECT_EQ(stored_log(c.node(2).storage()), stored_log(c.node(1).storage()))
        << "case (" << static_cast<char>('a' + i) << ")";
    EXPECT_EQ(c.node(2).core().commit_index(), c.node(1).core().commit_index());
  }
}

TEST(PaperSec5_3, HeartbeatNeverCommitsPastFollowersMatch) {
  // A follower may only commit entries it is known to share with the leader; the heartbeat's
  // commit is min(commit index, follower's match index).
  Cluster c(3);
  c.campaign(1);
  const Index match = c.node(3).storage().last_index();
  c.set_filter([](Message& m) { return !(m.type == kAppend && m.to == 3); });
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  ASSERT_GT(c.node(1).core().commit_index(), match);
  c.clear_trace();
  c.tick(1);
  bool saw = false;
  for (const Message& m : c.trace) {
    if (m.type == kHeartbeat && m.to == 3) {
      saw = true;
      EXPECT_LE(m.commit, match);
    }
  }
  EXPECT_TRUE(saw);
  EXPECT_LE(c.node(3).core().commit_index(), match);
}

TEST(PaperSec5_3, CommittingAnEntryCommitsAllPrecedingEntries) {
  // "This also commits all preceding entries in the leader's log, including entries created by
  // previous leaders."
  TestNode n = node_with_log(1, 3, {1, 2}, HardState{2, kNoNode, 0});
  ASSERT_TRUE(win_election(n));
  ack_all_appends(n);
  ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
  n.run();
  ack_all_appends(n);
  EXPECT_EQ(n.core().commit_index(), 4u);
  EXPECT_EQ(n.applied(), 4u);
  EXPECT_EQ(n.state(), (std::vector<std::string>{"e1", "e2", "x"}));
}

// ---------------------------------------------------------------------------------------------
// §5.4.1 Election restriction.

TEST(PaperSec5_4_1, VoterRejectsLessUpToDateCandidate) {
  // "The voter denies its vote if its own log is more up-to-date than that of the candidate ...
  // If the logs have last entries with different terms, then the log with the later term is more
  // up-to-date. If the logs end with the same term, then whichever log is longer is more
  // up-to-date."
  struct Case {
    std::vector<Term> voter_log;
    Index last_index;
    Term last_term;
    bool want_reject;
  };
  const std::vector<Case> cases = {
      // same last term: by length
      {{1}, 1, 1, false},
      {{1}, 2, 1, false},
      {{1, 1}, 1, 1, true},
      // candidate's last term is later: grant whatever the length
      {{1}, 1, 2, false},
      {{1}, 2, 2, false},
      {{1, 1}, 1, 2, false},
      // candidate's last term is earlier: reject whatever the length
      {{2}, 1, 1, true},
      {{2}, 2, 1, true},
      {{2, 1}, 1, 1, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    TestNode n = node_with_log(1, 3, c.voter_log, HardState{2, kNoNode, 0});
    n.step(make_vote(kVote, 2, 1, 3, c.last_index, c.last_term));
    const std::vector<Message> resp = of_type(n.take_sent(), kVoteResp);
    ASSERT_EQ(resp.size(), 1u) << "case " << i;
    EXPECT_EQ(resp[0].reject, c.want_reject) << "case " << i;
    EXPECT_EQ(resp[0].term, 3u) << "case " << i;
  }
}

TEST(PaperSec5_4_1, OnlyANodeWithAllCommittedEntriesCanBeElected) {
  // Leader Completeness: entries committed on {1, 2} while 3 was cut off. After 1 crashes, 3
  // (missing them) cannot win; 2 can, and it still has them.
  Cluster c(3);
  c.campaign(1);
  c.isolate(3);
  ASSERT_EQ(c.propose(1, "a").status, Status::kOk);
  ASSERT_EQ(c.propose(1, "b").status, Status::kOk);
  const Index committed = c.node(1).core().commit_index();
  ASSERT_EQ(committed, 3u);
  c.stop(1);
  c.heal();
  c.campaign(3);
  EXPECT_NE(c.node(3).core().role(), kLeader) << "2 must refuse a candidate missing entries";
  c.campaign(2);
  ASSERT_EQ(c.leader(), 2u);
  c.tick(2);
  EXPECT_GE(c.node(2).core().commit_index(), committed);
  EXPECT_EQ(c.node(2).state(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.node(3).state(), (std::vector<std::string>{"a", "b"}));
}

// ---------------------------------------------------------------------------------------------
// §5.4.2 Committing entries from previous terms (Figure 8).
//
// "Raft never commits log entries from previous terms by counting replicas. Only log entries
// from the leader's current term are committed by counting replicas; once an entry from the
// current term has been committed in this way, then all prior entries are committed indirectly."

// Figure 8 (c): S1 .. S5 with logs [1:1, 2:2], [1:1, 2:2], [1:1], [1:1], [1:1, 2:3]; index 1 is
// committed. S1 restarts and will be elected in term 4.
void load_figure8(Cluster& c) {
  c.node(1).load(make_entries(1, {1, 2}), HardState{3, kNoNode, 1});
  c.node(2).load(make_entries(1, {1, 2}), HardState{3, kNoNode, 1});
  c.node(3).load(make_entries(1, {1}), HardState{3, kNoNode, 1});
  c.node(4).load(make_entries(1, {1}), HardState{3, kNoNode, 1});
  c.node(5).load(make_entries(1, {1, 3}), HardState{3, 5, 1});
}

TEST(PaperSec5_4_2, LeaderDoesNotCommitEntryFromEarlierTermByCounting) {
  TestNode n(test_config(1, voter_ids(5)));
  n.load(make_entries(1, {1, 2}), HardState{3, kNoNode, 1});
  ASSERT_TRUE(win_election(n));
  ASSERT_EQ(n.core().term(), 4u);
  ASSERT_EQ(n.core().last_index(), 3u) << "[1:1, 2:2, 3:4 noop]";
  n.take_sent();
  Message ack = make_msg(kAppendResp, 2, 1, 4);
  ack.index = 2;
  n.step(ack);
  ack.from = 3;
  n.step(ack);
  EXPECT_EQ(n.core().commit_index(), 1u)
      << "2:2 is on S1, S2, S3, a majority, but it is from term 2: it must not be committed";
  ack.index = 3;
  ack.from = 2;
  n.step(ack);
  EXPECT_EQ(n.core().commit_index(), 1u) << "3:4 is only on S1 and S2";
  ack.from = 3;
  n.step(ack);
  EXPECT_EQ(n.core().commit_index(), 3u) << "3:4 on a majority commits it, and 2:2 with it";
  ASSERT_EQ(n.applied_entries().count(2), 1u);
  EXPECT_EQ(n.applied_entries().at(2).term, 2u);
}

TEST(PaperSec5_4_2, OldTermEntryOnMajorityCanStillBeOverwritten) {
  // Why counting is forbidden: Figure 8 (c) then (d). S1 (term 4) gets 2:2 onto S2 and S3 but
  // nothing of its own term; it crashes; S5 (last entry 2:3) is elected and overwrites 2:2.
  Cluster c(5);
  load_figure8(c);
  c.isolate(5);
  // S1's Appends reach S2 and S3 cut down to index 2 (as if the noop were sent later); S4 gets
  // nothing.
  c.set_filter([](Message& m) {
    if (m.type != kAppend || m.from != 1) return true;
    if (m.to == 4) return false;
    std::erase_if(m.entries, [](const Entry& e) { return e.index > 2; });
    return true;
  });
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  ASSERT_EQ(c.node(1).core().term(), 4u);
  ASSERT_EQ(c.node(3).storage().term(2), Term{2}) << "2:2 reached S3";
  EXPECT_EQ(c.node(1).core().commit_index(), 1u) << "2:2 is on a majority, but not committed";

  // (d) S1 crashes; S5 is elected with votes from S2, S3, S4 and overwrites index 2.
  c.stop(1);
  c.heal();
  c.set_filter(nullptr);
  // S2..S4 voted for S1 in term 4, so S5 may need a second try (term 5, as in the figure).
  for (int i = 0; i < 2 && c.leader() != 5; ++i) c.campaign(5);
  ASSERT_EQ(c.leader(), 5u);
  c.tick(5);
  for (NodeId id : {NodeId{2}, NodeId{3}, NodeId{4}, NodeId{5}}) {
    EXPECT_EQ(c.node(id).storage().term(2), Term{3}) << "S" << id;
    const auto& applied = c.node(id).applied_entries();
    if (applied.count(2)) {
      EXPECT_EQ(applied.at(2).term, 3u) << "S" << id << " applied 2:2";
    }
  }
  // S1 comes back and is brought in line.
  c.start(1);
  c.tick(5, 2);
  EXPECT_EQ(c.node(1).storage().term(2), Term{3});
  EXPECT_EQ(stored_log(c.node(1).storage()), stored_log(c.node(5).storage()));
}

TEST(PaperSec5_4_2, EntryOfCurrentTermCommitsOlderEntriesAndBlocksStaleCandidate) {
  // Figure 8 (e): S1 replicates an entry of its own term (the noop) to a majority; that commits
  // 2:2 indirectly, and S5 can no longer be elected.
  Cluster c(5);
  load_figure8(c);
  c.isolate(5);
  c.set_filter([](Message& m) { return !(m.type == kAppend && m.from == 1 && m.to == 4); });
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.node(1).core().commit_index(), 3u);
  ASSERT_EQ(c.node(1).applied_entries().count(2), 1u);
  EXPECT_EQ(c.node(1).applied_entries().at(2).term, 2u);

  c.stop(1);
  c.heal();
  c.set_filter(nullptr);
  c.campaign(5);
  c.campaign(5);
  EXPECT_NE(c.node(5).core().role(), kLeader) << "S2 and S3 hold 3:4 and must refuse S5";
  EXPECT_EQ(c.node(2).storage().term(2), Term{2});
  EXPECT_EQ(c.node(3).storage().term(2), Term{2});
}

// ---------------------------------------------------------------------------------------------
// §5.5 Follower and candidate crashes.
// "Raft RPCs are idempotent, so this causes no harm ... if a follower receives an AppendEntries
// request that includes log entries already present in its log, it ignores those entries."

TEST(PaperSec5_5, DuplicateAppendEntriesAreHarmless) {
  TestNode n = node_of(1, 3);
  const Message append = make_append(2, 1, 1, 0, 0, make_entries(1, {1, 1, 1}), 2);
  n.step(append);
  n.step(append);
  EXPECT_EQ(stored_terms(n.storage()), (std::vector<Term>{1, 1, 1}));
  EXPECT_EQ(n.state(), (std::vector<std::string>{"e1", "e2"})) << "nothing applied twice";
  const std::vector<Message> resp = of_type(n.take_sent(), kAppendResp);
  ASSERT_EQ(resp.size(), 2u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_EQ(resp[0].index, 3u);
  EXPECT_FALSE(resp[1].reject) << "a retried Append succeeds again";
  // The retry may be answered with any index known to match (etcd answers with the commit
  // index when the Append starts below it).
  EXPECT_GE(resp[1].index, 2u);
  EXPECT_LE(resp[1].index, 3u);
}

TEST(PaperSec5_5, DelayedShorterAppendDoesNotTruncateLog) {
  TestNode n = node_of(1, 3);
  n.step(make_append(2, 1, 1, 0, 0, make_entries(1, {1, 1, 1}), 0));
  n.step(make_append(2, 1, 1, 0, 0, make_entries(1, {1}), 0));
  EXPECT_EQ(n.storage().last_index(), 3u);
  const std::vector<Message> resp = of_type(n.take_sent(), kAppendResp);
  ASSERT_EQ(resp.size(), 2u);
  EXPECT_FALSE(resp[1].reject);
  EXPECT_GE(resp[1].index, 1u);
}

TEST(PaperSec5_5, CrashedFollowerCatchesUpAfterRestart) {
  // "If a follower or candidate crashes ... Raft handles these failures by retrying
  // indefinitely; if the crashed server restarts, then the RPC will complete successfully."
  Cluster c(3);
  c.campaign(1);
  c.stop(3);
  for (const char* v : {"a", "b", "c"}) ASSERT_EQ(c.propose(1, v).status, Status::kOk);
  c.start(3);
  ASSERT_TRUE(c.tick_until([&] { return c.node(3).state().size() == 3; }, 3 * kElectionTicks));
  EXPECT_EQ(c.node(3).state(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(stored_log(c.node(3).storage()), stored_log(c.node(1).storage()));
}

// ---------------------------------------------------------------------------------------------
// §6 Cluster membership changes. Changes themselves are a later issue; what exists is the voter
// set and the quorum arithmetic over it.

TEST(PaperSec6, CandidateNeedsMajorityOfOneToSevenVoters) {
  for (size_t voters = 1; voters <= 7; ++voters) {
    TestNode n = node_of(1, voters);
    n.core().campaign();
    n.run();
    const size_t quorum = voters / 2 + 1;
    size_t grants = 1;
    EXPECT_EQ(n.core().role() == kLeader, grants >= quorum) << voters << " voters";
    for (NodeId from = 2; from <= voters; ++from) {
      n.step(make_msg(kVoteResp, from, 1, 1));
      ++grants;
      EXPECT_EQ(n.core().role() == kLeader, grants >= quorum)
          << voters << " voters, " << grants << " votes";
    }
  }
}

TEST(PaperSec6, LeaderCommitsOnMajorityOfOneToSevenVoters) {
  for (size_t voters = 1; voters <= 7; ++voters) {
    TestNode n = node_of(1, voters);
    ASSERT_TRUE(win_election(n));
    ack_all_appends(n);
    const Index li = n.core().last_index();
    ASSERT_EQ(n.core().commit_index(), li);
    ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
    n.run();
    const size_t quorum = voters / 2 + 1;
    size_t acks = 1;
    EXPECT_EQ(n.core().commit_index() > li, acks >= quorum) << voters << " voters";
    for (const Message& m : of_type(n.take_sent(), kAppend)) {
      if (m.entries.empty() || m.entries.back().index != li + 1) continue;
      n.step(accept_append(m));
      ++acks;
      EXPECT_EQ(n.core().commit_index() > li, acks >= quorum)
          << voters << " voters, " << acks << " acks";
    }
    EXPECT_EQ(acks, voters) << "one Append with the entry per follower";
  }
}

TEST(PaperSec6, NodeOutsideVoterSetNeverCampaigns) {
  TestNode n(test_config(4, voter_ids(3)));
  n.core().campaign();
  n.run();
  n.tick(5 * kElectionTicks);
  EXPECT_EQ(n.core().role(), kFollower);
  EXPECT_EQ(n.core().term(), 0u);
  const std::vector<Message> sent = n.take_sent();
  EXPECT_TRUE(of_type(sent, kVote).empty());
  EXPECT_TRUE(of_type(sent, kPreVote).empty());
}

TEST(PaperSec6, LeaderIgnoresMessagesFromOutsideVoterSet) {
  TestNode n = node_of(1, 3);
  ASSERT_TRUE(win_election(n));
  n.take_sent();
  const uint64_t ignored = n.core().counters().messages_ignored;
  Message ack = make_msg(kAppendResp, 9, 1, n.core().term());
  ack.index = n.core().last_index();
  n.step(ack);
  EXPECT_EQ(n.core().role(), kLeader);
  EXPECT_EQ(n.core().commit_index(), 0u) << "a stranger's acknowledgement counts for nothing";
  EXPECT_GT(n.core().counters().messages_ignored, ignored);
}

// ---------------------------------------------------------------------------------------------
// §7 Log compaction: InstallSnapshot.

TEST(PaperSec7, FollowerFarBehindReceivesChunkedSnapshotAndResumes) {
  // "The leader must occasionally send snapshots to followers that lag behind ... when the
  // leader has already discarded the next log entry that it needs to send." The snapshot
  // travels in chunks, one in flight at a time.
  constexpr uint64_t kChunk = 16;
  Cluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  c.campaign(1);
  c.stop(3);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c.propose(1, numbered("value-", i)).status, Status::kOk);
  TestNode& leader = c.node(1);
  ASSERT_EQ(leader.applied(), leader.core().last_index());
  const Index snap = leader.take_snapshot(0);
  ASSERT_GT(leader.storage().first_index(), c.node(3).storage().last_index() + 1);
  const size_t body = leader.storage().snapshot_body().size();
  ASSERT_GT(body, 3 * kChunk);

  int outstanding = 0;
  int outstanding_max = 0;
  c.set_filter([&](Message& m) {
    if (m.type == kSnapshot && m.to == 3)
      outstanding_max = std::max(outstanding_max, ++outstanding);
    if (m.type == kSnapshotResp && m.from == 3) --outstanding;
    return true;
  });
  c.clear_trace();
  c.start(3);
  ASSERT_TRUE(c.tick_until([&] { return c.node(3).applied() >= snap; }, 5 * kElectionTicks));

  EXPECT_EQ(c.node(3).storage().snapshot_meta().index, snap);
  EXPECT_EQ(c.node(3).storage().snapshot_body(), leader.storage().snapshot_body());
  EXPECT_EQ(c.node(3).state(), leader.state());
  EXPECT_GE(c.count(kSnapshot, 1, 3), (body + kChunk - 1) / kChunk);
  EXPECT_EQ(outstanding_max, 1) << "one chunk in flight";
  for (const Message& m : c.trace) {
    if (m.type == kSnapshot) {
      EXPECT_LE(m.snapshot_data.size(), kChunk);
    }
  }
  EXPECT_GE(leader.core().counters().snapshots_sent, 1u);
  EXPECT_EQ(c.node(3).core().counters().snapshots_installed, 1u);

  // Replication resumes from the snapshot with ordinary Appends.
  ASSERT_EQ(c.propose(1, "after").status, Status::kOk);
  c.tick(1);
  EXPECT_EQ(c.node(3).state().back(), "after");
  EXPECT_EQ(c.node(3).storage().last_index(), leader.core().last_index());
}

Message snapshot_msg(NodeId from, NodeId to, Term term, const SnapshotMeta& meta,
                     const std::string& body) {
  Message m = make_msg(kSnapshot, from, to, term);
  m.snapshot = meta;
  m.snapshot_offset = 0;
  m.snapshot_data = Payload(body);
  m.snapshot_last = true;
  return m;
}

TEST(PaperSec7, SnapshotRetainsFollowingEntriesThatMatch) {
  // "If the follower receives a snapshot that describes a prefix of its log ... log entries
  // covered by the snapshot are deleted but entries following the snapshot are still valid and
  // must be retained."
  TestNode n = node_with_log(1, 3, std::vector<Term>(10, 1), HardState{1, kNoNode, 0});
  const std::string body = encode_state({"e1", "e2", "e3", "e4", "e5"});
  n.step(snapshot_msg(
      2, 1, 1, SnapshotMeta{5, 1, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)},
      body));
  EXPECT_EQ(n.storage().last_index(), 10u);
  EXPECT_EQ(n.storage().term(10), Term{1});
  EXPECT_GE(n.core().commit_index(), 5u);
  EXPECT_EQ(n.applied(), n.core().commit_index());
  EXPECT_EQ(n.state(), (std::vector<std::string>{"e1", "e2", "e3", "e4", "e5"}));
  // The follower tells the leader it matches at (at least) the snapshot index: with a
  // SnapshotResp once installed, or, as etcd does when its log already contains the snapshot's
  // last entry, with a successful AppendResp.
  bool acknowledged = false;
  for (const Message& m : n.take_sent()) {
    if (m.reject) continue;
    if (m.type == kSnapshotResp && m.snapshot_last && m.index == 5) acknowledged = true;
    if (m.type == kAppendResp && m.index >= 5) acknowledged = true;
  }
  EXPECT_TRUE(acknowledged);
}

TEST(PaperSec7, SnapshotReplacesConflictingLog) {
  // "Usually the snapshot will contain new information not already in the recipient's log. In
  // this case, the follower discards its entire log."
  TestNode n = node_with_log(1, 3, {1, 1, 1, 1, 1, 2, 2, 2}, HardState{3, kNoNode, 0});
  const std::string body = encode_state({"s"});
  n.step(snapshot_msg(
      2, 1, 3, SnapshotMeta{7, 3, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)},
      body));
  EXPECT_EQ(n.storage().snapshot_meta().index, 7u);
  EXPECT_EQ(n.storage().last_index(), 7u);
  EXPECT_EQ(n.storage().term(7), Term{3});
  EXPECT_EQ(n.core().commit_index(), 7u);
  EXPECT_EQ(n.applied(), 7u);
  EXPECT_EQ(n.state(), (std::vector<std::string>{"s"}));
  const std::vector<Message> resp = of_type(n.take_sent(), kSnapshotResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_TRUE(resp[0].snapshot_last) << "installed: the follower now matches at 7";
  EXPECT_EQ(resp[0].index, 7u);
}

// ---------------------------------------------------------------------------------------------
// §8 Client interaction / thesis §6.4: linearizable reads with ReadIndex.
// "A leader must have the latest information on which entries are committed ... each leader
// commit[s] a blank no-op entry ... Second, a leader must check whether it has been deposed
// before processing a read-only request ... by exchanging heartbeat messages with a majority."

// The highest ReadIndex round among heartbeats in `sent`, 0 if none.
uint64_t latest_round(const std::vector<Message>& sent) {
  uint64_t round = 0;
  for (const Message& m : sent) {
    if (m.type == kHeartbeat) round = std::max(round, m.context);
  }
  return round;
}

Message heartbeat_resp(NodeId from, const TestNode& leader, uint64_t context) {
  Message m = make_msg(kHeartbeatResp, from, leader.id(), leader.core().term());
  m.context = context;
  return m;
}

void echo_heartbeats(TestNode& leader, const std::vector<Message>& sent) {
  for (const Message& m : sent) {
    if (m.type == kHeartbeat) leader.step(heartbeat_resp(m.to, leader, m.context));
  }
}

TEST(PaperSec8, ReadIsConfirmedOnlyAfterQuorumHeartbeatRound) {
  TestNode n = node_of(1, 3);
  ASSERT_TRUE(win_election(n));
  ack_all_appends(n);
  const Index commit = n.core().commit_index();
  n.tick();
  const uint64_t before = latest_round(n.take_sent());
  ASSERT_EQ(n.core().read_index(42), Status::kOk);
  n.run();
  std::vector<Message> sent = n.take_sent();
  if (latest_round(sent) <= before) {
    n.tick();
    sent = n.take_sent();
  }
  const uint64_t round = latest_round(sent);
  ASSERT_GT(round, before) << "a read needs a heartbeat round issued after it arrived";
  EXPECT_TRUE(n.read_states.empty()) << "confirmed before any follower answered";

  n.step(heartbeat_resp(2, n, before));
  n.step(heartbeat_resp(3, n, before));
  EXPECT_TRUE(n.read_states.empty()) << "answers to an earlier round prove nothing about now";

  n.step(heartbeat_resp(2, n, round));
  ASSERT_EQ(n.read_states.size(), 1u) << "self + node 2 are a quorum";
  EXPECT_EQ(n.read_states[0].request_id, 42u);
  EXPECT_TRUE(n.read_states[0].ok);
  EXPECT_EQ(n.read_states[0].index, commit);
}

TEST(PaperSec8, SingleVoterLeaderServesReadImmediately) {
  TestNode n = node_of(1, 1);
  n.core().campaign();
  n.run();
  ASSERT_EQ(n.core().role(), kLeader);
  ASSERT_EQ(n.core().commit_index(), 1u);
  ASSERT_EQ(n.core().read_index(5), Status::kOk);
  n.run();
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_EQ(n.read_states[0].request_id, 5u);
  EXPECT_TRUE(n.read_states[0].ok);
  EXPECT_EQ(n.read_states[0].index, 1u);
}

TEST(PaperSec8, LeaderDefersReadsUntilItCommitsEntryOfItsTerm) {
  TestNode n = node_with_log(1, 3, {1, 1}, HardState{1, kNoNode, 0});
  ASSERT_TRUE(win_election(n));
  const Index noop = n.core().last_index();
  std::vector<Message> held = n.take_sent();  // the noop's Appends, not yet acknowledged
  ASSERT_EQ(n.core().read_index(9), Status::kOk);
  n.run();
  for (int i = 0; i < 3; ++i) {
    echo_heartbeats(n, n.take_sent());
    n.tick();
  }
  echo_heartbeats(n, n.take_sent());
  EXPECT_TRUE(n.read_states.empty())
      << "without a commit in its term the leader does not know the commit index";

  for (const Message& m : held) {
    if (m.type == kAppend) n.step(accept_append(m));
  }
  ASSERT_GE(n.core().commit_index(), noop);
  for (int i = 0; i < 3 && n.read_states.empty(); ++i) {
    echo_heartbeats(n, ack_all_appends(n));
    n.tick();
    echo_heartbeats(n, n.take_sent());
  }
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_TRUE(n.read_states[0].ok);
  EXPECT_EQ(n.read_states[0].request_id, 9u);
  EXPECT_GE(n.read_states[0].index, noop);
}

TEST(PaperSec8, DeposedLeaderFailsPendingReads) {
  TestNode n = node_of(1, 3);
  ASSERT_TRUE(win_election(n));
  ack_all_appends(n);
  ASSERT_EQ(n.core().read_index(7), Status::kOk);
  n.run();
  ASSERT_TRUE(n.read_states.empty());
  n.step(make_msg(kHeartbeat, 2, 1, n.core().term() + 1));
  EXPECT_EQ(n.core().role(), kFollower);
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_EQ(n.read_states[0].request_id, 7u);
  EXPECT_FALSE(n.read_states[0].ok) << "the read must be retried at the new leader";
}

TEST(PaperSec8, FollowerReadIsServedThroughLeader) {
  Cluster c(3);
  c.campaign(1);
  ASSERT_EQ(c.propose(1, "x").status, Status::kOk);
  c.tick(1);
  c.clear_trace();
  ASSERT_EQ(c.node(2).core().read_index(11), Status::kOk);
  c.stabilize();
  ASSERT_TRUE(c.tick_until([&] { return !c.node(2).read_states.empty(); }, 3));
  ASSERT_EQ(c.node(2).read_states.size(), 1u);
  const ReadState& rs = c.node(2).read_states[0];
  EXPECT_EQ(rs.request_id, 11u);
  EXPECT_TRUE(rs.ok);
  EXPECT_EQ(rs.index, c.node(1).core().commit_index());
  EXPECT_GE(c.count(kReadIndex, 2, 1), 1u);
  EXPECT_GE(c.count(kReadIndexResp, 1, 2), 1u);
}

TEST(PaperSec8, FollowerWithoutLeaderCannotRead) {
  TestNode n = node_of(1, 3);
  EXPECT_EQ(n.core().read_index(1), Status::kNoLeader);
}

// ---------------------------------------------------------------------------------------------
// Thesis §9.6 PreVote: "a server ... first ask[s] other servers whether its log is up-to-date
// enough to get their vote. Only if the candidate believes it can get votes from a majority of
// the cluster does it increment its term and start a normal election."

TEST(ThesisSec9_6PreVote, PreCandidateDoesNotBumpTermUntilPreVoteQuorum) {
  TestNode n(realistic(test_config(1, voter_ids(3))));
  n.core().campaign();
  n.run();
  ASSERT_EQ(n.core().role(), kPreCandidate);
  EXPECT_EQ(n.core().term(), 0u);
  EXPECT_EQ(n.storage().hard_state().current_term, 0u);
  EXPECT_EQ(n.storage().hard_state().voted_for, kNoNode);
  const std::vector<Message> pre = of_type(n.take_sent(), kPreVote);
  ASSERT_EQ(pre.size(), 2u);
  for (const Message& m : pre) EXPECT_EQ(m.term, 1u) << "PreVote asks about term + 1";
  Message grant = make_msg(kPreVoteResp, 2, 1, 1);
  n.step(grant);
  EXPECT_EQ(n.core().role(), kCandidate);
  EXPECT_EQ(n.core().term(), 1u);
  EXPECT_EQ(of_type(n.take_sent(), kVote).size(), 2u);
}

TEST(ThesisSec9_6PreVote, PreVoteGrantLeavesVotersTermAndVoteUnchanged) {
  TestNode n(realistic(test_config(1, voter_ids(3))));
  n.load(make_entries(1, {1}), HardState{1, kNoNode, 0});
  n.step(make_vote(kPreVote, 2, 1, 2, 1, 1));
  const std::vector<Message> resp = of_type(n.take_sent(), kPreVoteResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_EQ(resp[0].term, 2u) << "a granted PreVote echoes the proposed term";
  EXPECT_EQ(n.core().term(), 1u);
  EXPECT_EQ(n.storage().hard_state(), (HardState{1, kNoNode, 0}));
}

TEST(ThesisSec9_6PreVote, PreVoteRejectedForLessUpToDateLog) {
  TestNode n(realistic(test_config(1, voter_ids(3))));
  n.load(make_entries(1, {1, 2}), HardState{2, kNoNode, 0});
  n.step(make_vote(kPreVote, 2, 1, 3, 1, 1));
  const std::vector<Message> resp = of_type(n.take_sent(), kPreVoteResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].reject);
  EXPECT_EQ(n.core().term(), 2u);
}

TEST(ThesisSec9_6PreVote, PartitionedNodeRejoinsWithoutDisruptingLeader) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  const Term term = c.node(1).core().term();
  c.isolate(3);
  c.tick_all(10 * kElectionTicks);
  EXPECT_EQ(c.node(3).core().term(), term) << "PreVote kept the partitioned node's term";
  EXPECT_NE(c.node(3).core().role(), kLeader);
  c.heal();
  c.tick_all(3);
  EXPECT_EQ(c.leader(), 1u);
  for (NodeId id : c.ids()) EXPECT_EQ(c.node(id).core().term(), term) << "node " << id;
  EXPECT_EQ(c.node(3).core().role(), kFollower);
  EXPECT_EQ(c.node(3).core().leader(), 1u);
}

TEST(ThesisSec9_6PreVote, WithoutPreVoteRejoiningNodeDisruptsLeader) {
  // The problem PreVote solves, shown with it turned off.
  Cluster c(3);
  c.campaign(1);
  const Term term = c.node(1).core().term();
  c.isolate(3);
  c.tick_all(10 * kElectionTicks);
  EXPECT_GT(c.node(3).core().term(), term);
  c.heal();
  c.tick_all(2 * kElectionTicks);
  ASSERT_TRUE(c.tick_until([&] { return c.leader() != kNoNode; }, 10 * kElectionTicks));
  EXPECT_GT(c.node(c.leader()).core().term(), term + 1) << "the old leader was not deposed";
}

// ---------------------------------------------------------------------------------------------
// Thesis §6.2 CheckQuorum: "a leader steps down if an election timeout elapses without a
// successful round of heartbeats to a majority of its cluster". Followers that heard from a
// leader within the election timeout ignore vote requests (the leader lease).

TEST(ThesisSec6_2CheckQuorum, LeaderStepsDownWithoutQuorumContact) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  const Term term = c.node(1).core().term();
  c.isolate(1);
  c.tick(1, kElectionTicks - 1);
  EXPECT_EQ(c.node(1).core().role(), kLeader) << "stepped down before an election timeout";
  int ticks = kElectionTicks - 1;
  while (c.node(1).core().role() == kLeader && ticks < 2 * kElectionTicks) {
    c.tick(1);
    ++ticks;
  }
  EXPECT_EQ(c.node(1).core().role(), kFollower)
      << "still leader after " << ticks << " ticks without hearing from a quorum";
  EXPECT_EQ(c.node(1).core().term(), term);
}

TEST(ThesisSec6_2CheckQuorum, StaleLeaderIsToldTheNewTerm) {
  // With CheckQuorum, followers in lease ignore vote requests, so a deposed leader may never see
  // a higher-term vote request; a follower answers its stale Append with the current term.
  TestNode n(realistic(test_config(1, voter_ids(3))));
  n.load({}, HardState{2, kNoNode, 0});
  n.step(make_append(2, 1, 1, 0, 0, {}, 0));
  bool told = false;
  for (const Message& m : n.take_sent()) {
    if (m.to == 2 && m.term == 2) told = true;
  }
  EXPECT_TRUE(told);
  EXPECT_EQ(n.core().term(), 2u);
}

TEST(ThesisSec6_2CheckQuorum, LeaderWithQuorumContactStaysLeader) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  const Term term = c.node(1).core().term();
  c.isolate(3);
  c.tick_all(10 * kElectionTicks);
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.node(1).core().term(), term);
}

TEST(ThesisSec6_2CheckQuorum, FollowerInLeaseIgnoresVoteRequests) {
  Cluster c(3, [](Config& cfg) { cfg.check_quorum = true; });
  c.campaign(1);
  c.tick_all(1);
  TestNode& follower = c.node(2);
  const Term term = follower.core().term();
  follower.step(make_vote(kVote, 3, 2, term + 1, 100, term));
  EXPECT_EQ(follower.core().term(), term) << "a follower in lease does not adopt the term";
  EXPECT_EQ(follower.core().leader(), 1u);
  for (const Message& m : follower.take_sent()) {
    EXPECT_FALSE(m.type == kVoteResp && !m.reject) << "vote granted during the lease";
  }
}

TEST(ThesisSec6_2CheckQuorum, FollowerInLeaseGrantsVoteForLeadershipTransfer) {
  Cluster c(3, [](Config& cfg) { cfg.check_quorum = true; });
  c.campaign(1);
  c.tick_all(1);
  TestNode& follower = c.node(2);
  const Term term = follower.core().term();
  Message vote = make_vote(kVote, 3, 2, term + 1, 100, term);
  vote.leader_transfer = true;
  follower.step(vote);
  EXPECT_EQ(follower.core().term(), term + 1);
  const std::vector<Message> resp = of_type(follower.take_sent(), kVoteResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
}

// ---------------------------------------------------------------------------------------------
// Thesis §3.10 Leadership transfer: "the prior leader sends its log entries to the target
// server ... [then] sends it a TimeoutNow request ... causing it to start an election
// immediately". During the transfer the leader stops accepting client requests, and it aborts
// the transfer if it does not complete within an election timeout.

TEST(ThesisSec3_10Transfer, LeaderHandsOverToUpToDateFollower) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  ASSERT_EQ(c.propose(1, "x").status, Status::kOk);
  c.tick(1);
  const Term term = c.node(1).core().term();
  c.clear_trace();
  ASSERT_EQ(c.node(1).core().transfer_leadership(2), Status::kOk);
  c.stabilize();
  EXPECT_EQ(c.count(kTimeoutNow, 1, 2), 1u);
  EXPECT_EQ(c.leader(), 2u);
  EXPECT_EQ(c.node(2).core().term(), term + 1);
  EXPECT_EQ(c.node(1).core().role(), kFollower);
  EXPECT_EQ(c.node(1).core().leader(), 2u);
}

TEST(ThesisSec3_10Transfer, TargetCatchesUpBeforeTimeoutNow) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  // Appends to 3 are delayed (held), not lost.
  std::vector<Message> held;
  c.set_filter([&](Message& m) {
    if (m.type == kAppend && m.to == 3) {
      held.push_back(m);
      return false;
    }
    return true;
  });
  for (const char* v : {"a", "b", "c"}) ASSERT_EQ(c.propose(1, v).status, Status::kOk);
  ASSERT_LT(c.node(3).storage().last_index(), c.node(1).core().last_index());
  c.clear_trace();
  ASSERT_EQ(c.node(1).core().transfer_leadership(3), Status::kOk);
  c.stabilize();
  EXPECT_EQ(c.count(kTimeoutNow), 0u) << "TimeoutNow sent to a target that lacks entries";
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.node(1).core().propose(Payload(std::string("refused"))).status,
            Status::kTransferInProgress);

  Index target_last = 0;
  Index leader_last = 0;
  c.set_filter([&](Message& m) {
    if (m.type == kTimeoutNow) {
      target_last = c.node(3).storage().last_index();
      leader_last = c.node(1).core().last_index();
    }
    return true;
  });
  for (Message& m : held) c.inject(std::move(m));
  if (c.leader() != 3) c.tick(1);
  EXPECT_EQ(c.leader(), 3u);
  EXPECT_GT(target_last, 0u) << "no TimeoutNow was sent";
  EXPECT_EQ(target_last, leader_last) << "TimeoutNow sent before the target caught up";
  c.tick(3);
  EXPECT_EQ(c.node(3).state(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(stored_log(c.node(1).storage()), stored_log(c.node(3).storage()));
}

TEST(ThesisSec3_10Transfer, TransferAbortedAfterElectionTimeout) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  c.isolate(3);
  ASSERT_EQ(c.node(1).core().transfer_leadership(3), Status::kOk);
  c.tick(1);
  EXPECT_EQ(c.node(1).core().status().transferee, 3u);
  EXPECT_EQ(c.node(1).core().propose(Payload(std::string("early"))).status,
            Status::kTransferInProgress);
  c.tick(1, kElectionTicks - 1);
  EXPECT_EQ(c.node(1).core().role(), kLeader);
  EXPECT_EQ(c.node(1).core().status().transferee, kNoNode) << "transfer not aborted";
  EXPECT_EQ(c.propose(1, "late").status, Status::kOk);
}

TEST(ThesisSec3_10Transfer, TransferRequiresLeaderAndVoterTarget) {
  Cluster c(3, use_realistic);
  c.campaign(1);
  EXPECT_EQ(c.node(1).core().transfer_leadership(9), Status::kInvalidArgument);
  EXPECT_EQ(c.node(2).core().transfer_leadership(3), Status::kNotLeader);
  EXPECT_EQ(c.node(1).core().status().transferee, kNoNode);
}

}  // namespace
}  // namespace raft::test
