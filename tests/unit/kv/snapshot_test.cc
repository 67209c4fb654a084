// Snapshots end to end at the storage level (create on A, stream in chunks to B, install) and
// crash safety: between persist and apply, and in the middle of an install.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <xxhash.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include "file.h"
#include "kv/store.h"
#include "raft/rand.h"
#include "test_util.h"

namespace kv {
namespace {

using test::apply_all;
using test::persist_entries;
using test::workload;

const raft::ConfState kConf{{1, 2, 3}};

// Builds a store whose log and state machine hold `entries`.
std::unique_ptr<Store> store_with(const std::filesystem::path& dir,
                                  const std::vector<raft::Entry>& entries) {
  std::unique_ptr<Store> store = test::open_store(dir);
  if (!entries.empty()) {
    persist_entries(store->log(), entries, entries.back().term);
    (void)apply_all(store->state_machine(), entries);
  }
  return store;
}

// Streams `from`'s current snapshot to `to` as a follower's core would hand it over: chunks of
// the given sizes (cycled), several per Ready, the last Ready also asking to install. Returns
// the status of the final persist.
Status stream_snapshot(const Store& from, Store& to, const std::vector<uint64_t>& chunk_sizes,
                       std::optional<uint64_t> corrupt_offset = std::nullopt) {
  const raft::SnapshotMeta meta = from.log().snapshot_meta();
  uint64_t offset = 0;
  size_t k = 0;
  while (offset < meta.size_bytes) {
    raft::Ready ready;
    for (int in_batch = 0; in_batch < 3 && offset < meta.size_bytes; ++in_batch, ++k) {
      raft::Payload data =
          from.log().snapshot_chunk(meta.index, offset, chunk_sizes[k % chunk_sizes.size()]);
      EXPECT_FALSE(data.empty());
      if (corrupt_offset && *corrupt_offset >= offset && *corrupt_offset < offset + data.size()) {
        std::string bytes(data.view());
        bytes[*corrupt_offset - offset] ^= 0x20;
        data = raft::Payload(std::move(bytes));
      }
      const bool last = offset + data.size() == meta.size_bytes;
      ready.snapshot_chunks.push_back(raft::SnapshotChunk{meta, offset, data, last});
      offset += data.size();
    }
    if (offset == meta.size_bytes) ready.snapshot = meta;
    if (Status s = to.persist(ready); !s.is_ok()) return s;
    if (ready.snapshot) {
      Result<std::vector<ApplyResult>> applied = to.apply(ready);
      if (!applied.is_ok()) return applied.status();
    }
  }
  return Status();
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_entries_ = workload(1, 300, /*seed=*/21);
    for (raft::Entry& e : leader_entries_) e.term = 2;
    a_ = store_with(a_dir_.path(), leader_entries_);
    // B is behind and diverged: its own (uncommitted, term 1) entries at 1..40.
    b_ = store_with(b_dir_.path(), workload(1, 40, /*seed=*/99));
    Result<raft::SnapshotMeta> meta = a_->create_snapshot(kConf, /*keep_entries=*/20);
    ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
    meta_ = *meta;
  }

