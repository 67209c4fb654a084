// kv/log_storage.h: the durable raft::Storage (append, truncate, terms, entries, compaction,
// hard state) and its restart behaviour.
#include "kv/log_storage.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include "bytes.h"
#include "schema.h"
#include "test_util.h"

namespace kv {
namespace {

using test::entry_of;
using test::make_id;

// Consecutive entries from `first` with the given terms; payload "e<index>".
std::vector<raft::Entry> entries_with_terms(raft::Index first,
                                            const std::vector<raft::Term>& terms) {
  std::vector<raft::Entry> out;
  for (size_t k = 0; k < terms.size(); ++k) {
    const raft::Index index = first + k;
    out.push_back(raft::Entry{terms[k], index, raft::EntryType::kNormal,
                              raft::Payload(test::numbered("e", index))});
  }
  return out;
}

std::vector<raft::Entry> read_all(const LogStorage& log) {
  std::vector<raft::Entry> out;
  if (log.last_index() >= log.first_index()) {
    log.entries(log.first_index(), log.last_index() + 1, UINT64_MAX, &out);
  }
  return out;
}

Status persist(LogStorage& log, std::vector<raft::Entry> entries,
               std::optional<raft::HardState> hs = std::nullopt) {
  raft::Ready ready;
  ready.entries = std::move(entries);
  ready.hard_state = hs;
  return log.persist(ready);
}

class LogStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open(const StoreOptions& options = test::test_store_options()) {
    store_.reset();
    store_ = test::open_store(dir_.path(), options);
  }
  LogStorage& log() { return store_->log(); }
  // Runs `edit` on the closed store's raw RocksDB (the raft_meta and log families), then reopens
  // the store and returns how that went.
  Status edit_raw_and_reopen(const std::function<void(Db&)>& edit) {
    store_.reset();
    {
      Result<std::unique_ptr<Db>> db = Db::open(dir_.path() / "db", DbOptions{});
      EXPECT_TRUE(db.is_ok());
      if (db.is_ok()) edit(**db);
    }
    Result<std::unique_ptr<Store>> reopened = Store::open(dir_.path(), test::test_store_options());
    if (!reopened.is_ok()) return reopened.status();
    store_ = std::move(reopened).value();
    return Status();
  }
  static void put_meta(Db& db, std::string_view key, const std::string& value) {
    ASSERT_TRUE(
        db.rocks()->Put(rocksdb::WriteOptions(), db.family(Family::kRaftMeta), key, value).ok());
  }
  static std::optional<std::string> get_meta(Db& db, std::string_view key) {
    std::string value;
    if (!db.rocks()->Get(rocksdb::ReadOptions(), db.family(Family::kRaftMeta), key, &value).ok()) {
      return std::nullopt;
    }
    return value;
  }

  test::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LogStorageTest, FreshLogIsEmptyWithZeroHardState) {
  EXPECT_EQ(log().first_index(), 1u);
  EXPECT_EQ(log().last_index(), 0u);
  EXPECT_EQ(log().term(0), 0u);
  EXPECT_FALSE(log().term(1).has_value());
  EXPECT_EQ(log().hard_state(), raft::HardState{});
  EXPECT_EQ(log().snapshot_meta(), raft::SnapshotMeta{});
  EXPECT_TRUE(log().snapshot_chunk(0, 0, 100).empty());
}

TEST_F(LogStorageTest, AppendedEntriesReadBackWithTheirTerms) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 1, 2, 2, 3})).is_ok());
  EXPECT_EQ(log().last_index(), 5u);
  EXPECT_EQ(log().term(2), 1u);
  EXPECT_EQ(log().term(3), 2u);
  EXPECT_EQ(log().term(5), 3u);
  EXPECT_FALSE(log().term(6).has_value());
  EXPECT_EQ(read_all(log()), entries_with_terms(1, {1, 1, 2, 2, 3}));
  std::vector<raft::Entry> middle;
  log().entries(2, 4, UINT64_MAX, &middle);
  EXPECT_EQ(middle, entries_with_terms(2, {1, 2}));
}

