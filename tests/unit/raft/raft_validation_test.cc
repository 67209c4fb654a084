// Remote input never aborts the core (issue 14, "Validate every peer message at the boundary";
// issue 13 bug 5): each message class below reached a RAFT_ASSERT, or was silently taken, before
// raft/validate.h. Each is now dropped and counted in CoreCounters::messages_rejected, and the
// node keeps its state.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/validate.h"
#include "test_cluster.h"

namespace raft::test {
namespace {

using enum MessageType;
using enum Role;

uint64_t rejected(const TestNode& n, Violation v) {
  return n.core().counters().messages_rejected[static_cast<size_t>(v)];
}

TestNode established_leader_of_3() {
  TestNode n = node_of(1, 3);
  EXPECT_TRUE(win_election(n));
  ack_all_appends(n);
  EXPECT_EQ(n.core().commit_index(), n.core().last_index());
  return n;
}

// A follower of leader 2 at term 2 holding entries 1..3 of term 1.
TestNode follower_with_three_entries() {
  TestNode n = node_of(1, 3);
  make_follower(n, 2, 2);
  n.step(make_append(2, 1, 2, 0, 0, make_entries(1, {1, 1, 1}), 0));
  EXPECT_EQ(n.core().last_index(), 3u);
  n.take_sent();
  return n;
}

Message snapshot_chunk(NodeId from, const SnapshotMeta& meta, const std::string& body,
                       uint64_t offset, uint64_t len, Term term) {
  Message m = make_msg(kSnapshot, from, 1, term);
  m.snapshot = meta;
  m.snapshot_offset = offset;
  m.snapshot_data = Payload(body.substr(offset, len));
  m.snapshot_last = offset + len >= meta.size_bytes;
  return m;
}

// --- validate_message: each stateless rule, one honest and one broken message ---

TEST(ValidateMessage, HonestAppendPasses) {
  Message m = make_append(2, 1, 3, 4, 2, make_entries(5, {2, 3, 3}), 4);
  EXPECT_EQ(validate_message(m, MessageLimits{}), Violation::kNone);
}

TEST(ValidateMessage, EachBrokenAppendRuleIsNamed) {
  const MessageLimits limits;
  Message gap = make_append(2, 1, 3, 4, 2, make_entries(5, {2, 3}), 4);
  gap.entries[1].index = 9;
  EXPECT_EQ(validate_message(gap, limits), Violation::kEntriesNotContiguous);
  Message wrong_start = make_append(2, 1, 3, 4, 2, make_entries(6, {2}), 4);
  EXPECT_EQ(validate_message(wrong_start, limits), Violation::kEntriesNotContiguous);
  Message overflow = make_append(2, 1, 3, ~Index{0}, 2, make_entries(0, {2}), 4);
  EXPECT_EQ(validate_message(overflow, limits), Violation::kEntriesNotContiguous);
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 2, make_entries(5, {4}), 4), limits),
            Violation::kEntryTermPastMessageTerm);
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 2, make_entries(5, {3, 2}), 4), limits),
            Violation::kEntryTermsDecreasing);
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 2, make_entries(5, {1}), 4), limits),
            Violation::kEntryTermsDecreasing)
      << "an entry older than the one before it (prev log_term)";
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 4, {}, 4), limits),
            Violation::kLogTermPastTerm);
  Message stray = make_msg(kHeartbeat, 2, 1, 3);
  stray.entries = make_entries(1, {1});
  EXPECT_EQ(validate_message(stray, limits), Violation::kUnexpectedEntries);
}

TEST(ValidateMessage, AppendSizesFollowTheSendersBudget) {
  MessageLimits limits;
  limits.append_bytes_max = 100;
  limits.entry_bytes_max = 1000;
  std::vector<Entry> one = make_entries(5, {3});
  one[0].data = Payload(std::string(500, 'x'));
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 2, one, 4), limits), Violation::kNone)
      << "one entry travels alone whatever its size (RaftLog::slice)";
  std::vector<Entry> two = make_entries(5, {3, 3});
  two[1].data = Payload(std::string(200, 'x'));
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 2, two, 4), limits),
            Violation::kEntriesOverLimit);
  one[0].data = Payload(std::string(1001, 'x'));
  EXPECT_EQ(validate_message(make_append(2, 1, 3, 4, 2, one, 4), limits),
            Violation::kEntriesOverLimit);
}