  test::TempDir a_dir_;
  test::TempDir b_dir_;
  std::vector<raft::Entry> leader_entries_;
  std::unique_ptr<Store> a_;
  std::unique_ptr<Store> b_;
  raft::SnapshotMeta meta_;
};

TEST_F(SnapshotTest, ChunkedTransferInstallsAnIdenticalStateThatKeepsApplying) {
  ASSERT_GT(meta_.size_bytes, 5000u);
  Status s = stream_snapshot(*a_, *b_, {7, 1, 4099, 13, 333});
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(b_->state_machine().state_hash(), a_->state_machine().state_hash());
  EXPECT_EQ(b_->state_machine().idempotency_key_count(),
            a_->state_machine().idempotency_key_count());
  EXPECT_EQ(b_->log().snapshot_meta(), meta_);
  // B's diverged log is gone: it now starts right after the snapshot.
  EXPECT_EQ(b_->log().first_index(), 301u);
  EXPECT_EQ(b_->log().last_index(), 300u);
  EXPECT_EQ(b_->log().term(300), 2u);
  EXPECT_GE(b_->log().hard_state().commit_index, 300u);
  EXPECT_EQ(files_in(b_->log().snapshot_dir()),
            std::vector<std::string>{"snap-00000000000000000300.bin"});

  // Both continue with the same entries and stay identical, also across B's restart.
  const std::vector<raft::Entry> more = workload(301, 80, /*seed=*/22);
  for (Store* s : {a_.get(), b_.get()}) {
    persist_entries(s->log(), more, 2);
    (void)apply_all(s->state_machine(), more);
  }
  EXPECT_EQ(b_->state_machine().state_hash(), a_->state_machine().state_hash());
  b_.reset();
  b_ = test::open_store(b_dir_.path());
  EXPECT_EQ(b_->state_machine().state_hash(), a_->state_machine().state_hash());
  EXPECT_EQ(b_->log().snapshot_meta(), meta_);
  // B can serve the snapshot it received, byte for byte.
  EXPECT_EQ(b_->log().snapshot_chunk(300, 0, 1 << 30), a_->log().snapshot_chunk(300, 0, 1 << 30));
}

// The idempotency table travels with its expiries and the clock: after the install both members
// hold the same table and forget every key at the same stamped entry (all recorded at clock 0
// with the default TTL, so exactly at stamp TTL, not one ms before).
TEST_F(SnapshotTest, InstallCarriesTheIdempotencyTableWithItsExpiries) {
  ASSERT_TRUE(stream_snapshot(*a_, *b_, {4096}).is_ok());
  const IdempotencyStats a_before = a_->state_machine().idempotency_stats();
  const IdempotencyStats b_before = b_->state_machine().idempotency_stats();
  ASSERT_GT(a_before.keys, 0u);
  EXPECT_EQ(b_before.keys, a_before.keys);
  EXPECT_EQ(b_before.bytes, a_before.bytes);
  EXPECT_EQ(b_before.clock_ms, a_before.clock_ms);
  raft::Index next = 301;
  for (uint64_t stamp : {kIdempotencyTtlMsDefault - 1, kIdempotencyTtlMsDefault}) {
    const std::vector<raft::Entry> tick{
        test::entry_of(next++, 2, test::stamped(test::delete_command(test::make_id(999)), stamp))};
    for (Store* s : {a_.get(), b_.get()}) {
      persist_entries(s->log(), tick, 2);
      (void)apply_all(s->state_machine(), tick);
    }
    const uint64_t expected = stamp < kIdempotencyTtlMsDefault ? a_before.keys : 0;
    EXPECT_EQ(a_->state_machine().idempotency_stats().keys, expected) << stamp;
    EXPECT_EQ(b_->state_machine().idempotency_stats().keys, expected) << stamp;
  }
  EXPECT_EQ(b_->state_machine().idempotency_stats().evicted_ttl_total, a_before.keys);
}

TEST_F(SnapshotTest, ACorruptedChunkFailsTheChecksumAndKeepsTheOldState) {
  const StateHash before = b_->state_machine().state_hash();
  const raft::Index last_before = b_->log().last_index();
  Status s = stream_snapshot(*a_, *b_, {1000}, /*corrupt_offset=*/meta_.size_bytes / 2);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_EQ(b_->state_machine().state_hash(), before);
  EXPECT_EQ(b_->log().snapshot_meta(), raft::SnapshotMeta{});
  EXPECT_EQ(b_->log().last_index(), last_before);
  EXPECT_EQ(files_in(b_->log().snapshot_dir()), std::vector<std::string>{"staging.bin"});
  // The leader starts over (offset 0) and this time the body is intact.
  ASSERT_TRUE(stream_snapshot(*a_, *b_, {1000}).is_ok());
  EXPECT_EQ(b_->state_machine().state_hash(), a_->state_machine().state_hash());
}

TEST_F(SnapshotTest, AWrongChecksumInTheMetaIsRejected) {
  const StateHash before = b_->state_machine().state_hash();
  const std::string body(a_->log().snapshot_chunk(meta_.index, 0, meta_.size_bytes).view());
  raft::SnapshotMeta lying = meta_;
  lying.checksum ^= 1;
  raft::Ready ready;
  ready.snapshot_chunks.push_back(raft::SnapshotChunk{lying, 0, raft::Payload(body), true});
  ready.snapshot = lying;
  EXPECT_EQ(b_->persist(ready).code(), Status::Code::kCorruption);
  EXPECT_EQ(b_->state_machine().state_hash(), before);
}

TEST_F(SnapshotTest, StagingRestartsAtOffsetZeroAndRejectsGaps) {
  const raft::SnapshotMeta meta = meta_;
  const auto chunk = [&](uint64_t offset, uint64_t n) {
    return raft::SnapshotChunk{meta, offset, a_->log().snapshot_chunk(meta.index, offset, n),
                               offset + n >= meta.size_bytes};
  };
  raft::Ready first;
  first.snapshot_chunks = {chunk(0, 100), chunk(100, 100)};
  ASSERT_TRUE(b_->persist(first).is_ok());
  raft::Ready gap;
  gap.snapshot_chunks = {chunk(300, 100)};
  EXPECT_EQ(b_->persist(gap).code(), Status::Code::kInvalidArgument);
  raft::Ready early_install;
  early_install.snapshot_chunks = {chunk(0, 50)};
  early_install.snapshot = meta;
  EXPECT_EQ(b_->persist(early_install).code(), Status::Code::kCorruption);
  ASSERT_TRUE(stream_snapshot(*a_, *b_, {4096}).is_ok());  // a fresh start at 0 succeeds
  EXPECT_EQ(b_->state_machine().state_hash(), a_->state_machine().state_hash());
}

// A body that is broken yet carries a matching size and checksum (a buggy or hostile sender) is
// rejected by decoding, without a crash and without touching the state.
TEST_F(SnapshotTest, ABrokenBodyWithAMatchingChecksumIsRejectedByDecoding) {
  const uint64_t seed = 0x736e6170ull;
  SCOPED_TRACE(test::numbered("seed ", seed));
  raft::SplitMix64 rng(seed);
  const std::string body(a_->log().snapshot_chunk(meta_.index, 0, meta_.size_bytes).view());
  const StateHash before = b_->state_machine().state_hash();
  const auto install = [&](const std::string& bytes) {
    raft::SnapshotMeta meta = meta_;
    meta.size_bytes = bytes.size();
    meta.checksum = XXH64(bytes.data(), bytes.size(), 0);
    raft::Ready ready;
    ready.snapshot_chunks.push_back(raft::SnapshotChunk{meta, 0, raft::Payload(bytes), true});
    ready.snapshot = meta;
    return b_->persist(ready);
  };
  std::vector<std::string> broken;
  for (int k = 0; k < 12; ++k) broken.push_back(body.substr(0, rng.below(body.size())));
  broken.push_back(body + "x");
  for (size_t at : {size_t{0}, size_t{1}, size_t{17}, size_t{25}}) {
    std::string bytes = body;  // version, applied index, entry count, idem count
    bytes[at] ^= 0x01;
    broken.push_back(bytes);
  }
  // The clock (bytes 9..16) has no redundancy of its own, but a body whose clock has passed its
  // records' expiries cannot have been written by a state machine (it evicts them first).
  ASSERT_GT(a_->state_machine().idempotency_key_count(), 0u);
  std::string late_clock = body;
  late_clock.replace(9, 8, std::string(8, '\xff'));
  broken.push_back(late_clock);
  for (const std::string& bytes : broken) {
    Status s = install(bytes);
    EXPECT_FALSE(s.is_ok()) << "size " << bytes.size();
    EXPECT_EQ(b_->state_machine().state_hash(), before);
    EXPECT_EQ(b_->log().snapshot_meta(), raft::SnapshotMeta{});
  }
}

// The state hash is exactly what kv/state_machine.h documents, so other tools can recompute it.
// Issue 13 bug 5: the host checks the body before the core installs it, so a bad one is
// rejected instead of failing persist() (which aborts the node).
TEST_F(SnapshotTest, LastChunkIsVerifiedBeforeTheInstallAndABadBodyIsDiscarded) {
  const std::string body(a_->log().snapshot_chunk(meta_.index, 0, meta_.size_bytes).view());
  const uint64_t half = body.size() / 2;
  const auto first = raft::SnapshotChunk{meta_, 0, raft::Payload(body.substr(0, half)), false};
  raft::Ready staged;
  staged.snapshot_chunks = {first};
  ASSERT_TRUE(b_->log().persist(staged).is_ok());

  std::string bad_tail = body.substr(half);
  bad_tail[bad_tail.size() / 2] ^= 0x20;
  Status s = b_->log().stage_and_verify_last_chunk(
      raft::SnapshotChunk{meta_, half, raft::Payload(bad_tail), true});
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  const raft::SnapshotChunk good_tail{meta_, half, raft::Payload(body.substr(half)), true};
  EXPECT_EQ(b_->log().stage_and_verify_last_chunk(good_tail).code(), Status::Code::kInvalidArgument)
      << "the bad body's staging area was discarded: the transfer starts over";

  raft::SnapshotMeta other = meta_;
  other.checksum ^= 1;  // same (index, term), another body: never mixed into this one
  ASSERT_TRUE(b_->log().persist(staged).is_ok());
  EXPECT_EQ(b_->log()
                .stage_and_verify_last_chunk(
                    raft::SnapshotChunk{other, half, raft::Payload(body.substr(half)), true})
                .code(),
            Status::Code::kInvalidArgument);

  ASSERT_TRUE(b_->log().stage_and_verify_last_chunk(good_tail).is_ok());
  raft::Ready install;
  install.snapshot_chunks = {good_tail};  // the core hands the verified chunk over: not re-staged
  install.snapshot = meta_;
  ASSERT_TRUE(b_->persist(install).is_ok());
  ASSERT_TRUE(b_->apply(install).is_ok());
  EXPECT_EQ(b_->state_machine().state_hash(), a_->state_machine().state_hash());
  EXPECT_EQ(b_->log().snapshot_meta(), meta_);
}

TEST_F(SnapshotTest, ChunkOfAnotherMetaWithTheSameIndexAndTermDoesNotContinueTheStaging) {
  const std::string body(a_->log().snapshot_chunk(meta_.index, 0, meta_.size_bytes).view());
  raft::Ready first;
  first.snapshot_chunks = {
      raft::SnapshotChunk{meta_, 0, raft::Payload(body.substr(0, 100)), false}};
  ASSERT_TRUE(b_->persist(first).is_ok());
  raft::SnapshotMeta other = meta_;
  other.size_bytes += 1;
  raft::Ready mixed;
  mixed.snapshot_chunks = {
      raft::SnapshotChunk{other, 100, raft::Payload(body.substr(100, 100)), false}};
  EXPECT_EQ(b_->persist(mixed).code(), Status::Code::kInvalidArgument);
}

TEST_F(SnapshotTest, StateHashIsXxh64OfLengthPrefixedEncodedEntriesInIdOrder) {
  std::string bytes;
  std::string after;
  uint64_t n = 0;
  for (;;) {
    const std::vector<KvEntry> page = a_->state_machine().list(after, 100);
    if (page.empty()) break;
    for (const KvEntry& e : page) {
      const std::string encoded = *encode_entry(e);
      for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(encoded.size() >> (8 * i)));
      bytes += encoded;
      ++n;
    }
    after = page.back().id;
  }
  const StateHash h = a_->state_machine().state_hash();
  EXPECT_EQ(h.entry_count, n);
  EXPECT_EQ(h.hash, XXH64(bytes.data(), bytes.size(), 0));
  // ... which is also the entries section of the snapshot body, after its 33-byte header.
  const std::string body(a_->log().snapshot_chunk(meta_.index, 0, meta_.size_bytes).view());
  EXPECT_EQ(body.substr(33, bytes.size()), bytes);
}