// §5.3: an entry that conflicts with a new one (same index, different term) is deleted with all
// that follow it.
TEST_F(LogStorageTest, ConflictingAppendTruncatesTheSuffix) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 1, 1, 1, 1})).is_ok());
  ASSERT_TRUE(persist(log(), entries_with_terms(3, {2, 2})).is_ok());
  EXPECT_EQ(log().last_index(), 4u);
  EXPECT_EQ(read_all(log()), entries_with_terms(1, {1, 1, 2, 2}));
  open();  // the deleted suffix stays deleted on disk
  EXPECT_EQ(log().last_index(), 4u);
  EXPECT_EQ(read_all(log()), entries_with_terms(1, {1, 1, 2, 2}));
  ASSERT_TRUE(persist(log(), entries_with_terms(2, {3})).is_ok());
  EXPECT_EQ(read_all(log()), entries_with_terms(1, {1, 3}));
}

TEST_F(LogStorageTest, EntriesStopAtMaxBytesButReturnAtLeastOne) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 1, 1, 1})).is_ok());
  const uint64_t one = raft::entry_size_bytes(entries_with_terms(1, {1})[0]);
  std::vector<raft::Entry> out;
  log().entries(1, 5, 0, &out);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  log().entries(1, 5, 2 * one + 1, &out);
  EXPECT_EQ(out.size(), 2u);
}

TEST_F(LogStorageTest, EntriesComeFromDiskWhenTheyFellOutOfTheCache) {
  StoreOptions options = test::test_store_options();
  options.log.entry_cache_bytes_max = 100;  // holds ~3 small entries
  open(options);
  ASSERT_TRUE(persist(log(), entries_with_terms(1, std::vector<raft::Term>(20, 1))).is_ok());
  const uint64_t misses = log().stats().entry_cache_misses;
  EXPECT_EQ(read_all(log()), entries_with_terms(1, std::vector<raft::Term>(20, 1)));
  EXPECT_EQ(log().stats().entry_cache_misses, misses + 1);
  const uint64_t one = raft::entry_size_bytes(entries_with_terms(15, {1})[0]);  // "e15"
  std::vector<raft::Entry> out;
  log().entries(15, 21, 3 * one, &out);  // straddles disk and cache, stops by bytes
  EXPECT_EQ(out, entries_with_terms(15, {1, 1, 1}));
  out.clear();
  log().entries(20, 21, UINT64_MAX, &out);
  EXPECT_EQ(out, entries_with_terms(20, {1}));
}

TEST_F(LogStorageTest, LogAndHardStateSurviveReopen) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 2, 2}), raft::HardState{2, 3, 2}).is_ok());
  ASSERT_TRUE(persist(log(), {}, raft::HardState{4, raft::kNoNode, 3}).is_ok());
  open();
  EXPECT_EQ(log().hard_state(), (raft::HardState{4, raft::kNoNode, 3}));
  EXPECT_EQ(log().first_index(), 1u);
  EXPECT_EQ(log().last_index(), 3u);
  EXPECT_EQ(log().term(1), 1u);
  EXPECT_EQ(log().term(3), 2u);
  EXPECT_EQ(read_all(log()), entries_with_terms(1, {1, 2, 2}));
}