TEST(ValidateMessage, EachBrokenSnapshotChunkRuleIsNamed) {
  const MessageLimits limits;
  const std::string body(100, 'b');
  const SnapshotMeta meta{10, 2, ConfState{{1, 2, 3}}, body.size(), 7};
  EXPECT_EQ(validate_message(snapshot_chunk(2, meta, body, 0, 40, 2), limits), Violation::kNone);
  EXPECT_EQ(validate_message(snapshot_chunk(2, meta, body, 60, 40, 2), limits), Violation::kNone);

  Message past = snapshot_chunk(2, meta, body, 60, 40, 2);
  past.snapshot_data = Payload(std::string(41, 'b'));
  EXPECT_EQ(validate_message(past, limits), Violation::kSnapshotChunkPastSize);
  Message short_last = snapshot_chunk(2, meta, body, 0, 40, 2);
  short_last.snapshot_last = true;
  EXPECT_EQ(validate_message(short_last, limits), Violation::kSnapshotLastChunkSize);
  Message unmarked_end = snapshot_chunk(2, meta, body, 60, 40, 2);
  unmarked_end.snapshot_last = false;
  EXPECT_EQ(validate_message(unmarked_end, limits), Violation::kSnapshotLastChunkSize);
  MessageLimits small = limits;
  small.snapshot_chunk_bytes_max = 10;
  EXPECT_EQ(validate_message(snapshot_chunk(2, meta, body, 0, 40, 2), small),
            Violation::kSnapshotChunkOverLimit);
  for (SnapshotMeta bad :
       {SnapshotMeta{0, 2, ConfState{{1}}, 100, 7}, SnapshotMeta{10, 3, ConfState{{1}}, 100, 7},
        SnapshotMeta{10, 2, ConfState{}, 100, 7}, SnapshotMeta{10, 2, ConfState{{2, 1}}, 100, 7}}) {
    EXPECT_EQ(validate_message(snapshot_chunk(2, bad, body, 0, 40, 2), limits),
              Violation::kSnapshotMetaInvalid);
  }
}

TEST(ValidateMessage, VoteForAFutureLastTermIsNamed) {
  EXPECT_EQ(validate_message(make_vote(kVote, 2, 1, 3, 5, 4), MessageLimits{}),
            Violation::kLogTermPastTerm);
  EXPECT_EQ(validate_message(make_vote(kVote, 2, 1, 3, 5, 3), MessageLimits{}), Violation::kNone);
}