// A snapshot whose log entry at its index matches ours keeps the entries after it (§7).
TEST_F(SnapshotTest, InstallKeepsTheLogSuffixThatAgreesWithTheSnapshot) {
  test::TempDir c_dir;
  std::unique_ptr<Store> c = test::open_store(c_dir.path());
  persist_entries(c->log(), leader_entries_, 2);  // the same log, nothing applied yet
  ASSERT_TRUE(stream_snapshot(*a_, *c, {2048}).is_ok());
  EXPECT_EQ(c->log().first_index(), 301u);
  EXPECT_EQ(c->state_machine().applied_index(), 300u);

  test::TempDir d_dir;
  std::unique_ptr<Store> d = test::open_store(d_dir.path());
  std::vector<raft::Entry> longer = leader_entries_;
  const std::vector<raft::Entry> tail = workload(301, 5, /*seed=*/5);
  longer.insert(longer.end(), tail.begin(), tail.end());
  persist_entries(d->log(), longer, 2);
  ASSERT_TRUE(stream_snapshot(*a_, *d, {2048}).is_ok());
  EXPECT_EQ(d->log().first_index(), 301u);
  EXPECT_EQ(d->log().last_index(), 305u);
  std::vector<raft::Entry> kept;
  d->log().entries(301, 306, UINT64_MAX, &kept);
  EXPECT_EQ(kept, tail);
}

