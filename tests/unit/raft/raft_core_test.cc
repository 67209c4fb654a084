// RaftCore behaviours beyond the paper: batching, pipelining, fast back-off, flow control, the
// Ready/advance contract, restart from storage, the snapshot chunk protocol, bounds, status and
// counters. The paper's own rules are in raft_paper_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "test_cluster.h"

namespace raft::test {
namespace {

using enum MessageType;
using enum Role;

// A leader (per `config`) whose noop is committed and whose followers are all in Replicate.
TestNode established_leader(Config config) {
  TestNode n(std::move(config));
  EXPECT_TRUE(win_election(n));
  ack_all_appends(n);
  EXPECT_EQ(n.core().commit_index(), n.core().last_index());
  return n;
}

uint64_t bytes_of(const std::vector<Entry>& entries) {
  return std::accumulate(entries.begin(), entries.end(), uint64_t{0},
                         [](uint64_t sum, const Entry& e) { return sum + entry_size_bytes(e); });
}

// --- Proposals ---

TEST(RaftCore, SingleVoterCommitsProposalWithoutMessages) {
  TestNode n = node_of(1, 1);
  n.core().campaign();
  n.run();
  ASSERT_EQ(n.core().role(), kLeader);
  const ProposeResult r = n.core().propose(Payload(std::string("x")));
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.index, 2u);
  n.run();
  EXPECT_EQ(n.core().commit_index(), 2u);
  EXPECT_EQ(n.state(), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(n.take_sent().empty());
}

TEST(RaftCore, ProposalOnNonLeaderIsRefused) {
  TestNode n = node_of(1, 3);
  EXPECT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kNoLeader);
  make_follower(n, 2, 1);
  EXPECT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kNotLeader);
  EXPECT_EQ(n.core().leader(), 2u) << "where to send it instead";
  EXPECT_EQ(n.core().counters().proposals_dropped, 2u);
  EXPECT_EQ(n.core().last_index(), 0u);
}

TEST(RaftCore, ProposalsPastUncommittedBytesMaxAreRefusedUntilCommitted) {
  Config c = test_config(1, voter_ids(3));
  c.uncommitted_bytes_max = 200;
  TestNode n = established_leader(c);
  const std::string payload(50, 'p');  // 74 bytes per entry
  uint64_t accepted_bytes = 0;
  int accepted = 0;
  for (int i = 0; i < 100; ++i) {
    const ProposeResult r = n.core().propose(Payload(payload));
    if (r.status == Status::kBusy) break;
    ASSERT_EQ(r.status, Status::kOk);
    accepted_bytes += payload.size() + 24;
    ++accepted;
  }
  EXPECT_EQ(accepted, 2) << "74 + 74 <= 200 < 74 * 3";
  EXPECT_LE(accepted_bytes, c.uncommitted_bytes_max);
  n.run();
  ack_all_appends(n);
  EXPECT_EQ(n.core().commit_index(), n.core().last_index());
  EXPECT_EQ(n.core().propose(Payload(payload)).status, Status::kOk)
      << "committing and applying the backlog frees the budget";
}

TEST(RaftCore, ProposalLargerThanUncommittedBytesMaxIsAcceptedWhenNothingIsPending) {
  Config c = test_config(1, voter_ids(3));
  c.uncommitted_bytes_max = 200;
  TestNode n = established_leader(c);
  EXPECT_EQ(n.core().propose(Payload(std::string(500, 'p'))).status, Status::kOk)
      << "otherwise a large entry could never be proposed";
  EXPECT_EQ(n.core().propose(Payload(std::string("small"))).status, Status::kBusy);
}

// --- Batching and pipelining ---

TEST(RaftCore, CatchUpAppendsRespectByteBudgetButCarryAtLeastOneEntry) {
  constexpr uint64_t kBudget = 100;  // two 34-byte entries fit, three do not
  Cluster c(3, [](Config& cfg) { cfg.append_bytes_max = kBudget; });
  c.campaign(1);
  c.stop(3);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(c.propose(1, numbered("value-000", i)).status, Status::kOk);
  }
  c.clear_trace();
  c.start(3);
  ASSERT_TRUE(c.tick_until(
      [&] { return c.node(3).storage().last_index() == c.node(1).core().last_index(); },
      3 * kElectionTicks));
  size_t batched = 0;
  for (const Message& m : c.trace) {
    if (m.type != kAppend || m.to != 3 || m.entries.empty()) continue;
    if (m.entries.size() > 1) {
      ++batched;
      EXPECT_LE(bytes_of(m.entries), kBudget);
    }
  }
  EXPECT_GT(batched, 0u) << "catch-up should send several entries per Append";
}