TEST(ValidateMessage, EveryViolationHasAStableReasonLabel) {
  for (int v = 1; v < kViolationCount; ++v) {
    const std::string label = to_string(static_cast<Violation>(v));
    EXPECT_NE(label, "unknown") << v;
    EXPECT_EQ(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << label;
  }
}

// --- The core drops what breaks a rule (each aborted or was taken before) ---

// Before: RaftLog::append asserted "appending would leave a gap in the log" (abort).
TEST(RaftCoreRemoteInput, NonContiguousEntriesAreDroppedNotAppended) {
  TestNode n = follower_with_three_entries();
  n.step(make_append(2, 1, 2, 3, 1, make_entries(7, {2}), 7));
  EXPECT_EQ(rejected(n, Violation::kEntriesNotContiguous), 1u);
  EXPECT_EQ(n.core().last_index(), 3u);
  EXPECT_EQ(n.core().commit_index(), 0u);
  EXPECT_TRUE(n.take_sent().empty()) << "dropped, not answered";
}

// Before: entries matched by (index, term) in the wrong order made maybe_append commit past
// the log's end: "commit index past the end of the log" (abort).
TEST(RaftCoreRemoteInput, EntriesOutOfOrderCannotCommitPastTheLog) {
  TestNode n = follower_with_three_entries();
  n.step(make_append(
      2, 1, 2, 3, 1,
      {Entry{1, 1, EntryType::kNormal, Payload()}, Entry{1, 2, EntryType::kNormal, Payload()}}, 5));
  EXPECT_EQ(rejected(n, Violation::kEntriesNotContiguous), 1u);
  EXPECT_EQ(n.core().commit_index(), 0u);
}

// Before: taken; the follower stored an entry of a term its leader had not reached.
TEST(RaftCoreRemoteInput, EntryNewerThanItsLeaderIsDropped) {
  TestNode n = follower_with_three_entries();
  n.step(make_append(2, 1, 2, 3, 1, make_entries(4, {9}), 0));
  EXPECT_EQ(rejected(n, Violation::kEntryTermPastMessageTerm), 1u);
  EXPECT_EQ(n.core().last_index(), 3u);
}

TEST(RaftCoreRemoteInput, InvalidMessageDoesNotRaiseTheTerm) {
  TestNode n = follower_with_three_entries();
  n.step(make_append(3, 1, 50, 3, 1, make_entries(9, {50}), 0));
  EXPECT_EQ(n.core().term(), 2u) << "validated before the term check";
  EXPECT_EQ(n.core().leader(), 2u);
}

// Before: RAFT_ASSERT "snapshot ended short of its size" (abort).
TEST(RaftCoreRemoteInput, LastSnapshotChunkOfTheWrongSizeIsDropped) {
  TestNode n = node_of(1, 3);
  const std::string body = encode_state({"a", "b", "c"});
  const SnapshotMeta meta{10, 2, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)};
  Message m = snapshot_chunk(2, meta, body, 0, 4, 2);
  m.snapshot_last = true;
  n.step(m);
  EXPECT_EQ(rejected(n, Violation::kSnapshotLastChunkSize), 1u);
  EXPECT_EQ(n.storage().snapshot_meta().index, 0u);
  // The honest transfer still installs afterwards.
  n.step(snapshot_chunk(2, meta, body, 0, body.size(), 2));
  EXPECT_EQ(n.storage().snapshot_meta(), meta);
}

// Before: staged; the host's storage then failed on a body longer than its meta (abort).
TEST(RaftCoreRemoteInput, SnapshotChunkPastItsSizeIsDropped) {
  TestNode n = node_of(1, 3);
  const std::string body = encode_state({"a", "b", "c"});
  const SnapshotMeta meta{10, 2, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)};
  Message m = snapshot_chunk(2, meta, body, 0, 4, 2);
  m.snapshot_data = Payload(body + "extra");
  m.snapshot_last = false;
  n.step(m);
  EXPECT_EQ(rejected(n, Violation::kSnapshotChunkPastSize), 1u);
  EXPECT_TRUE(n.take_sent().empty());
}

// Issue 13 bug 5. Before: chunks were matched by (index, term) only, so node 3's forged tail
// completed node 2's transfer and MemoryStorage's install asserted on the checksum (abort).
TEST(RaftCoreRemoteInput, ChunksOfAnotherSenderOrBodyDoNotMixIntoTheTransfer) {
  TestNode n = node_of(1, 3);
  const std::string body = encode_state({"alpha", "beta", "gamma"});
  const SnapshotMeta meta{10, 2, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)};
  n.step(snapshot_chunk(2, meta, body, 0, 8, 2));
  ASSERT_EQ(of_type(n.take_sent(), kSnapshotResp).size(), 1u);

  const std::string forged(body.size(), 'F');
  SnapshotMeta forged_meta = meta;
  forged_meta.checksum = MemoryStorage::checksum(forged);
  n.step(snapshot_chunk(3, forged_meta, forged, 8, body.size() - 8, 2));  // another sender
  n.step(snapshot_chunk(2, forged_meta, forged, 8, body.size() - 8, 2));  // another body
  EXPECT_EQ(rejected(n, Violation::kSnapshotTransferMismatch), 2u);
  EXPECT_EQ(n.storage().snapshot_meta().index, 0u);
  for (const Message& r : of_type(n.take_sent(), kSnapshotResp)) {
    EXPECT_TRUE(r.reject) << "the other sender is told to start over";
  }

  n.step(snapshot_chunk(2, meta, body, 8, body.size() - 8, 2));
  EXPECT_EQ(n.storage().snapshot_meta(), meta) << "the real transfer completes";
  EXPECT_EQ(n.storage().snapshot_body(), body);
}