TEST_F(LogStorageTest, SnapshotCompactsTheLogButKeepsTheConfiguredTail) {
  std::vector<raft::Entry> entries = test::workload(1, 100, /*seed=*/3);
  for (size_t k = 50; k < entries.size(); ++k) entries[k].term = 2;
  test::persist_entries(log(), entries, 2);
  (void)test::apply_all(store_->state_machine(), entries);

  Result<raft::SnapshotMeta> meta = store_->create_snapshot(raft::ConfState{{1, 2, 3}}, 10);
  ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
  EXPECT_EQ(meta->index, 100u);
  EXPECT_EQ(meta->term, 2u);
  EXPECT_EQ(meta->conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(log().snapshot_meta(), *meta);
  EXPECT_EQ(log().first_index(), 91u);
  EXPECT_EQ(log().term(90), 2u);  // the last compacted entry's term is remembered
  EXPECT_FALSE(log().term(89).has_value());
  EXPECT_EQ(read_all(log()).front().index, 91u);
  EXPECT_TRUE(std::filesystem::exists(snapshot_file_path(log().snapshot_dir(), 100)));

  // A later snapshot replaces the file; the old index is no longer served.
  const std::vector<raft::Entry> more = test::workload(101, 20, /*seed=*/4);
  test::persist_entries(log(), more, 2);
  (void)test::apply_all(store_->state_machine(), more);
  Result<raft::SnapshotMeta> next = store_->create_snapshot(raft::ConfState{{1, 2, 3}}, 0);
  ASSERT_TRUE(next.is_ok());
  EXPECT_EQ(log().first_index(), 121u);
  EXPECT_EQ(log().last_index(), 120u);
  EXPECT_EQ(log().term(120), 1u);
  EXPECT_FALSE(std::filesystem::exists(snapshot_file_path(log().snapshot_dir(), 100)));
  EXPECT_TRUE(log().snapshot_chunk(100, 0, 1000).empty());
  EXPECT_EQ(log().snapshot_chunk(120, 0, 1 << 30).size(), next->size_bytes);

  open();  // all of it survives a restart
  EXPECT_EQ(log().snapshot_meta(), *next);
  EXPECT_EQ(log().first_index(), 121u);
  EXPECT_EQ(log().last_index(), 120u);
  EXPECT_EQ(log().term(120), 1u);
  EXPECT_EQ(log().snapshot_chunk(120, 0, 1 << 30).size(), next->size_bytes);
  ASSERT_TRUE(persist(log(), entries_with_terms(121, {3})).is_ok());
  EXPECT_EQ(log().term(121), 3u);
}

TEST_F(LogStorageTest, EntriesAlreadyCoveredByTheSnapshotAreIgnored) {
  const std::vector<raft::Entry> entries = test::workload(1, 30, /*seed=*/8);
  test::persist_entries(log(), entries, 1);
  (void)test::apply_all(store_->state_machine(), entries);
  ASSERT_TRUE(store_->create_snapshot(raft::ConfState{{1}}, 0).is_ok());
  ASSERT_TRUE(persist(log(), entries_with_terms(25, {1, 1, 1, 1, 1, 1, 1})).is_ok());
  EXPECT_EQ(log().first_index(), 31u);
  EXPECT_EQ(log().last_index(), 31u);
}

// Opening reads the persisted term runs instead of the whole log; they follow every change of
// the log's terms: new terms, a truncation, a compaction.
TEST_F(LogStorageTest, TermsSurviveReopenAfterTruncationAndCompaction) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 1, 2, 2, 2, 3, 3})).is_ok());
  ASSERT_TRUE(persist(log(), entries_with_terms(5, {4, 4, 5})).is_ok());  // truncates 5..7
  const std::vector<raft::Entry> expected = entries_with_terms(1, {1, 1, 2, 2, 4, 4, 5});
  open();
  EXPECT_EQ(read_all(log()), expected);
  for (const raft::Entry& e : expected) EXPECT_EQ(log().term(e.index), e.term) << e.index;
  EXPECT_FALSE(log().term(8).has_value());

  // Compaction drops whole runs and cuts the first survivor.
  std::vector<raft::Entry> tail = test::workload(8, 20, /*seed=*/5);
  for (raft::Entry& e : tail) e.term = 6;
  test::persist_entries(log(), tail, 6);
  std::vector<raft::Entry> all = expected;
  all.insert(all.end(), tail.begin(), tail.end());
  for (raft::Entry& e : all) {
    if (e.index <= 7) e = test::noop_entry(e.index, e.term);  // apply needs commands or no-ops
  }
  (void)test::apply_all(store_->state_machine(), all);
  ASSERT_TRUE(store_->create_snapshot(raft::ConfState{{1}}, /*keep_entries=*/22).is_ok());
  ASSERT_EQ(log().first_index(), 6u);
  open();
  EXPECT_EQ(log().first_index(), 6u);
  EXPECT_EQ(log().last_index(), 27u);
  EXPECT_EQ(log().term(5), 4u);  // the compaction point's term
  EXPECT_EQ(log().term(6), 4u);
  EXPECT_EQ(log().term(7), 5u);
  EXPECT_EQ(log().term(8), 6u);
  EXPECT_EQ(log().term(27), 6u);
}