TEST(RaftCore, OversizedEntryTravelsAloneInOneAppend) {
  Config c = test_config(1, voter_ids(3));
  c.append_bytes_max = 100;
  TestNode n = established_leader(c);
  ASSERT_EQ(n.core().propose(Payload(std::string(300, 'x'))).status, Status::kOk);
  ASSERT_EQ(n.core().propose(Payload(std::string(10, 'y'))).status, Status::kOk);
  n.run();
  const std::vector<Message> to2 = of_type_to(n.take_sent(), kAppend, 2);
  ASSERT_FALSE(to2.empty());
  EXPECT_EQ(to2[0].entries.size(), 1u) << "an entry over the budget still goes, alone";
  EXPECT_EQ(to2[0].entries[0].data.size(), 300u);
}

TEST(RaftCore, ProposalsOfOneBatchShareOneAppend) {
  TestNode n = established_leader(test_config(1, voter_ids(3)));
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(n.core().propose(Payload(numbered("p", i))).status, Status::kOk);
  }
  n.run();
  const std::vector<Message> to2 = of_type_to(n.take_sent(), kAppend, 2);
  ASSERT_EQ(to2.size(), 1u);
  EXPECT_EQ(to2[0].entries.size(), 5u);
}

TEST(RaftCore, PipelineIsBoundedByInflightAppendsMax) {
  Config c = test_config(1, voter_ids(3));
  c.inflight_appends_max = 4;
  TestNode n = established_leader(c);
  std::vector<Message> to2;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(n.core().propose(Payload(numbered("p", i))).status, Status::kOk);
    n.run();
    for (const Message& m : of_type_to(n.take_sent(), kAppend, 2)) to2.push_back(m);
  }
  ASSERT_EQ(to2.size(), 4u) << "several Appends in flight, but no more than the bound";
  n.step(accept_append(to2[0]));
  const std::vector<Message> more = of_type_to(n.take_sent(), kAppend, 2);
  ASSERT_EQ(more.size(), 1u) << "one answer frees one slot";
  ASSERT_FALSE(more[0].entries.empty());
  EXPECT_EQ(more[0].index, to2.back().entries.back().index);
  EXPECT_EQ(more[0].entries.back().index, n.core().last_index()) << "the backlog, batched";
}

TEST(RaftCore, StaleAppendResponseDoesNotMoveMatchBackwards) {
  TestNode n = established_leader(test_config(1, voter_ids(3)));
  std::vector<Message> to2;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(n.core().propose(Payload(numbered("p", i))).status, Status::kOk);
    n.run();
    for (const Message& m : of_type_to(n.take_sent(), kAppend, 2)) to2.push_back(m);
  }
  ASSERT_EQ(to2.size(), 2u);
  n.step(accept_append(to2[1]));
  n.step(accept_append(to2[0]));
  const CoreStatus s = n.core().status();
  ASSERT_EQ(s.followers.size(), 2u);
  EXPECT_EQ(s.followers[0].id, 2u);
  EXPECT_EQ(s.followers[0].match_index, n.core().last_index());
}

TEST(RaftCore, LeaderRecoversFromLostAppend) {
  // Every Append to 3 carrying "a" (and the commit update after it) is lost; nothing new is
  // proposed afterwards, so only the leader's own retry can bring 3 up to date.
  Cluster c(3);
  c.campaign(1);
  c.set_filter([](Message& m) { return !(m.type == kAppend && m.to == 3); });
  ASSERT_EQ(c.propose(1, "a").status, Status::kOk);
  c.set_filter(nullptr);
  ASSERT_LT(c.node(3).storage().last_index(), c.node(1).core().last_index());
  EXPECT_TRUE(c.tick_until([&] { return c.node(3).state().size() == 1; }, 2 * kElectionTicks))
      << "a lost Append must be resent without new proposals";
}

// --- Fast back-off ---

TEST(RaftCore, FastBackOffRepairsLongDivergentLogInFewRoundTrips) {
  // §5.3 (end): node 2 holds 100 uncommitted entries of term 2 that the leader (term 3 entries
  // from index 2 on) never had. Decrementing next_index one entry per rejection would take ~50
  // round trips; skipping whole terms takes one or two.
  std::vector<Term> leader_log(51, 3);
  leader_log[0] = 1;
  std::vector<Term> divergent(101, 2);
  divergent[0] = 1;
  Cluster c(3);
  c.node(1).load(make_entries(1, leader_log), HardState{4, kNoNode, 1});
  c.node(2).load(make_entries(1, divergent), HardState{4, kNoNode, 1});
  c.node(3).load(make_entries(1, leader_log), HardState{4, kNoNode, 1});
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  c.tick(1);
  EXPECT_EQ(stored_log(c.node(2).storage()), stored_log(c.node(1).storage()));
  EXPECT_LE(c.count_rejects(kAppendResp, 2, 1), 2u);
}