TEST(RaftCoreRemoteInput, BodyTheHostFoundBadRestartsTheTransfer) {
  TestNode n = node_of(1, 3);
  const std::string body = encode_state({"alpha", "beta", "gamma"});
  const SnapshotMeta meta{10, 2, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)};
  const Message first = snapshot_chunk(2, meta, body, 0, 8, 2);
  EXPECT_TRUE(n.core().would_stage_snapshot_chunk(first));
  n.step(first);
  n.take_sent();
  const Message last = snapshot_chunk(2, meta, body, 8, body.size() - 8, 2);
  EXPECT_TRUE(n.core().would_stage_snapshot_chunk(last));
  EXPECT_FALSE(n.core().would_stage_snapshot_chunk(snapshot_chunk(3, meta, body, 8, 4, 2)));
  EXPECT_FALSE(n.core().would_stage_snapshot_chunk(snapshot_chunk(2, meta, body, 4, 4, 2)));

  n.core().reject_snapshot_body(last);
  n.run();
  EXPECT_EQ(rejected(n, Violation::kSnapshotBodyInvalid), 1u);
  const std::vector<Message> resp = of_type(n.take_sent(), kSnapshotResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].reject);
  EXPECT_EQ(resp[0].snapshot_offset, 0u) << "start over";
  EXPECT_FALSE(n.core().would_stage_snapshot_chunk(last)) << "the transfer is forgotten";
  EXPECT_EQ(n.storage().snapshot_meta().index, 0u);
}

// Before: match_index jumped past the log's end, send_append found no term for next_index - 1
// and start_snapshot asserted "log compacted without a snapshot" (abort).
TEST(RaftCoreRemoteInput, AppendRespPastWhatWasSentIsDropped) {
  TestNode n = established_leader_of_3();
  const Index last = n.core().last_index();
  Message m = make_msg(kAppendResp, 2, 1, n.core().term());
  m.index = last + 100;
  n.step(m);
  EXPECT_EQ(rejected(n, Violation::kAppendRespPastSent), 1u);
  const CoreStatus s = n.core().status();
  ASSERT_EQ(s.followers.size(), 2u);
  EXPECT_EQ(s.followers[0].match_index, last);
  EXPECT_EQ(n.core().propose(Payload(std::string("still works"))).status, Status::kOk);
}

// Before: taken; a follower's acknowledgement of entries just proposed (not yet sent) counted
// toward the quorum.
TEST(RaftCoreRemoteInput, AppendRespForEntriesNotYetSentDoesNotCommitThem) {
  TestNode n = established_leader_of_3();
  ASSERT_EQ(n.core().propose(Payload(std::string("x"))).status, Status::kOk);
  const Index proposed = n.core().last_index();  // in the leader's log, not sent (no run())
  Message m = make_msg(kAppendResp, 2, 1, n.core().term());
  m.index = proposed;
  n.step(m);
  EXPECT_EQ(rejected(n, Violation::kAppendRespPastSent), 1u);
  EXPECT_LT(n.core().commit_index(), proposed);
}