// A data directory written before the term runs existed has none: it is scanned once, and the
// runs are written for the next open.
TEST_F(LogStorageTest, ALogWithoutPersistedTermRunsIsScannedOnceAndGetsThem) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 2, 2, 3})).is_ok());
  std::optional<std::string> written;
  ASSERT_TRUE(edit_raw_and_reopen([](Db& db) {
                ASSERT_TRUE(db.rocks()
                                ->Delete(rocksdb::WriteOptions(), db.family(Family::kRaftMeta),
                                         detail::kTermRunsKey)
                                .ok());
              }).is_ok());
  EXPECT_EQ(read_all(log()), entries_with_terms(1, {1, 2, 2, 3}));
  EXPECT_EQ(log().term(3), 2u);
  ASSERT_TRUE(
      edit_raw_and_reopen([&](Db& db) { written = get_meta(db, detail::kTermRunsKey); }).is_ok());
  ASSERT_TRUE(written.has_value());
  std::vector<detail::TermRun> runs;
  ASSERT_TRUE(detail::decode_term_runs(*written, &runs));
  EXPECT_EQ(runs, (std::vector<detail::TermRun>{{1, 1}, {2, 2}, {4, 3}}));
}

// Persisted runs that do not match the log's ends, or do not decode, refuse the open with a
// corruption error instead of serving wrong terms.
TEST_F(LogStorageTest, TermRunsThatDisagreeWithTheLogAreCorruption) {
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1, 2, 2, 3})).is_ok());
  const std::vector<std::pair<std::string, std::vector<detail::TermRun>>> wrong = {
      {"last entry's term", {{1, 1}, {2, 2}}},
      {"first run after the first entry", {{2, 1}, {4, 3}}},
      {"run past the last entry", {{1, 1}, {2, 2}, {4, 3}, {9, 4}}},
      {"no runs for a log", {}},
  };
  for (const auto& [what, runs] : wrong) {
    const std::string record = detail::encode_term_runs(runs);  // (clang 14: no binding captures)
    Status s =
        edit_raw_and_reopen([&record](Db& db) { put_meta(db, detail::kTermRunsKey, record); });
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << what << ": " << s.to_string();
  }
  std::string unsorted = detail::encode_term_runs({{1, 1}, {4, 3}, {2, 2}});
  Status s = edit_raw_and_reopen([&](Db& db) { put_meta(db, detail::kTermRunsKey, unsorted); });
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  Status cut = edit_raw_and_reopen(
      [&](Db& db) { put_meta(db, detail::kTermRunsKey, unsorted.substr(0, unsorted.size() - 3)); });
  EXPECT_EQ(cut.code(), Status::Code::kCorruption) << cut.to_string();
}

TEST_F(LogStorageTest, ReadingOutsideTheLogIsABugThatAborts) {
  // "fast" forks right here, so the child reuses this test's directory instead of re-running
  // SetUp and leaking a new one; it aborts before touching RocksDB, which forking makes unsafe.
  GTEST_FLAG_SET(death_test_style, "fast");
  ASSERT_TRUE(persist(log(), entries_with_terms(1, {1})).is_ok());
  std::vector<raft::Entry> out;
  EXPECT_DEATH(log().entries(1, 3, UINT64_MAX, &out), "inside the stored log");
}

}  // namespace
}  // namespace kv