TEST(RaftCore, FastBackOffAcrossSeveralFollowerTerms) {
  // The follower's divergent suffix spans terms 2, 3 and 4 (each from a short-lived leader); the
  // leader's entries after index 1 are all of term 5. One rejection per term at most.
  std::vector<Term> leader_log(31, 5);
  leader_log[0] = 1;
  std::vector<Term> divergent = {1};
  for (Term t : {Term{2}, Term{3}, Term{4}}) divergent.insert(divergent.end(), 20, t);
  Cluster c(3);
  c.node(1).load(make_entries(1, leader_log), HardState{5, kNoNode, 1});
  c.node(2).load(make_entries(1, divergent), HardState{5, kNoNode, 1});
  c.node(3).load(make_entries(1, leader_log), HardState{5, kNoNode, 1});
  c.campaign(1);
  ASSERT_EQ(c.leader(), 1u);
  c.tick(1);
  EXPECT_EQ(stored_log(c.node(2).storage()), stored_log(c.node(1).storage()));
  EXPECT_LE(c.count_rejects(kAppendResp, 2, 1), 3u);
}

// --- The Ready / advance contract ---

TEST(RaftCore, FreshNodeHasNothingToDo) {
  TestNode n = node_of(1, 3);
  EXPECT_FALSE(n.core().has_ready());
  n.core().tick();
  EXPECT_FALSE(n.core().has_ready()) << "a tick short of the timeout changes nothing";
}

TEST(RaftCore, CampaignReadyCarriesHardStateVotesAndSoftState) {
  TestNode n = node_of(1, 3);
  n.core().campaign();
  ASSERT_TRUE(n.core().has_ready());
  Ready rd = n.core().ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(*rd.hard_state, (HardState{1, 1, 0}));
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->role, kCandidate);
  EXPECT_EQ(rd.soft_state->term, 1u);
  EXPECT_TRUE(rd.must_sync());
  EXPECT_EQ(of_type(rd.messages, kVote).size(), 2u);
  n.persist(rd);
  n.core().advance(rd);
  EXPECT_FALSE(n.core().has_ready()) << "everything was handed out";
}

TEST(RaftCore, BatchIsPersistedBeforeItsMessagesAreSentAndAppliedAfter) {
  // batch.h: persist -> send -> apply. A follower acknowledging entries before they are durable
  // could let the leader count a replica that a crash then loses.
  TestNode n = node_of(1, 3);
  n.io_calls.clear();
  n.step(make_append(2, 1, 1, 0, 0, make_entries(1, {1, 1}), 2));
  const auto at = [&](const char* call) {
    return std::find(n.io_calls.begin(), n.io_calls.end(), call) - n.io_calls.begin();
  };
  ASSERT_LT(at("persist"), static_cast<long>(n.io_calls.size()));
  ASSERT_LT(at("send"), static_cast<long>(n.io_calls.size()));
  ASSERT_LT(at("apply"), static_cast<long>(n.io_calls.size()));
  EXPECT_LT(at("persist"), at("send"));
  EXPECT_LT(at("send"), at("apply"));
  EXPECT_EQ(n.state(), (std::vector<std::string>{"e1", "e2"}));
}

// A three-node leader (node 1 of term 1) whose followers have acknowledged everything so far.
TestNode caught_up_leader() {
  TestNode n = node_of(1, 3);
  n.core().campaign();
  n.run();
  n.step(make_msg(kVoteResp, 2, 1, 1));
  EXPECT_EQ(n.core().role(), kLeader);
  for (const Message& append : of_type(n.take_sent(), kAppend)) n.step(accept_append(append));
  EXPECT_EQ(n.core().commit_index(), n.core().last_index());
  (void)n.take_sent();
  n.io_calls.clear();
  return n;
}

