// RaftLog: stable entries in Storage followed by unstable ones, plus commit and apply positions.
#include "raft/log.h"

#include <gtest/gtest.h>

#include "raft/memory_storage.h"
#include "test_cluster.h"

namespace raft::test {
namespace {

std::vector<Term> log_terms(const RaftLog& log) {
  std::vector<Term> terms;
  for (Index i = log.first_index(); i <= log.last_index(); ++i) terms.push_back(*log.term(i));
  return terms;
}

TEST(RaftLog, EmptyStorageGivesEmptyLog) {
  MemoryStorage s;
  RaftLog log(s);
  EXPECT_EQ(log.first_index(), 1u);
  EXPECT_EQ(log.last_index(), 0u);
  EXPECT_EQ(log.last_term(), 0u);
  EXPECT_EQ(log.term(0), Term{0});
  EXPECT_EQ(log.applied(), 0u);
  EXPECT_EQ(log.committed(), 0u);
}

TEST(RaftLog, ReadsStableEntriesFromStorage) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 2}));
  RaftLog log(s);
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.last_term(), 2u);
  EXPECT_EQ(log.term(2), Term{1});
  EXPECT_EQ(log.term(4), std::nullopt);
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST(RaftLog, AppendedEntriesAreUnstableUntilPersisted) {
  MemoryStorage s;
  s.append(make_entries(1, {1}));
  RaftLog log(s);
  log.append(make_entries(2, {3, 3}));
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.unstable_entries(), make_entries(2, {3, 3}));
  EXPECT_EQ(s.last_index(), 1u) << "the core never writes storage";
}

TEST(RaftLog, MatchTermComparesTermAtIndex) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 2}));
  RaftLog log(s);
  EXPECT_TRUE(log.match_term(0, 0));
  EXPECT_TRUE(log.match_term(2, 2));
  EXPECT_FALSE(log.match_term(2, 1));
  EXPECT_FALSE(log.match_term(3, 2)) << "past the end never matches";
}

// §5.3, AppendEntries receiver rules 2-5 (etcd's TestLogMaybeAppend, our own cases).
TEST(RaftLog, MaybeAppendFollowsAppendEntriesRules) {
  struct Case {
    Index prev_index;
    Term prev_term;
    Index commit;
    std::vector<Entry> entries;
    std::optional<Index> want_last;
    Index want_commit;
    std::vector<Term> want_terms;
  };
  const std::vector<Case> cases = {
      // Rule 2: reject when the log has no entry at prev_index with prev_term.
      {3, 2, 3, make_entries(4, {4}), std::nullopt, 1, {1, 2, 3}},
      {4, 3, 3, make_entries(5, {4}), std::nullopt, 1, {1, 2, 3}},
      // Match without entries: commit advances to min(commit, last new index).
      {3, 3, 3, {}, 3, 3, {1, 2, 3}},
      {3, 3, 4, {}, 3, 3, {1, 2, 3}},
      {3, 3, 2, {}, 3, 2, {1, 2, 3}},
      {3, 3, 0, {}, 3, 1, {1, 2, 3}},  // commit never moves backwards
      // Rule 4: append new entries.
      {3, 3, 5, make_entries(4, {4}), 4, 4, {1, 2, 3, 4}},
      {3, 3, 5, make_entries(4, {4, 4}), 5, 5, {1, 2, 3, 4, 4}},
      // Rule 3: a conflicting entry and all that follow are replaced.
      {2, 2, 3, make_entries(3, {4}), 3, 3, {1, 2, 4}},
      {1, 1, 1, make_entries(2, {4, 4}), 3, 1, {1, 4, 4}},
      // Entries already present are not truncated (a delayed, shorter Append must not undo a
      // longer one).
      {1, 1, 1, make_entries(2, {2}), 2, 1, {1, 2, 3}},
      {0, 0, 1, make_entries(1, {1}), 1, 1, {1, 2, 3}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    MemoryStorage s;
    s.append(make_entries(1, {1, 2, 3}));
    RaftLog log(s);
    log.commit_to(1);
    const std::optional<Index> last =
        log.maybe_append(c.prev_index, c.prev_term, c.commit, c.entries);
    EXPECT_EQ(last, c.want_last) << "case " << i;
    EXPECT_EQ(log.committed(), c.want_commit) << "case " << i;
    EXPECT_EQ(log_terms(log), c.want_terms) << "case " << i;
  }
}

TEST(RaftLog, FindConflictByTermSkipsWholeTerms) {
  // §5.3 (end): the follower's hint is the largest index <= index whose term <= term.
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 2, 2, 4, 4}));
  RaftLog log(s);
  EXPECT_EQ(log.find_conflict_by_term(6, 4), 6u);
  EXPECT_EQ(log.find_conflict_by_term(6, 3), 4u);
  EXPECT_EQ(log.find_conflict_by_term(6, 2), 4u);
  EXPECT_EQ(log.find_conflict_by_term(6, 1), 2u);
  EXPECT_EQ(log.find_conflict_by_term(6, 0), 0u);
  EXPECT_EQ(log.find_conflict_by_term(3, 5), 3u);
  EXPECT_EQ(log.find_conflict_by_term(0, 0), 0u);
}