// A crash in the middle of an install leaves files behind; opening removes them and keeps the
// state that the last durable batch describes.
TEST_F(SnapshotTest, LeftoversOfAnInterruptedInstallAreRemovedOnOpen) {
  const StateHash before = b_->state_machine().state_hash();
  const std::filesystem::path dir = b_->log().snapshot_dir();
  raft::Ready partial;
  partial.snapshot_chunks.push_back(
      raft::SnapshotChunk{meta_, 0, a_->log().snapshot_chunk(meta_.index, 0, 500), false});
  ASSERT_TRUE(b_->persist(partial).is_ok());
  b_.reset();
  std::filesystem::copy_file(snapshot_file_path(a_->log().snapshot_dir(), 300),
                             snapshot_file_path(dir, 300));  // renamed, batch never written
  std::filesystem::copy_file(snapshot_file_path(a_->log().snapshot_dir(), 300),
                             dir / "snap-00000000000000000300.bin.tmp");
  b_ = test::open_store(b_dir_.path());
  EXPECT_TRUE(files_in(dir).empty());
  EXPECT_EQ(b_->state_machine().state_hash(), before);
  EXPECT_EQ(b_->log().snapshot_meta(), raft::SnapshotMeta{});
}

// Directory syncs seen through file.h's hook, each with whether <dir>/snapshots existed then.
std::vector<std::pair<std::filesystem::path, bool>>& synced_dirs() {
  static std::vector<std::pair<std::filesystem::path, bool>> dirs;
  return dirs;
}