TEST(RaftCore, LeaderSendsItsAppendsBeforePersistingAndCountsItselfOnlyOnceDurable) {
  // Thesis §10.2.1: the leader's Append may leave before its own write; the entry is committed
  // only once a quorum of durable copies has it, the leader's own counted after its write.
  TestNode n = caught_up_leader();
  ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
  const Index index = n.core().last_index();
  Ready rd = n.core().ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  const std::vector<Message> appends = of_type(rd.messages, kAppend);
  ASSERT_EQ(appends.size(), 2u);
  for (const Message& m : rd.messages) EXPECT_TRUE(sendable_before_persist(m));
  // Node 2 answers while our write is still in progress: one durable copy of three.
  n.core().step(accept_append(of_type_to(rd.messages, kAppend, 2).front()));
  EXPECT_EQ(n.core().commit_index(), index - 1) << "our own copy is not durable yet";
  n.persist(rd);
  n.core().advance(rd);
  EXPECT_EQ(n.core().commit_index(), index) << "durable here and on node 2: a quorum of 3";
}

TEST(RaftCore, ExecuteReadySendsTheLeadersAppendsBeforePersist) {
  TestNode n = caught_up_leader();
  ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
  n.run();
  const auto at = [&](const char* call) {
    return std::find(n.io_calls.begin(), n.io_calls.end(), call) - n.io_calls.begin();
  };
  ASSERT_LT(at("persist"), static_cast<long>(n.io_calls.size()));
  EXPECT_LT(at("send"), at("persist"));
}

TEST(RaftCore, ACommitIndexOnlyHardStateIsWrittenButNeedNotBeSynced) {
  TestNode n = node_of(1, 3);
  n.step(make_append(2, 1, 1, 0, 0, make_entries(1, {1, 1}), 0));
  Message heartbeat = make_msg(kHeartbeat, 2, 1, 1);
  heartbeat.commit = 2;
  n.core().step(heartbeat);
  Ready rd = n.core().ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit_index, 2u);
  EXPECT_FALSE(rd.hard_state_must_sync);
  EXPECT_FALSE(rd.must_sync()) << "only the commit index changed";
  EXPECT_TRUE(rd.must_persist());
  n.persist(rd);
  n.core().advance(rd);
  n.core().campaign();
  rd = n.core().ready();
  EXPECT_TRUE(rd.hard_state_must_sync) << "a new term and vote must be synced";
  EXPECT_TRUE(rd.must_sync());
}

TEST(RaftCore, ReadStatesAreHandedOutAfterApplyingTheirBatch) {
  TestNode n = node_of(1, 1);
  n.core().campaign();
  n.run();
  const ProposeResult x = n.core().propose(Payload(std::string("x")));
  ASSERT_EQ(x.status, Status::kOk);
  // The batch that writes x; its advance() commits x (a single node counts itself once
  // durable), so the next batch carries x to apply and a read at x's index together.
  ASSERT_EQ(execute_ready(n.core(), n, 1), 1);
  ASSERT_EQ(n.core().commit_index(), x.index);
  n.io_calls.clear();
  ASSERT_EQ(n.core().read_index(3), Status::kOk);
  n.run();
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_EQ(n.read_states[0].index, x.index);
  const auto apply = std::find(n.io_calls.begin(), n.io_calls.end(), "apply");
  const auto reads = std::find(n.io_calls.begin(), n.io_calls.end(), "reads");
  ASSERT_NE(reads, n.io_calls.end());
  EXPECT_LT(apply, reads);
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_LE(n.read_states[0].index, n.applied());
}

TEST(RaftCore, CommittedEntriesPerReadyAreBoundedByApplyBatchBytes) {
  Config c = test_config(1, voter_ids(1));
  c.apply_batch_bytes_max = 100;  // two 34-byte entries
  TestNode n(c);
  n.core().campaign();
  n.run();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(n.core().propose(Payload(numbered("value-000", i))).status, Status::kOk);
  }
  int batches_with_entries = 0;
  for (int i = 0; i < 100 && n.core().has_ready(); ++i) {
    Ready rd = n.core().ready();
    if (rd.committed_entries.size() > 1) {
      EXPECT_LE(bytes_of(rd.committed_entries), c.apply_batch_bytes_max);
    }
    if (!rd.committed_entries.empty()) ++batches_with_entries;
    if (rd.must_persist()) n.persist(rd);
    n.send(std::move(rd.messages));
    n.apply(rd);
    n.core().advance(rd);
  }
  EXPECT_EQ(n.state().size(), 10u);
  EXPECT_GE(batches_with_entries, 5);
}

// --- Restart from storage ---

