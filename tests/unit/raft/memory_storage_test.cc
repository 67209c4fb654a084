// MemoryStorage: the in-memory Storage used by tests, the simulator and benchmarks. Its
// semantics are the contract the RocksDB storage must match, so they are pinned down here.
#include "raft/memory_storage.h"

#include <gtest/gtest.h>

#include "test_cluster.h"

namespace raft::test {
namespace {

MemoryStorage storage_with_terms(const std::vector<Term>& terms) {
  MemoryStorage s;
  s.append(make_entries(1, terms));
  return s;
}

const ConfState kConf{{1, 2, 3}};

// A snapshot meta whose size and checksum match `body`, as a leader's storage would send it.
SnapshotMeta meta_for(Index index, Term term, const std::string& body) {
  return SnapshotMeta{index, term, kConf, body.size(), MemoryStorage::checksum(body)};
}

TEST(MemoryStorage, FreshStorageIsEmpty) {
  MemoryStorage s;
  EXPECT_EQ(s.first_index(), 1u);
  EXPECT_EQ(s.last_index(), 0u);
  EXPECT_EQ(s.term(0), Term{0});
  EXPECT_EQ(s.term(1), std::nullopt);
  EXPECT_EQ(s.hard_state(), HardState{});
  EXPECT_EQ(s.snapshot_meta().index, 0u);
}

TEST(MemoryStorage, HardStateRoundTrips) {
  MemoryStorage s;
  const HardState hs{7, 3, 5};
  s.set_hard_state(hs);
  EXPECT_EQ(s.hard_state(), hs);
}

TEST(MemoryStorage, AppendedEntriesAreReadable) {
  MemoryStorage s = storage_with_terms({1, 1, 2});
  EXPECT_EQ(s.first_index(), 1u);
  EXPECT_EQ(s.last_index(), 3u);
  EXPECT_EQ(s.term(1), Term{1});
  EXPECT_EQ(s.term(3), Term{2});
  EXPECT_EQ(s.term(4), std::nullopt);
  std::vector<Entry> out;
  s.entries(1, 4, UINT64_MAX, &out);
  EXPECT_EQ(out, make_entries(1, {1, 1, 2}));
}

TEST(MemoryStorage, EntriesAppendToTheCallersVector) {
  MemoryStorage s = storage_with_terms({1, 1, 2});
  std::vector<Entry> out = make_entries(100, {9});
  s.entries(2, 4, UINT64_MAX, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].index, 100u);
  EXPECT_EQ(out[1].index, 2u);
  EXPECT_EQ(out[2].index, 3u);
}

TEST(MemoryStorage, AppendOverlappingIndexReplacesSuffix) {
  // §5.3: a conflicting entry and all that follow it are replaced.
  MemoryStorage s = storage_with_terms({1, 1, 1, 1});
  s.append(make_entries(2, {2}));
  EXPECT_EQ(s.last_index(), 2u);
  EXPECT_EQ(s.term(2), Term{2});
  EXPECT_EQ(s.term(3), std::nullopt);
  EXPECT_EQ(stored_terms(s), (std::vector<Term>{1, 2}));
}

TEST(MemoryStorage, AppendAtEndExtendsLog) {
  MemoryStorage s = storage_with_terms({1, 1});
  s.append(make_entries(3, {2, 2}));
  EXPECT_EQ(stored_terms(s), (std::vector<Term>{1, 1, 2, 2}));
}

TEST(MemoryStorageDeathTest, AppendLeavingAGapAborts) {
  MemoryStorage s = storage_with_terms({1, 1});
  EXPECT_DEATH(s.append(make_entries(4, {1})), "");
}

TEST(MemoryStorage, EntriesStopAtByteBudget) {
  // Each entry costs entry_size_bytes = payload ("eN": 2 bytes) + 24.
  MemoryStorage s = storage_with_terms({1, 1, 1, 1, 1});
  const uint64_t one = entry_size_bytes(make_entries(1, {1})[0]);
  std::vector<Entry> out;
  s.entries(1, 6, 2 * one, &out);
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  s.entries(1, 6, 2 * one + one - 1, &out);
  EXPECT_EQ(out.size(), 2u) << "a third entry would pass the budget";
  out.clear();
  s.entries(1, 6, UINT64_MAX, &out);
  EXPECT_EQ(out.size(), 5u);
}

TEST(MemoryStorage, EntriesReturnAtLeastOneEntryEvenOverBudget) {
  MemoryStorage s = storage_with_terms({1, 1, 1});
  std::vector<Entry> out;
  s.entries(2, 4, 0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].index, 2u);
}

TEST(MemoryStorage, CreateSnapshotCompactsUpToIndex) {
  MemoryStorage s = storage_with_terms({1, 1, 2, 2, 3, 3, 3, 4, 4, 4});
  s.create_snapshot(6, kConf, "body", 0);
  EXPECT_EQ(s.first_index(), 7u);
  EXPECT_EQ(s.last_index(), 10u);
  EXPECT_EQ(s.term(6), Term{3}) << "the last compacted entry's term is remembered";
  EXPECT_EQ(s.term(5), std::nullopt);
  const SnapshotMeta meta = s.snapshot_meta();
  EXPECT_EQ(meta.index, 6u);
  EXPECT_EQ(meta.term, 3u);
  EXPECT_EQ(meta.conf, kConf);
  EXPECT_EQ(meta.size_bytes, 4u);
  EXPECT_EQ(s.snapshot_body(), "body");
  std::vector<Entry> out;
  s.entries(7, 11, UINT64_MAX, &out);
  EXPECT_EQ(out, make_entries(7, {3, 4, 4, 4})) << "entries after the snapshot are untouched";
}