// Issue 13 bug 7: a snapshot directory created by mkdir(2) is lost at a power loss unless its
// parent is synced after it exists, and with it every snapshot file made durable inside it.
TEST(SnapshotDirectory, IsMadeDurableInItsParentWhenCreated) {
  test::TempDir dir;
  synced_dirs().clear();
  detail::set_sync_dir_observer([](const std::filesystem::path& d) {
    synced_dirs().emplace_back(d, std::filesystem::exists(d / "snapshots"));
  });
  std::unique_ptr<Store> store = test::open_store(dir.path());
  detail::set_sync_dir_observer(nullptr);
  ASSERT_TRUE(std::filesystem::is_directory(dir.path() / "snapshots"));
  bool parent_synced_after_mkdir = false;
  for (const auto& [d, had_snapshots] : synced_dirs()) {
    if (d == dir.path() && had_snapshots) parent_synced_after_mkdir = true;
  }
  EXPECT_TRUE(parent_synced_after_mkdir) << synced_dirs().size() << " directory syncs seen";
}

// Issue 13 bug 2: a background snapshot and a forced one may serialize the same applied index
// at once. Each must write its own temporary file: a shared name lets one writer truncate the
// other's body mid-write or rename it away before the other's rename.
TEST(SnapshotWriters, TwoWritersOfTheSameIndexAtOnceBothSucceedWithTheSameBytes) {
  test::TempDir dir;
  std::unique_ptr<Store> store = test::open_store(dir.path());
  std::vector<raft::Entry> entries;  // ~4 MB of state: each write takes a while
  for (raft::Index i = 1; i <= 20000; ++i) {
    entries.push_back(
        test::entry_of(i, 1, test::create_command(test::make_id(i), "key", std::string(200, 'v'))));
  }
  persist_entries(store->log(), entries, 1);
  (void)apply_all(store->state_machine(), entries);
  for (int round = 0; round < 3; ++round) {
    const SnapshotCapture first = store->capture_snapshot();
    const SnapshotCapture second = store->capture_snapshot();
    std::atomic<int> ready{0};
    auto write = [&](const SnapshotCapture& capture) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }  // start together: the race needs both inside write_snapshot
      return store->write_snapshot(capture);
    };
    std::optional<Result<SnapshotFile>> a;
    std::thread other([&] { a.emplace(write(first)); });
    Result<SnapshotFile> b = write(second);
    other.join();
    ASSERT_TRUE(a->is_ok()) << "round " << round << ": " << a->status().to_string();
    ASSERT_TRUE(b.is_ok()) << "round " << round << ": " << b.status().to_string();
    EXPECT_EQ((*a)->checksum, b->checksum);
    const std::string body = [&] {
      std::ifstream in(b->path, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    ASSERT_EQ(body.size(), b->size_bytes) << "round " << round;
    EXPECT_EQ(XXH64(body.data(), body.size(), 0), b->checksum) << "round " << round;
  }
}