TEST(RaftCore, RestartRecoversTermVoteCommitAndLog) {
  Cluster c(3);
  c.campaign(1);
  ASSERT_EQ(c.propose(1, "a").status, Status::kOk);
  ASSERT_EQ(c.propose(1, "b").status, Status::kOk);
  c.tick(1);
  TestNode& f = c.node(2);
  const Term term = f.core().term();
  const Index commit = f.core().commit_index();
  const Index last = f.core().last_index();
  ASSERT_EQ(commit, 3u);
  c.stop(2);
  c.start(2);
  EXPECT_EQ(f.core().role(), kFollower);
  EXPECT_EQ(f.core().term(), term);
  EXPECT_EQ(f.core().status().hard.voted_for, 1u);
  EXPECT_EQ(f.core().commit_index(), commit);
  EXPECT_EQ(f.core().last_index(), last);
  EXPECT_EQ(f.core().applied_index(), commit) << "Config::applied_index is honoured";
  EXPECT_EQ(f.state(), (std::vector<std::string>{"a", "b"})) << "nothing applied twice";
  ASSERT_EQ(c.propose(1, "c").status, Status::kOk);
  c.tick(1);
  EXPECT_EQ(f.state(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(RaftCore, RestartWithLostStateMachineReappliesCommittedEntries) {
  Cluster c(3);
  c.campaign(1);
  ASSERT_EQ(c.propose(1, "a").status, Status::kOk);
  ASSERT_EQ(c.propose(1, "b").status, Status::kOk);
  c.tick(1);
  c.stop(2);
  c.start(2, /*keep_state_machine=*/false);
  EXPECT_EQ(c.node(2).state(), (std::vector<std::string>{"a", "b"}))
      << "entries up to the persisted commit index are applied again without a leader";
}

TEST(RaftCore, RestartFromSnapshotAppliesOnlyEntriesAfterIt) {
  Cluster c(3);
  c.campaign(1);
  for (const char* v : {"a", "b", "c"}) ASSERT_EQ(c.propose(1, v).status, Status::kOk);
  c.tick(1);
  TestNode& f = c.node(2);
  const Index snap = f.take_snapshot(0);
  ASSERT_EQ(snap, 4u);
  ASSERT_EQ(c.propose(1, "d").status, Status::kOk);
  c.tick(1);
  c.stop(2);
  c.start(2, /*keep_state_machine=*/false);
  EXPECT_EQ(f.state(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(f.core().commit_index(), 5u);
}

// --- Snapshot chunks ---

Message chunk(const SnapshotMeta& meta, const std::string& body, uint64_t offset, uint64_t len,
              Term term) {
  Message m = make_msg(kSnapshot, 2, 1, term);
  m.snapshot = meta;
  m.snapshot_offset = offset;
  m.snapshot_data = Payload(body.substr(offset, len));
  m.snapshot_last = offset + len >= body.size();
  return m;
}

TEST(RaftCore, FollowerStagesSnapshotChunksAndInstallsOnLast) {
  TestNode n = node_of(1, 3);
  const std::vector<std::string> state = {"alpha", "beta", "gamma", "delta"};
  const std::string body = encode_state(state);
  const SnapshotMeta meta{10, 2, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)};

  n.step(chunk(meta, body, 0, 10, 2));
  std::vector<Message> resp = of_type(n.take_sent(), kSnapshotResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_FALSE(resp[0].snapshot_last);
  EXPECT_EQ(resp[0].snapshot_offset, 10u) << "bytes held = next offset expected";
  EXPECT_EQ(resp[0].index, 10u);
  EXPECT_EQ(n.storage().snapshot_meta().index, 0u) << "not installed before the last chunk";

  n.step(chunk(meta, body, 20, body.size() - 20, 2));
  resp = of_type(n.take_sent(), kSnapshotResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].reject) << "a gap";
  EXPECT_EQ(resp[0].snapshot_offset, 10u);

  n.step(chunk(meta, body, 0, 10, 2));
  resp = of_type(n.take_sent(), kSnapshotResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_EQ(resp[0].snapshot_offset, 10u) << "a duplicate does not reset what is held";

  n.step(chunk(meta, body, 10, body.size() - 10, 2));
  resp = of_type(n.take_sent(), kSnapshotResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_TRUE(resp[0].snapshot_last);
  EXPECT_EQ(resp[0].snapshot_offset, body.size());
  EXPECT_EQ(n.storage().snapshot_meta(), meta);
  EXPECT_EQ(n.storage().snapshot_body(), body);
  EXPECT_EQ(n.state(), state);
  EXPECT_EQ(n.applied(), 10u);
  EXPECT_EQ(n.core().commit_index(), 10u);
  EXPECT_EQ(n.core().last_index(), 10u);
  EXPECT_EQ(n.core().counters().snapshots_installed, 1u);
}

// A leader of {1, 2, 3} that compacted its log into a snapshot after follower 3 fell behind,
// and that 3 has just told (by rejecting an Append) that it needs entries from index 2.
struct SnapshotLeader {
  TestNode node;
  Index snap = 0;
  std::string body;
  Message first_chunk;
};

SnapshotLeader leader_sending_snapshot_to_3(uint64_t chunk_bytes) {
  Config c = test_config(1, voter_ids(3));
  c.snapshot_chunk_bytes_max = chunk_bytes;
  SnapshotLeader s{established_leader(c), 0, {}, {}};
  TestNode& n = s.node;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(n.core().propose(Payload(numbered("x", i))).status, Status::kOk);
    n.run();
  }
  for (int round = 0; round < 10; ++round) {
    bool acked = false;
    for (const Message& m : n.take_sent()) {
      if (m.type == kAppend && m.to == 2) {
        n.step(accept_append(m));
        acked = true;
      }
    }
    if (!acked) break;
  }
  EXPECT_EQ(n.core().commit_index(), 6u);
  s.snap = n.take_snapshot(0);
  s.body = n.storage().snapshot_body();
  Message reject = make_msg(kAppendResp, 3, 1, n.core().term());
  reject.index = 2;
  reject.reject = true;
  reject.reject_hint = 1;
  reject.log_term = 1;
  n.step(reject);
  const std::vector<Message> chunks = of_type_to(n.take_sent(), kSnapshot, 3);
  EXPECT_EQ(chunks.size(), 1u);
  if (!chunks.empty()) s.first_chunk = chunks[0];
  return s;
}

Message snapshot_ack(const TestNode& leader, Index snap, uint64_t held, bool reject, bool last) {
  Message m = make_msg(kSnapshotResp, 3, 1, leader.core().term());
  m.index = snap;
  m.snapshot_offset = held;
  m.reject = reject;
  m.snapshot_last = last;
  return m;
}

TEST(RaftCore, LeaderStreamsSnapshotOneChunkAtATime) {
  constexpr uint64_t kChunk = 8;
  SnapshotLeader s = leader_sending_snapshot_to_3(kChunk);
  TestNode& n = s.node;
  ASSERT_GT(s.body.size(), 2 * kChunk);
  EXPECT_EQ(s.first_chunk.snapshot.index, s.snap);
  EXPECT_EQ(s.first_chunk.snapshot_offset, 0u);
  EXPECT_EQ(s.first_chunk.snapshot_data.view(), s.body.substr(0, kChunk));
  EXPECT_FALSE(s.first_chunk.snapshot_last);

  n.tick(3);
  EXPECT_TRUE(of_type(n.take_sent(), kSnapshot).empty()) << "one chunk in flight";

  // The follower acknowledges 8 bytes: the next chunk starts there.
  n.step(snapshot_ack(n, s.snap, kChunk, false, false));
  std::vector<Message> next = of_type_to(n.take_sent(), kSnapshot, 3);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].snapshot_offset, kChunk);

  // The follower reports a gap and holds only 4 bytes: resend from there.
  n.step(snapshot_ack(n, s.snap, 4, true, false));
  next = of_type_to(n.take_sent(), kSnapshot, 3);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].snapshot_offset, 4u);
  EXPECT_EQ(next[0].snapshot_data.view(), s.body.substr(4, kChunk));

  // Stream the rest.
  uint64_t held = 4 + next[0].snapshot_data.size();
  for (int i = 0; i < 100 && held < s.body.size(); ++i) {
    n.step(snapshot_ack(n, s.snap, held, false, false));
    next = of_type_to(n.take_sent(), kSnapshot, 3);
    ASSERT_EQ(next.size(), 1u);
    ASSERT_EQ(next[0].snapshot_offset, held);
    held += next[0].snapshot_data.size();
    EXPECT_EQ(next[0].snapshot_last, held == s.body.size());
  }
  ASSERT_EQ(held, s.body.size());
  n.step(snapshot_ack(n, s.snap, held, false, true));
  const CoreStatus st = n.core().status();
  ASSERT_EQ(st.followers.size(), 2u);
  EXPECT_EQ(st.followers[1].match_index, s.snap);
  EXPECT_NE(st.followers[1].state, ProgressState::kSnapshot);

  // Ordinary replication resumes right after the snapshot.
  ASSERT_EQ(n.core().propose(Payload(std::string("after"))).status, Status::kOk);
  n.run();
  const std::vector<Message> appends = of_type_to(n.take_sent(), kAppend, 3);
  ASSERT_FALSE(appends.empty());
  EXPECT_EQ(appends[0].index, s.snap);
}

TEST(RaftCore, LeaderResendsUnansweredSnapshotChunk) {
  SnapshotLeader s = leader_sending_snapshot_to_3(8);
  TestNode& n = s.node;
  std::vector<Message> resent;
  for (int i = 0; i < 2 * kElectionTicks && resent.empty(); ++i) {
    n.tick();
    resent = of_type_to(n.take_sent(), kSnapshot, 3);
  }
  ASSERT_EQ(resent.size(), 1u) << "a lost chunk is resent after a while";
  EXPECT_EQ(resent[0].snapshot_offset, 0u);
}

// --- Bounds, status, counters ---

TEST(RaftCore, PendingReadsAreBounded) {
  Config c = test_config(1, voter_ids(3));
  c.pending_reads_max = 2;
  TestNode n = established_leader(c);
  EXPECT_EQ(n.core().read_index(1), Status::kOk);
  EXPECT_EQ(n.core().read_index(2), Status::kOk);
  EXPECT_EQ(n.core().read_index(3), Status::kBusy);
}

TEST(RaftCore, StatusReportsFollowerProgress) {
  Cluster c(3);
  c.campaign(1);
  ASSERT_EQ(c.propose(1, "a").status, Status::kOk);
  c.tick(1);
  const CoreStatus s = c.node(1).core().status();
  EXPECT_EQ(s.soft.role, kLeader);
  EXPECT_EQ(s.soft.leader, 1u);
  EXPECT_EQ(s.hard.commit_index, 2u);
  EXPECT_EQ(s.last_index, 2u);
  EXPECT_EQ(s.applied_index, 2u);
  ASSERT_EQ(s.followers.size(), 2u);
  EXPECT_EQ(s.followers[0].id, 2u);
  EXPECT_EQ(s.followers[1].id, 3u);
  for (const FollowerStatus& f : s.followers) {
    EXPECT_EQ(f.match_index, 2u);
    EXPECT_EQ(f.next_index, 3u);
    EXPECT_EQ(f.state, ProgressState::kReplicate);
    EXPECT_EQ(f.inflight_appends, 0u);
  }
  EXPECT_TRUE(c.node(2).core().status().followers.empty()) << "followers track no progress";
}

TEST(RaftCore, CountersTrackElectionsLeadersAndProposals) {
  TestNode n = node_of(1, 1);
  n.core().campaign();
  n.run();
  ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
  n.run();
  const CoreCounters& k = n.core().counters();
  EXPECT_EQ(k.elections_started, 1u);
  EXPECT_EQ(k.leader_changes, 1u);
  EXPECT_EQ(k.proposals_accepted, 1u);
  EXPECT_EQ(k.proposals_dropped, 0u);
}

TEST(RaftCore, MessageForAnotherNodeIsIgnored) {
  TestNode n = node_of(1, 3);
  Message m = make_append(2, 5, 1, 0, 0, make_entries(1, {1}), 0);
  n.step(m);
  EXPECT_EQ(n.core().term(), 0u);
  EXPECT_EQ(n.storage().last_index(), 0u);
  EXPECT_EQ(n.core().counters().messages_ignored, 1u);
}

TEST(RaftCore, RepeatedVoteFromSameVoterCountsOnce) {
  TestNode n = node_of(1, 5);
  n.core().campaign();
  n.run();
  n.step(make_msg(kVoteResp, 2, 1, 1));
  n.step(make_msg(kVoteResp, 2, 1, 1));
  EXPECT_EQ(n.core().role(), kCandidate) << "3 of 5 needed; 2 distinct granted";
  n.step(make_msg(kVoteResp, 3, 1, 1));
  EXPECT_EQ(n.core().role(), kLeader);
}

TEST(RaftCore, ForcedSnapshotReachesAFollowerThatLagsButIsNotCompactedAway) {
  // An operator's force-resync: the leader streams its current snapshot although the log could
  // still serve the follower; the follower installs it and replication resumes after it.
  Cluster c(3);
  c.campaign(1);
  c.stop(3);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  TestNode& leader = c.node(1);
  const Index snap = leader.take_snapshot(100);  // keeps the whole log
  ASSERT_LE(leader.storage().first_index(), c.node(3).storage().last_index() + 1);
  c.start(3);
  EXPECT_EQ(leader.core().send_snapshot(3), Status::kOk);
  EXPECT_EQ(leader.core().send_snapshot(9), Status::kInvalidArgument) << "not a peer";
  EXPECT_EQ(c.node(2).core().send_snapshot(3), Status::kNotLeader);
  ASSERT_TRUE(c.tick_until([&] { return c.node(3).applied() >= snap; }, 50));
  EXPECT_EQ(c.node(3).core().counters().snapshots_installed, 1u);
  EXPECT_EQ(c.node(3).state(), leader.state());
}

// Issue 13 bug 2: the operator forces a resync of a follower that is fully up to date (its
// commit index is past the snapshot's). It installs the snapshot all the same: its state machine
// is replaced by the snapshot's, then the committed entries after the snapshot are applied again
// from its own log, which it keeps.
TEST(RaftCore, ForcedSnapshotReplacesAnUpToDateFollowersStateThenReappliesItsLog) {
  Cluster c(3);
  c.campaign(1);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  TestNode& leader = c.node(1);
  const Index snap = leader.take_snapshot(100);  // keeps the whole log
  for (int i = 5; i < 8; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  c.tick_all(2);  // the followers learn the commit index
  TestNode& f = c.node(3);
  const Index commit = leader.core().commit_index();
  ASSERT_GT(commit, snap);
  ASSERT_EQ(f.core().commit_index(), commit);
  ASSERT_EQ(f.applied(), commit);
  const Index last_before = f.storage().last_index();

  f.io_calls.clear();
  ASSERT_EQ(leader.core().send_snapshot(3), Status::kOk);
  c.stabilize();
  EXPECT_EQ(f.core().counters().snapshots_installed, 1u);
  EXPECT_EQ(f.core().counters().snapshots_reinstalled, 1u);
  EXPECT_EQ(f.storage().snapshot_meta(), leader.storage().snapshot_meta());
  // The log after the snapshot and the commit index stay; the state was rebuilt from the
  // snapshot plus the re-applied entries (TestNode::apply checks they come in order).
  EXPECT_EQ(f.storage().last_index(), last_before);
  EXPECT_EQ(f.core().commit_index(), commit);
  EXPECT_EQ(f.applied(), commit);
  EXPECT_EQ(f.state(), leader.state());
  // Replication goes on as before.
  ASSERT_EQ(c.propose(1, "after").status, Status::kOk);
  c.tick_all(2);
  EXPECT_EQ(f.state(), leader.state());
}

// A forced snapshot older than the follower's own compaction point cannot be followed by the
// entries between them: the follower refuses it and the leader goes back to appending.
TEST(RaftCore, ForcedSnapshotOlderThanTheFollowersCompactedLogIsRefusedAndReplicationResumes) {
  Cluster c(3);
  c.campaign(1);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  TestNode& leader = c.node(1);
  const Index snap = leader.take_snapshot(100);
  for (int i = 5; i < 8; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  c.tick_all(2);
  TestNode& f = c.node(3);
  ASSERT_GT(f.take_snapshot(0), snap);  // compacted past the leader's snapshot
  ASSERT_EQ(leader.core().send_snapshot(3), Status::kOk);
  c.stabilize();
  EXPECT_EQ(f.core().counters().snapshots_refused, 1u);
  EXPECT_EQ(f.core().counters().snapshots_installed, 0u);
  ASSERT_EQ(c.propose(1, "after").status, Status::kOk);
  c.tick_all(2);
  EXPECT_EQ(f.applied(), leader.core().commit_index());
  EXPECT_EQ(f.state(), leader.state());
  const CoreStatus s = leader.core().status();
  ASSERT_EQ(s.followers.size(), 2u);
  EXPECT_NE(s.followers[1].state, ProgressState::kSnapshot);
}

// A forced transfer is ended only by the follower's answer to it, not by an Append answer
// that shows the follower is caught up (it is: that is not why the operator forced it).
TEST(RaftCore, AnAppendAnswerDoesNotEndAForcedSnapshotTransfer) {
  Cluster c(3, [](Config& config) { config.snapshot_chunk_bytes_max = 8; });
  c.campaign(1);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.propose(1, numbered("v", i)).status, Status::kOk);
  TestNode& leader = c.node(1);
  (void)leader.take_snapshot(100);
  c.set_filter([](Message& m) { return m.type != MessageType::kSnapshotResp; });
  ASSERT_EQ(leader.core().send_snapshot(3), Status::kOk);
  c.stabilize();
  // An AppendResp from 3 at its (full) match index, as a late answer would be.
  Message late = make_msg(MessageType::kAppendResp, 3, 1, leader.core().term());
  late.index = leader.core().last_index();
  leader.step(late);
  const CoreStatus s = leader.core().status();
  ASSERT_EQ(s.followers.size(), 2u);
  EXPECT_EQ(s.followers[1].id, 3u);
  EXPECT_EQ(s.followers[1].state, ProgressState::kSnapshot);
  c.set_filter(nullptr);
  ASSERT_TRUE(c.tick_until([&] { return c.node(3).core().counters().snapshots_installed == 1; },
                           10 * kElectionTicks));
}

}  // namespace
}  // namespace raft::test