TEST(RaftLog, IsUpToDateComparesLastTermThenLength) {
  // §5.4.1: "If the logs have last entries with different terms, then the log with the later
  // term is more up-to-date. If the logs end with the same term, then whichever log is longer
  // is more up-to-date."
  MemoryStorage s;
  s.append(make_entries(1, {1, 2, 3}));
  RaftLog log(s);
  struct Case {
    Index last_index;
    Term last_term;
    bool want;
  };
  const std::vector<Case> cases = {
      {2, 4, true},  {3, 4, true},  {4, 4, true},   // later term wins regardless of length
      {2, 2, false}, {3, 2, false}, {4, 2, false},  // earlier term loses regardless of length
      {2, 3, false}, {3, 3, true},  {4, 3, true},   // same term: at least as long
  };
  for (const Case& c : cases) {
    EXPECT_EQ(log.is_up_to_date(c.last_index, c.last_term), c.want)
        << "candidate (" << c.last_index << ", " << c.last_term << ")";
  }
}

TEST(RaftLog, StableToReleasesPersistedEntries) {
  MemoryStorage s;
  s.append(make_entries(1, {1}));
  RaftLog log(s);
  log.append(make_entries(2, {1, 1}));
  s.append(log.unstable_entries());
  log.stable_to(2, 1);
  EXPECT_EQ(log.unstable_entries(), make_entries(3, {1}));
  log.stable_to(3, 1);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.term(3), Term{1});
}

TEST(RaftLog, StableToIgnoresEntriesThatWereReplacedMeanwhile) {
  // The host persisted [2:1, 3:1]; before it acknowledged them, a new leader's entry replaced
  // index 2. The acknowledgement refers to entries that no longer exist and must not drop the
  // replacement from the unstable log.
  MemoryStorage s;
  s.append(make_entries(1, {1}));
  RaftLog log(s);
  log.append(make_entries(2, {1, 1}));
  s.append(log.unstable_entries());
  log.append(make_entries(2, {2}));
  EXPECT_EQ(log.last_index(), 2u);
  log.stable_to(3, 1);
  log.stable_to(2, 1);
  EXPECT_EQ(log.unstable_entries(), make_entries(2, {2}));
  s.append(log.unstable_entries());
  log.stable_to(2, 2);
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST(RaftLog, CommitToNeverMovesBackwards) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 1}));
  RaftLog log(s);
  log.commit_to(3);
  log.commit_to(2);
  EXPECT_EQ(log.committed(), 3u);
}

TEST(RaftLogDeathTest, CommitToPastLastIndexAborts) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1}));
  RaftLog log(s);
  EXPECT_DEATH(log.commit_to(3), "");
}