TEST_F(SnapshotTest, SnapshotCapturedBeforeLaterAppliesHoldsTheEarlierState) {
  const SnapshotCapture capture = a_->capture_snapshot();
  const StateHash at_capture = a_->state_machine().state_hash();
  const std::vector<raft::Entry> more = workload(301, 50, /*seed=*/23);
  persist_entries(a_->log(), more, 2);
  (void)apply_all(a_->state_machine(), more);  // applies continue while serializing
  Result<SnapshotFile> file = a_->write_snapshot(capture);
  ASSERT_TRUE(file.is_ok());
  EXPECT_EQ(file->index, 300u);
  // Rewriting snapshot 300 from the capture gives the same bytes as the first time.
  EXPECT_EQ(file->checksum, meta_.checksum);
  EXPECT_EQ(file->size_bytes, meta_.size_bytes);
  EXPECT_NE(a_->state_machine().state_hash(), at_capture);
  // Committing a snapshot no newer than the current one is a no-op.
  ASSERT_TRUE(a_->commit_snapshot(*file, kConf, 0).is_ok());
  EXPECT_EQ(a_->log().snapshot_meta(), meta_);
}

// ---------------------------------------------------------------------------------------------
// Crash between batches

// The node persisted a batch of committed entries (durable, acknowledged to the leader) and
// died before applying it. On restart the applied index is the old one, and applying the
// committed entries from the log gives what a node that never crashed has.
void expect_recovers_like_a_node_that_never_crashed(Store& restarted,
                                                    const std::vector<raft::Entry>& all) {
  const raft::Index applied = restarted.state_machine().applied_index();
  EXPECT_EQ(applied, 100u);
  EXPECT_EQ(restarted.log().last_index(), 200u);
  EXPECT_EQ(restarted.log().hard_state().commit_index, 200u);
  std::vector<raft::Entry> committed;
  restarted.log().entries(applied + 1, restarted.log().hard_state().commit_index + 1, UINT64_MAX,
                          &committed);
  (void)apply_all(restarted.state_machine(), committed);

  test::TempDir never_dir;
  std::unique_ptr<Store> never = store_with(never_dir.path(), all);
  EXPECT_EQ(restarted.state_machine().state_hash(), never->state_machine().state_hash());
}

TEST(CrashBetweenBatches, PersistedButUnappliedEntriesAreAppliedOnceAfterRestart) {
  test::TempDir dir;
  const std::vector<raft::Entry> all = workload(1, 200, /*seed=*/31);
  {
    std::unique_ptr<Store> store = test::open_store(dir.path());
    const std::vector<raft::Entry> first(all.begin(), all.begin() + 100);
    const std::vector<raft::Entry> second(all.begin() + 100, all.end());
    persist_entries(store->log(), first, 1);
    (void)apply_all(store->state_machine(), first);
    persist_entries(store->log(), second, 1);  // "crash" here: never applied
  }
  std::unique_ptr<Store> restarted = test::open_store(dir.path());
  expect_recovers_like_a_node_that_never_crashed(*restarted, all);
}

// The same with a real abrupt exit: the child process skips every destructor (no RocksDB
// close, no flush), as SIGKILL would.
TEST(CrashBetweenBatches, AbruptExitAfterPersistLosesNothingAndAppliesNothingTwice) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The death-test child re-runs this test body; it finds the directory through the
  // environment so that both processes use the same one.
  const char* inherited = std::getenv("KV_TEST_CRASH_DIR");
  std::optional<test::TempDir> owned;
  if (inherited == nullptr) owned.emplace();
  const std::filesystem::path dir = inherited ? inherited : owned->path();
  ::setenv("KV_TEST_CRASH_DIR", dir.c_str(), 1);
  const std::vector<raft::Entry> all = workload(1, 200, /*seed=*/32);
  EXPECT_EXIT(
      {
        std::unique_ptr<Store> store = test::open_store(dir);
        const std::vector<raft::Entry> first(all.begin(), all.begin() + 100);
        persist_entries(store->log(), first, 1);
        (void)apply_all(store->state_machine(), first);
        persist_entries(store->log(), std::vector<raft::Entry>(all.begin() + 100, all.end()), 1);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
  ::unsetenv("KV_TEST_CRASH_DIR");
  std::unique_ptr<Store> restarted = test::open_store(dir);
  expect_recovers_like_a_node_that_never_crashed(*restarted, all);
}

}  // namespace
}  // namespace kv