TEST(RaftCoreRemoteInput, FollowerAcknowledgesNoMoreThanTheAppendCarried) {
  TestNode n = follower_with_three_entries();
  n.step(make_append(2, 1, 2, 3, 1, {}, 3));  // commits 1..3
  ASSERT_EQ(n.core().commit_index(), 3u);
  n.take_sent();
  n.step(make_append(2, 1, 2, 1, 1, make_entries(2, {1}), 3));  // behind our commit index
  const std::vector<Message> resp = of_type(n.take_sent(), kAppendResp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_EQ(resp[0].index, 2u) << "what this Append carried, not our whole commit index";
}

// Before: a HeartbeatResp echoing a round never sent confirmed queued reads with one answer.
TEST(RaftCoreRemoteInput, HeartbeatRespForARoundNeverSentConfirmsNothing) {
  TestNode n = established_leader_of_3();
  ASSERT_EQ(n.core().read_index(42), Status::kOk);
  n.run();
  n.take_sent();
  Message forged = make_msg(kHeartbeatResp, 2, 1, n.core().term());
  forged.context = 1'000'000;
  n.step(forged);
  EXPECT_EQ(rejected(n, Violation::kHeartbeatRespRoundPastSent), 1u);
  EXPECT_TRUE(n.read_states.empty());
}

// Before: any ReadIndexResp became a ReadState, so a guessed context confirmed a read.
TEST(RaftCoreRemoteInput, ReadIndexRespWithAGuessedContextIsDropped) {
  TestNode n = follower_with_three_entries();
  ASSERT_EQ(n.core().read_index(7), Status::kOk);
  n.run();
  Message guess = make_msg(kReadIndexResp, 2, 1, 2);
  guess.context = 8;
  guess.index = 1;
  n.step(guess);
  EXPECT_EQ(rejected(n, Violation::kReadIndexRespUnknown), 1u);
  EXPECT_TRUE(n.read_states.empty());
  Message honest = guess;
  honest.context = 7;
  n.step(honest);
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_TRUE(n.read_states[0].ok);
  n.step(honest);
  EXPECT_EQ(rejected(n, Violation::kReadIndexRespUnknown), 2u) << "answered once only";
}

// Before: a grant from the next term's leader confirmed a read asked of the previous one.
TEST(RaftCoreRemoteInput, ReadIndexGrantFromAnotherTermDoesNotConfirmTheRead) {
  TestNode n = follower_with_three_entries();
  ASSERT_EQ(n.core().read_index(7), Status::kOk);  // asked at term 2
  n.run();
  make_follower(n, 3, 3);
  Message grant = make_msg(kReadIndexResp, 3, 1, 3);
  grant.context = 7;
  grant.index = 3;
  n.step(grant);
  EXPECT_EQ(rejected(n, Violation::kReadIndexRespTermChanged), 1u);
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_FALSE(n.read_states[0].ok) << "failed, so the host retries instead of waiting";
}

// Before: the answer to a read sent before a restart confirmed whatever read the restarted
// node had issued under the same id.
TEST(RaftCoreRemoteInput, StaleReadIndexRespFromBeforeARestartIsDropped) {
  TestNode n = follower_with_three_entries();
  ASSERT_EQ(n.core().read_index(1), Status::kOk);
  n.run();
  n.restart();
  make_follower(n, 2, 2);  // same term, same leader
  Message stale = make_msg(kReadIndexResp, 2, 1, 2);
  stale.context = 1;
  stale.index = 1;
  n.step(stale);
  EXPECT_EQ(rejected(n, Violation::kReadIndexRespUnknown), 1u);
  EXPECT_TRUE(n.read_states.empty());
}

TEST(RaftCoreRemoteInput, OutstandingReadsAreBoundedByPendingReadsMax) {
  Config c = test_config(1, voter_ids(3));
  c.pending_reads_max = 2;
  TestNode n(c);
  make_follower(n, 2, 2);
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_EQ(n.core().read_index(id), Status::kOk);
  n.run();
  Message oldest = make_msg(kReadIndexResp, 2, 1, 2);
  oldest.context = 1;
  n.step(oldest);
  EXPECT_EQ(rejected(n, Violation::kReadIndexRespUnknown), 1u) << "the oldest was forgotten";
  Message newest = oldest;
  newest.context = 3;
  n.step(newest);
  ASSERT_EQ(n.read_states.size(), 1u);
  EXPECT_EQ(n.read_states[0].request_id, 3u);
}

TEST(RaftCoreRemoteInput, SnapshotRespClaimingMoreThanTheBodyIsDropped) {
  TestNode n = established_leader_of_3();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(n.core().propose(Payload(numbered("x", i))).status, Status::kOk);
    n.run();
    ack_all_appends(n);
  }
  const Index snap = n.take_snapshot(0);
  ASSERT_EQ(n.core().send_snapshot(3), Status::kOk);
  n.run();
  n.take_sent();
  Message m = make_msg(kSnapshotResp, 3, 1, n.core().term());
  m.index = snap;
  m.snapshot_offset = n.storage().snapshot_meta().size_bytes + 1;
  n.step(m);
  EXPECT_EQ(rejected(n, Violation::kSnapshotRespPastSize), 1u);
  EXPECT_TRUE(of_type(n.take_sent(), kSnapshot).empty());
}

}  // namespace
}  // namespace raft::test