TEST(MemoryStorage, CreateSnapshotKeepsEntriesForSlowFollowers) {
  MemoryStorage s = storage_with_terms({1, 1, 2, 2, 3, 3, 3, 4, 4, 4});
  s.create_snapshot(6, kConf, "body", 3);
  EXPECT_EQ(s.first_index(), 4u) << "entries up to 6 - 3 are dropped";
  EXPECT_EQ(s.term(3), Term{2});
  EXPECT_EQ(s.term(4), Term{2});
  EXPECT_EQ(s.snapshot_meta().index, 6u);
  EXPECT_EQ(s.last_index(), 10u);
}

TEST(MemoryStorage, CompactDropsPrefixCoveredBySnapshot) {
  MemoryStorage s = storage_with_terms({1, 1, 2, 2, 3, 3, 3, 4});
  s.create_snapshot(6, kConf, "body", 6);
  EXPECT_EQ(s.first_index(), 1u);
  s.compact(4);
  EXPECT_EQ(s.first_index(), 5u);
  EXPECT_EQ(s.term(4), Term{2});
  EXPECT_EQ(s.term(3), std::nullopt);
  EXPECT_EQ(s.snapshot_meta().index, 6u) << "compaction does not change the snapshot";
}

TEST(MemoryStorageDeathTest, CompactPastSnapshotAborts) {
  MemoryStorage s = storage_with_terms({1, 1, 2, 2});
  s.create_snapshot(2, kConf, "b", 2);
  EXPECT_DEATH(s.compact(3), "");
}

TEST(MemoryStorage, SnapshotChunksReadTheBodyInPieces) {
  MemoryStorage s = storage_with_terms({1, 1, 1, 1, 1, 1});
  s.create_snapshot(6, kConf, "abcdefghij", 0);
  EXPECT_EQ(s.snapshot_chunk(6, 0, 4).view(), "abcd");
  EXPECT_EQ(s.snapshot_chunk(6, 4, 4).view(), "efgh");
  EXPECT_EQ(s.snapshot_chunk(6, 8, 4).view(), "ij");
  EXPECT_TRUE(s.snapshot_chunk(6, 10, 4).empty()) << "offset == size";
  EXPECT_EQ(s.snapshot_chunk(6, 0, 100).view(), "abcdefghij");
}

TEST(MemoryStorage, SnapshotChunkOfReplacedSnapshotIsEmpty) {
  MemoryStorage s = storage_with_terms({1, 1, 1, 1, 1, 1, 1, 1});
  s.create_snapshot(6, kConf, "old-body", 0);
  s.create_snapshot(8, kConf, "new-body", 0);
  EXPECT_TRUE(s.snapshot_chunk(6, 0, 4).empty()) << "the sender must restart with the new one";
  EXPECT_EQ(s.snapshot_chunk(8, 0, 3).view(), "new");
}

TEST(MemoryStorage, InstallSnapshotReplacesConflictingLog) {
  MemoryStorage s = storage_with_terms({1, 1, 1, 1, 1});
  const SnapshotMeta meta = meta_for(7, 3, "snap");
  s.install_snapshot(meta, "snap");
  EXPECT_EQ(s.first_index(), 8u);
  EXPECT_EQ(s.last_index(), 7u);
  EXPECT_EQ(s.term(7), Term{3});
  EXPECT_EQ(s.term(5), std::nullopt);
  EXPECT_EQ(s.snapshot_meta(), meta);
  EXPECT_EQ(s.snapshot_body(), "snap");
}

TEST(MemoryStorage, InstallSnapshotRetainsEntriesFollowingAMatchingEntry) {
  // §7: "If existing log entry has same index and term as snapshot's last included entry,
  // retain log entries following it and reply".
  MemoryStorage s = storage_with_terms({1, 1, 1, 1, 1, 2, 2, 2, 2, 2});
  s.install_snapshot(meta_for(5, 1, "snap"), "snap");
  EXPECT_EQ(s.first_index(), 6u);
  EXPECT_EQ(s.last_index(), 10u);
  EXPECT_EQ(s.term(10), Term{2});
  EXPECT_EQ(s.term(5), Term{1});
}

TEST(MemoryStorage, InstallSnapshotDiscardsLogWhenTermDiffers) {
  // §7: "Discard the entire log" when the entry at the snapshot index does not match.
  MemoryStorage s = storage_with_terms({1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  s.install_snapshot(meta_for(5, 2, "snap"), "snap");
  EXPECT_EQ(s.first_index(), 6u);
  EXPECT_EQ(s.last_index(), 5u);
  EXPECT_EQ(s.term(5), Term{2});
  EXPECT_EQ(s.term(6), std::nullopt);
}

TEST(MemoryStorage, AppendIgnoresEntriesCoveredBySnapshot) {
  MemoryStorage s;
  s.install_snapshot(meta_for(5, 1, "snap"), "snap");
  s.append(make_entries(4, {1, 1, 2}));
  EXPECT_EQ(s.first_index(), 6u);
  EXPECT_EQ(s.last_index(), 6u);
  EXPECT_EQ(s.term(6), Term{2});
  EXPECT_EQ(s.term(5), Term{1}) << "the snapshot's entry is not overwritten";
}

}  // namespace
}  // namespace raft::test