TEST(RaftLog, CommittedEntriesAreHandedOutOnceThenApplied) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 1}));
  RaftLog log(s);
  EXPECT_FALSE(log.has_next_committed_entries());
  log.commit_to(2);
  EXPECT_TRUE(log.has_next_committed_entries());
  std::vector<Entry> out;
  log.next_committed_entries(UINT64_MAX, &out);
  EXPECT_EQ(out, make_entries(1, {1, 1}));
  log.applied_to(2);
  EXPECT_FALSE(log.has_next_committed_entries());
  EXPECT_EQ(log.applied(), 2u);
}

TEST(RaftLog, CommittedEntriesRespectByteBudget) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 1, 1}));
  RaftLog log(s);
  log.commit_to(4);
  std::vector<Entry> out;
  log.next_committed_entries(0, &out);
  EXPECT_EQ(out, make_entries(1, {1})) << "at least one entry, even over budget";
  out.clear();
  log.next_committed_entries(2 * entry_size_bytes(make_entries(1, {1})[0]), &out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(RaftLog, SetAppliedOnRestartSkipsAppliedEntries) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 1, 1, 1}));
  RaftLog log(s);
  log.commit_to(5);
  log.set_applied(3);
  std::vector<Entry> out;
  log.next_committed_entries(UINT64_MAX, &out);
  EXPECT_EQ(out, make_entries(4, {1, 1}));
}

TEST(RaftLog, SliceSpansStableAndUnstableEntries) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 1}));
  RaftLog log(s);
  log.append(make_entries(4, {2, 2}));
  std::vector<Entry> out;
  log.slice(2, 6, UINT64_MAX, &out);
  std::vector<Entry> want = make_entries(2, {1, 1});
  const std::vector<Entry> tail = make_entries(4, {2, 2});
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(out, want);
  out.clear();
  log.slice(2, 6, 3 * entry_size_bytes(want[0]), &out);
  EXPECT_EQ(out.size(), 3u) << "byte budget applies across the stable/unstable boundary";
}

TEST(RaftLog, TermOfCompactedIndexIsUnknownButSnapshotIndexIsKnown) {
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 2, 2, 3, 3}));
  s.create_snapshot(4, ConfState{{1, 2, 3}}, "body", 0);
  RaftLog log(s);
  EXPECT_EQ(log.first_index(), 5u);
  EXPECT_EQ(log.term(4), Term{2});
  EXPECT_EQ(log.term(3), std::nullopt);
  EXPECT_EQ(log.last_index(), 6u);
}

TEST(RaftLog, RestoreReplacesLogWithSnapshot) {
  // §7: a follower far behind replaces its whole log with the leader's snapshot.
  MemoryStorage s;
  s.append(make_entries(1, {1, 1, 1}));
  RaftLog log(s);
  log.commit_to(2);
  const std::string body = "snap-b";
  const SnapshotMeta meta{10, 4, ConfState{{1, 2, 3}}, body.size(), MemoryStorage::checksum(body)};
  log.restore(meta);
  EXPECT_EQ(log.last_index(), 10u);
  EXPECT_EQ(log.last_term(), 4u);
  EXPECT_EQ(log.term(10), Term{4});
  EXPECT_EQ(log.committed(), 10u);
  ASSERT_TRUE(log.unstable_snapshot().has_value());
  EXPECT_EQ(log.unstable_snapshot()->index, 10u);
  EXPECT_TRUE(log.unstable_entries().empty());

  // The host installs it; the log then reads the snapshot from storage.
  s.install_snapshot(meta, body);
  log.stable_snapshot_to(10);
  EXPECT_FALSE(log.unstable_snapshot().has_value());
  EXPECT_EQ(log.first_index(), 11u);
  EXPECT_EQ(log.last_index(), 10u);
  EXPECT_EQ(log.term(10), Term{4});
}

}  // namespace
}  // namespace raft::test
