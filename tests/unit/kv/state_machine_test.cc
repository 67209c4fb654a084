// kv/state_machine.h: applying commands, the secondary index, idempotency, the state hash.
#include "kv/state_machine.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <cstdio>
#include <random>

#include "test_util.h"

namespace kv {
namespace {

using test::apply_all;
using test::create_command;
using test::delete_command;
using test::entry_of;
using test::make_id;
using test::noop_entry;
using test::stamped;
using test::update_command;

class StateMachineTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = test::open_store(dir_.path()); }
  StateMachine& sm() { return store_->state_machine(); }
  ApplyResult apply(const Command& c) {
    Result<ApplyResult> r = sm().apply(entry_of(sm().applied_index() + 1, 1, c));
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : ApplyResult{};
  }
  void reopen() {
    store_.reset();
    store_ = test::open_store(dir_.path());
  }

  test::TempDir dir_;
  std::unique_ptr<Store> store_;
};

std::vector<std::string> ids_of(const std::vector<KvEntry>& entries) {
  std::vector<std::string> ids;
  for (const KvEntry& e : entries) ids.push_back(e.id);
  return ids;
}

TEST_F(StateMachineTest, CreateStoresTheEntryWithSeqFromTheLogIndex) {
  ASSERT_EQ(apply(create_command(make_id(1), "k", "v")).status, ApplyStatus::kCreated);
  const ApplyResult r = apply(create_command(make_id(2), "k2", "v2"));
  ASSERT_EQ(r.status, ApplyStatus::kCreated);
  const KvEntry expected{make_id(2), "k2", "v2", 2, 7, 1'700'000'000'000'000};
  EXPECT_EQ(r.entry, expected);
  EXPECT_EQ(sm().get(make_id(2)), expected);
  EXPECT_EQ(sm().count(), 2u);
  EXPECT_EQ(sm().applied_index(), 2u);
}

TEST_F(StateMachineTest, UpdateChangesTheValueAndKeepsSeqAndCreatedAt) {
  (void)apply(create_command(make_id(1), "k", "v"));
  const ApplyResult r = apply(update_command(make_id(1), "v2"));
  ASSERT_EQ(r.status, ApplyStatus::kUpdated);
  EXPECT_EQ(r.entry->value, "v2");
  EXPECT_EQ(r.entry->seq, 1u);
  EXPECT_EQ(r.entry->key, "k");
  EXPECT_EQ(sm().get(make_id(1)), r.entry);
}

TEST_F(StateMachineTest, DeleteRemovesTheEntryAndReturnsIt) {
  (void)apply(create_command(make_id(1), "k", "v"));
  const ApplyResult r = apply(delete_command(make_id(1)));
  ASSERT_EQ(r.status, ApplyStatus::kDeleted);
  EXPECT_EQ(r.entry->value, "v");
  EXPECT_FALSE(sm().get(make_id(1)).has_value());
  EXPECT_EQ(sm().count(), 0u);
}

TEST_F(StateMachineTest, UpdateOrDeleteOfAnUnknownIdIsNotFoundAndChangesNothing) {
  const StateHash before = sm().state_hash();
  EXPECT_EQ(apply(update_command(make_id(9), "v")).status, ApplyStatus::kNotFound);
  EXPECT_EQ(apply(delete_command(make_id(9))).status, ApplyStatus::kNotFound);
  EXPECT_EQ(sm().count(), 0u);
  EXPECT_EQ(sm().state_hash().hash, before.hash);
  EXPECT_EQ(sm().applied_index(), 2u);
}

TEST_F(StateMachineTest, CreateWithAnExistingIdIsAlreadyExistsAndKeepsTheOriginal) {
  (void)apply(create_command(make_id(1), "k", "v"));
  const ApplyResult r = apply(create_command(make_id(1), "other", "w"));
  EXPECT_EQ(r.status, ApplyStatus::kAlreadyExists);
  EXPECT_EQ(r.entry->value, "v");
  EXPECT_EQ(sm().get(make_id(1))->key, "k");
  EXPECT_EQ(sm().count(), 1u);
}

TEST_F(StateMachineTest, UndecodablePayloadIsAnInvalidCommandThatOnlyAdvancesTheIndex) {
  const raft::Entry garbage{1, 1, raft::EntryType::kNormal, raft::Payload(std::string("\x01zz"))};
  Result<ApplyResult> r = sm().apply(garbage);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, ApplyStatus::kInvalidCommand);
  EXPECT_EQ(sm().applied_index(), 1u);
  EXPECT_EQ(sm().count(), 0u);
}

TEST_F(StateMachineTest, NoopAdvancesTheAppliedIndexOnly) {
  Result<ApplyResult> r = sm().apply(noop_entry(1, 1));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, ApplyStatus::kNoop);
  EXPECT_EQ(sm().applied_index(), 1u);
  EXPECT_EQ(sm().count(), 0u);
}

TEST_F(StateMachineTest, EntriesOfOneBatchSeeEachOthersEffects) {
  const std::vector<ApplyResult> results =
      apply_all(sm(), {entry_of(1, 1, create_command(make_id(1), "k", "v")),
                       entry_of(2, 1, update_command(make_id(1), "v2", std::string("k2"))),
                       entry_of(3, 1, create_command(make_id(2), "k2", "w")),
                       entry_of(4, 1, delete_command(make_id(2))), noop_entry(5, 2)});
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[1].status, ApplyStatus::kUpdated);
  EXPECT_EQ(results[3].status, ApplyStatus::kDeleted);
  EXPECT_EQ(results[4].index, 5u);
  EXPECT_EQ(ids_of(sm().find_by_key("k2", 10)), std::vector<std::string>{make_id(1)});
  EXPECT_EQ(sm().count(), 1u);
  EXPECT_EQ(sm().applied_index(), 5u);
}

TEST_F(StateMachineTest, SecondaryIndexFollowsKeyChangesAndDeletes) {
  (void)apply(create_command(make_id(1), "red", "a"));
  (void)apply(create_command(make_id(2), "red", "b"));
  (void)apply(create_command(make_id(3), "blue", "c"));
  EXPECT_EQ(ids_of(sm().find_by_key("red", 10)), (std::vector{make_id(1), make_id(2)}));
  (void)apply(update_command(make_id(1), "a2", std::string("blue")));
  EXPECT_EQ(ids_of(sm().find_by_key("red", 10)), std::vector{make_id(2)});
  EXPECT_EQ(ids_of(sm().find_by_key("blue", 10)), (std::vector{make_id(1), make_id(3)}));
  (void)apply(update_command(make_id(3), "c2", std::string("blue")));  // same key: no move
  EXPECT_EQ(ids_of(sm().find_by_key("blue", 10)), (std::vector{make_id(1), make_id(3)}));
  (void)apply(delete_command(make_id(2)));
  EXPECT_TRUE(sm().find_by_key("red", 10).empty());
  EXPECT_EQ(ids_of(sm().find_by_key("blue", 1)), std::vector{make_id(1)});  // limit
}

TEST_F(StateMachineTest, FindByKeyMatchesTheWholeKeyWhateverItsBytes) {
  const std::string with_nul("a\0b", 3);
  (void)apply(create_command(make_id(1), "a", "1"));
  (void)apply(create_command(make_id(2), "ab", "2"));
  (void)apply(create_command(make_id(3), with_nul, "3"));
  (void)apply(create_command(make_id(4), "", "4"));
  EXPECT_EQ(ids_of(sm().find_by_key("a", 10)), std::vector{make_id(1)});
  EXPECT_EQ(ids_of(sm().find_by_key(with_nul, 10)), std::vector{make_id(3)});
  EXPECT_EQ(ids_of(sm().find_by_key("", 10)), std::vector{make_id(4)});
  EXPECT_TRUE(sm().find_by_key("b", 10).empty());
}

TEST_F(StateMachineTest, ListPagesInIdOrder) {
  for (uint64_t n : {5, 1, 4, 2, 3}) (void)apply(create_command(make_id(n), "k", "v"));
  EXPECT_EQ(ids_of(sm().list("", 2)), (std::vector{make_id(1), make_id(2)}));
  EXPECT_EQ(ids_of(sm().list(make_id(2), 2)), (std::vector{make_id(3), make_id(4)}));
  EXPECT_EQ(ids_of(sm().list(make_id(4), 10)), std::vector{make_id(5)});
  EXPECT_TRUE(sm().list(make_id(5), 10).empty());
  EXPECT_TRUE(sm().list("", 0).empty());
  EXPECT_FALSE(sm().get("not-an-id").has_value());
}

TEST_F(StateMachineTest, IdempotentRetryAppliesOnceAndReturnsTheOriginalResult) {
  const ApplyResult first = apply(create_command(make_id(1), "k", "v", "req-1"));
  ASSERT_EQ(first.status, ApplyStatus::kCreated);
  // The retry is a new command (a new id, as a client's resend through another node would be).
  const ApplyResult retry = apply(create_command(make_id(2), "k", "v", "req-1"));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.status, ApplyStatus::kCreated);
  EXPECT_EQ(retry.entry, first.entry);
  EXPECT_EQ(retry.original_index, 1u);
  EXPECT_EQ(retry.index, 2u);
  EXPECT_EQ(sm().count(), 1u);
  EXPECT_FALSE(sm().get(make_id(2)).has_value());
  // A delete retried after a later update still answers with the original deletion.
  (void)apply(delete_command(make_id(1), "req-2"));
  const ApplyResult again = apply(delete_command(make_id(1), "req-2"));
  EXPECT_EQ(again.status, ApplyStatus::kDeleted);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(sm().idempotency_key_count(), 2u);
}

// The record of a create or an update leaves the value out (the retry carries it): a record's
// size does not grow with the value, and the retry's answer is still the whole entry. A
// delete's record keeps the removed entry's value, which its request does not carry.
TEST_F(StateMachineTest, IdempotencyRecordsLeaveOutTheValueTheRetryCarries) {
  const std::string big(100'000, 'v');
  const ApplyResult created = apply(create_command(make_id(1), "k", big, "req-create"));
  ASSERT_EQ(created.status, ApplyStatus::kCreated);
  EXPECT_LT(sm().idempotency_stats().bytes, 1'000u) << "the 100 kB value is not in the record";
  const ApplyResult retried = apply(create_command(make_id(2), "k", big, "req-create"));
  EXPECT_TRUE(retried.replayed);
  ASSERT_TRUE(retried.entry.has_value());
  EXPECT_EQ(*retried.entry, *created.entry);

  const std::string other(50'000, 'w');
  const ApplyResult updated = apply(update_command(make_id(1), other, "k2", "req-update"));
  ASSERT_EQ(updated.status, ApplyStatus::kUpdated);
  reopen();  // answered from the stored record
  const ApplyResult update_retried = apply(update_command(make_id(1), other, "k2", "req-update"));
  EXPECT_TRUE(update_retried.replayed);
  EXPECT_EQ(*update_retried.entry, *updated.entry);

  const uint64_t before_delete = sm().idempotency_stats().bytes;
  const ApplyResult deleted = apply(delete_command(make_id(1), "req-delete"));
  ASSERT_EQ(deleted.status, ApplyStatus::kDeleted);
  EXPECT_GT(sm().idempotency_stats().bytes - before_delete, other.size());
  const ApplyResult delete_retried = apply(delete_command(make_id(1), "req-delete"));
  EXPECT_TRUE(delete_retried.replayed);
  EXPECT_EQ(*delete_retried.entry, *updated.entry);
}

TEST_F(StateMachineTest, IdempotencyKeysSurviveReopen) {
  (void)apply(create_command(make_id(1), "k", "v", "req-1"));
  reopen();
  const ApplyResult retry = apply(create_command(make_id(2), "k", "v", "req-1"));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(sm().count(), 1u);
}

// Issue 13: the table used to forget a key after 100,000 entries (about 5 s of writes), so a
// create whose answer was lost, retried later, was applied twice. The horizon is now time: the
// retry below comes after 100,050 entries but within the TTL, and is answered, not applied.
TEST_F(StateMachineTest, RetryAfterMoreThanHundredThousandEntriesWithinTtlIsNotAppliedTwice) {
  constexpr uint64_t t0 = 1'800'000'000'000;
  std::vector<raft::Entry> entries{
      entry_of(1, 1, stamped(create_command(make_id(1), "k", "v", "req"), t0))};
  for (raft::Index i = 2; i <= 100'050; ++i) entries.push_back(noop_entry(i, 1));
  // Other writes keep the clock moving: nine minutes later, still within ten.
  entries.push_back(
      entry_of(100'051, 1, stamped(create_command(make_id(2), "x", "y"), t0 + 540'000)));
  entries.push_back(entry_of(
      100'052, 1,
      stamped(create_command(make_id(3), "k", "v", "req"), t0 + kIdempotencyTtlMsDefault - 1)));
  const std::vector<ApplyResult> results = apply_all(sm(), entries);
  ASSERT_EQ(results.size(), entries.size());
  const ApplyResult& retry = results.back();
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.status, ApplyStatus::kCreated);
  EXPECT_EQ(retry.entry, results[0].entry);
  EXPECT_EQ(retry.original_index, 1u);
  EXPECT_EQ(sm().count(), 2u);
  EXPECT_FALSE(sm().get(make_id(3)).has_value());
}

// A record made at clock c with TTL t answers retries while the stamped clock is below c + t
// and is forgotten by the first entry whose stamp reaches it, whichever replica applies it and
// however the entries are batched. Stamps going back (a new leader's slower clock) do not move
// the clock back.
TEST_F(StateMachineTest, IdempotencyKeyIsForgottenExactlyWhenTheStampedClockReachesItsExpiry) {
  constexpr uint64_t t0 = 1'800'000'000'000;
  constexpr uint64_t ttl = 1000;
  const auto keyed = [&](raft::Index index, uint64_t id, uint64_t stamp) {
    return entry_of(index, 1, stamped(create_command(make_id(id), "k", "v", "req"), stamp, ttl));
  };
  const std::vector<raft::Entry> entries{
      keyed(1, 1, t0),
      keyed(2, 2, t0 + ttl - 1),                                                 // answered
      entry_of(3, 1, stamped(create_command(make_id(3), "a", "b"), t0 + 5000)),  // clock jumps
      entry_of(4, 1, stamped(create_command(make_id(4), "a", "b"), t0 + 10)),    // goes back
      keyed(5, 5, t0 + 20),  // the clock is t0 + 5000: the record from 1 is gone, this one new
      keyed(6, 6, t0 + 5000 + ttl - 1),  // answered from 5 (expiry clock + ttl)
      keyed(7, 7, t0 + 5000 + ttl),      // forgotten exactly here: applied again
  };
  const std::vector<ApplyResult> results = apply_all(sm(), entries);
  ASSERT_EQ(results.size(), 7u);
  EXPECT_TRUE(results[1].replayed);
  EXPECT_EQ(results[1].original_index, 1u);
  EXPECT_FALSE(results[4].replayed);
  EXPECT_EQ(results[4].status, ApplyStatus::kCreated);
  EXPECT_TRUE(results[5].replayed);
  EXPECT_EQ(results[5].original_index, 5u);
  EXPECT_FALSE(results[6].replayed);
  EXPECT_EQ(results[6].status, ApplyStatus::kCreated);
  EXPECT_EQ(sm().count(), 5u);  // 1, 3, 4, 5, 7
  const IdempotencyStats stats = sm().idempotency_stats();
  EXPECT_EQ(stats.keys, 1u);
  EXPECT_EQ(stats.evicted_ttl_total, 2u);
  EXPECT_EQ(stats.clock_ms, t0 + 5000 + ttl);

  // Another replica applying the same entries one at a time and in pairs ends byte-identical,
  // idempotency table included (the snapshot body holds it, with expiries and the clock).
  for (size_t batch : {size_t{1}, size_t{2}}) {
    test::TempDir other_dir;
    std::unique_ptr<Store> other = test::open_store(other_dir.path());
    for (size_t k = 0; k < entries.size(); k += batch) {
      const size_t end = std::min(entries.size(), k + batch);
      const std::vector<ApplyResult> part =
          apply_all(other->state_machine(),
                    std::vector<raft::Entry>(entries.begin() + static_cast<ptrdiff_t>(k),
                                             entries.begin() + static_cast<ptrdiff_t>(end)));
      for (size_t i = 0; i < part.size(); ++i) EXPECT_EQ(part[i], results[k + i]) << k + i;
    }
    EXPECT_EQ(other->state_machine().state_hash(), sm().state_hash());
    Result<SnapshotFile> a = store_->write_snapshot(store_->capture_snapshot());
    Result<SnapshotFile> b = other->write_snapshot(other->capture_snapshot());
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_EQ(a->checksum, b->checksum);
    EXPECT_EQ(a->size_bytes, b->size_bytes);
  }
}

// An unkeyed write moves the clock too, so keys expire under any traffic, and the table is
// empty (not merely unused) afterwards.
TEST_F(StateMachineTest, AnyStampedWriteExpiresTheKeysItsStampReaches) {
  (void)apply(stamped(delete_command(make_id(1), "a"), 1000, 50));
  (void)apply(stamped(delete_command(make_id(1), "b"), 1010, 50));
  EXPECT_EQ(sm().idempotency_stats().keys, 2u);
  (void)apply(stamped(delete_command(make_id(2)), 1055));
  EXPECT_EQ(sm().idempotency_stats().keys, 1u);
  (void)apply(stamped(delete_command(make_id(2)), 1060));
  const IdempotencyStats stats = sm().idempotency_stats();
  EXPECT_EQ(stats.keys, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(stats.evicted_ttl_total, 2u);
  reopen();
  EXPECT_EQ(sm().idempotency_stats().keys, 0u);
  EXPECT_EQ(sm().idempotency_stats().clock_ms, 1060u);
}

// At a steady rate the table holds the keys of the last TTL and no more: one write per ms with a
// 100 ms TTL keeps 100 keys, each evicted exactly once, across batches.
TEST_F(StateMachineTest, AtASteadyRateTheTableHoldsTheLastTtlOfKeys) {
  constexpr uint64_t n = 20'000;
  for (uint64_t first = 1; first <= n; first += 500) {
    std::vector<raft::Entry> entries;
    for (uint64_t i = first; i < first + 500; ++i) {
      entries.push_back(entry_of(
          i, 1, stamped(delete_command(make_id(i), test::numbered("req-", i)), 1000 + i, 100)));
    }
    (void)apply_all(sm(), entries);
  }
  const IdempotencyStats stats = sm().idempotency_stats();
  EXPECT_EQ(stats.keys, 100u);
  EXPECT_EQ(stats.evicted_ttl_total, n - 100);
  EXPECT_EQ(stats.evicted_bytes_total, 0u);
  // The oldest live key answers; the one just before it was forgotten.
  EXPECT_TRUE(
      apply(stamped(delete_command(make_id(n - 99), test::numbered("req-", n - 99)), 1000 + n, 100))
          .replayed);
  EXPECT_FALSE(apply(stamped(delete_command(make_id(n - 100), test::numbered("req-", n - 100)),
                             1000 + n, 100))
                   .replayed);
}

// Over the byte bound, the records closest to expiry go first, whatever their age; the record
// just made always stays. A forgotten key's retry is applied again (that is what eviction
// costs, and why the bound is large by default). Records of deletes are used: they keep the
// removed entry's value (a create's or an update's record leaves it to the retry).
TEST_F(StateMachineTest, ByteBoundEvictsTheRecordsClosestToExpiryFirst) {
  constexpr uint64_t bound = kIdempotencyTableBytesMin;  // 4 MiB
  const std::string big(1'000'000, 'x');                 // each record about 1 MB
  // A keyed delete of entry `id`, created (unkeyed) first if it is not there.
  const auto keyed = [&](uint64_t id, const std::string& key, uint64_t ttl) {
    if (!sm().get(make_id(id))) (void)apply(create_command(make_id(id), "k", big));
    return stamped(delete_command(make_id(id), key), 1000 + id, ttl, bound);
  };
  (void)apply(keyed(1, "long-a", 100'000));
  (void)apply(keyed(2, "short", 10'000));  // newer, but expires first
  (void)apply(keyed(3, "long-b", 100'000));
  (void)apply(keyed(4, "long-c", 100'000));
  EXPECT_EQ(sm().idempotency_stats().keys, 4u);
  EXPECT_EQ(sm().idempotency_stats().evicted_bytes_total, 0u);
  (void)apply(keyed(5, "long-d", 100'000));  // 5 MB > 4 MiB: one must go
  IdempotencyStats stats = sm().idempotency_stats();
  EXPECT_EQ(stats.keys, 4u);
  EXPECT_EQ(stats.evicted_bytes_total, 1u);
  EXPECT_LE(stats.bytes, bound);
  EXPECT_FALSE(apply(keyed(2, "short", 10'000)).replayed) << "the short-lived record went first";
  // Recording "short" again evicted the next closest to expiry: long-a (expiry 101001).
  stats = sm().idempotency_stats();
  EXPECT_EQ(stats.evicted_bytes_total, 2u);
  EXPECT_LE(stats.bytes, bound);
  EXPECT_FALSE(apply(keyed(1, "long-a", 100'000)).replayed);
  EXPECT_TRUE(apply(keyed(5, "long-d", 100'000)).replayed);
}

// The workload of EvictionsAreTheSameWhateverIsReadAhead: keyed creates and updates of 40-80 kB
// values under a 4 MiB bound, random TTLs and occasional clock jumps.
std::vector<raft::Entry> eviction_workload(std::mt19937_64& rng) {
  constexpr uint64_t bound = kIdempotencyTableBytesMin;  // 4 MiB: ~70 records of whole entries
  std::vector<raft::Entry> entries;
  uint64_t clock = 1'000'000;
  for (raft::Index index = 1; index <= 1500; ++index) {
    clock += (rng() % 400 == 0) ? 20'000 : rng() % 20;  // now and then a jump past many TTLs
    const uint64_t ttl = 1'000 + rng() % 30'000;        // new records land anywhere in the order
    const uint64_t id = 1 + rng() % 500;
    // Mostly new requests, some retries or reuses of a recent key.
    const std::string request = test::numbered(
        "req-", rng() % 10 == 0 ? index - std::min<uint64_t>(index - 1, rng() % 20) : index);
    const std::string value(40'000 + rng() % 40'000, static_cast<char>('a' + index % 26));
    Command c = (rng() % 3 == 0) ? update_command(make_id(id), value, std::nullopt, request)
                                 : create_command(make_id(id), "k", value, request);
    entries.push_back(entry_of(index, 1, stamped(std::move(c), clock, ttl, bound)));
  }
  return entries;
}

// The records an eviction reads are fetched ahead in bulk (StateMachineOptions::
// idem_front_read_ahead) and kept in memory across batches. Replicas reading 1 (one RocksDB
// iterator per eviction, the plain algorithm), 3 and 1024 records ahead must give the same
// answers and byte-identical tables, with the bound hit on many writes, TTLs that put new
// records before older ones, clock jumps that expire many at once, and a restart on the way.
TEST(StateMachineReadAhead, EvictionsAreTheSameWhateverIsReadAhead) {
  const uint64_t seed = std::random_device{}();
  std::printf("EvictionsAreTheSameWhateverIsReadAhead seed=%llu\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const std::vector<raft::Entry> entries = eviction_workload(rng);
  struct Replica {
    test::TempDir dir;
    StoreOptions options = test::test_store_options();
    std::unique_ptr<Store> store;
  };
  std::vector<Replica> replicas(3);
  const size_t read_ahead[] = {1, 3, 1024};
  for (size_t r = 0; r < replicas.size(); ++r) {
    replicas[r].options.state_machine.idem_front_read_ahead = read_ahead[r];
    replicas[r].store = test::open_store(replicas[r].dir.path(), replicas[r].options);
  }
  std::vector<std::vector<ApplyResult>> results(replicas.size());
  for (size_t k = 0; k < entries.size();) {
    const size_t end = std::min(entries.size(), k + 1 + rng() % 50);
    const std::vector<raft::Entry> part(entries.begin() + static_cast<ptrdiff_t>(k),
                                        entries.begin() + static_cast<ptrdiff_t>(end));
    for (size_t r = 0; r < replicas.size(); ++r) {
      std::vector<ApplyResult> got = apply_all(replicas[r].store->state_machine(), part);
      results[r].insert(results[r].end(), got.begin(), got.end());
    }
    if (k < 750 && end >= 750) {  // the read-ahead is forgotten on a restart
      replicas[2].store.reset();
      replicas[2].store = test::open_store(replicas[2].dir.path(), replicas[2].options);
    }
    k = end;
  }
  const IdempotencyStats plain = replicas[0].store->state_machine().idempotency_stats();
  EXPECT_GT(plain.evicted_bytes_total, 300u) << "the bound is hit on many writes";
  EXPECT_EQ(replicas[1].store->state_machine().idempotency_stats().evicted_bytes_total,
            plain.evicted_bytes_total);  // (replica 2's counters restarted with it)
  EXPECT_EQ(replicas[1].store->state_machine().idempotency_stats().evicted_ttl_total,
            plain.evicted_ttl_total);
  EXPECT_GT(plain.evicted_ttl_total, 0u);
  Result<SnapshotFile> plain_snapshot =
      replicas[0].store->write_snapshot(replicas[0].store->capture_snapshot());
  ASSERT_TRUE(plain_snapshot.is_ok());
  for (size_t r = 1; r < replicas.size(); ++r) {
    SCOPED_TRACE("read ahead " + std::to_string(read_ahead[r]) + ", seed " + std::to_string(seed));
    ASSERT_EQ(results[r].size(), results[0].size());
    for (size_t i = 0; i < results[0].size(); ++i) {
      ASSERT_EQ(results[r][i], results[0][i]) << "entry " << i + 1;
    }
    const IdempotencyStats stats = replicas[r].store->state_machine().idempotency_stats();
    EXPECT_EQ(stats.keys, plain.keys);
    EXPECT_EQ(stats.bytes, plain.bytes);
    // The snapshot body holds the whole table: records, expiries, the clock.
    Result<SnapshotFile> snapshot =
        replicas[r].store->write_snapshot(replicas[r].store->capture_snapshot());
    ASSERT_TRUE(snapshot.is_ok());
    EXPECT_EQ(snapshot->checksum, plain_snapshot->checksum);
    EXPECT_EQ(snapshot->size_bytes, plain_snapshot->size_bytes);
  }
}

// The key names one request. A different operation, id or body under a recorded key is refused
// (kIdempotencyKeyReused, HTTP 422) and changes nothing, also when the first answer was "not
// found", which carries no entry to compare with (the API-layer check this replaces let any
// update or delete through there).
TEST_F(StateMachineTest, KeyReusedForADifferentRequestIsRefusedEvenWhenTheFirstWasNotFound) {
  const ApplyResult first = apply(delete_command(make_id(9), "k"));
  ASSERT_EQ(first.status, ApplyStatus::kNotFound);
  (void)apply(create_command(make_id(1), "key", "v"));
  const StateHash before = sm().state_hash();
  for (const Command& other :
       {update_command(make_id(9), "v", std::nullopt, "k"), delete_command(make_id(1), "k"),
        create_command(make_id(5), "key", "v", "k")}) {
    const ApplyResult r = apply(other);
    EXPECT_EQ(r.status, ApplyStatus::kIdempotencyKeyReused);
    EXPECT_FALSE(r.replayed);
    EXPECT_FALSE(r.entry.has_value());
    EXPECT_EQ(r.original_index, first.index);
  }
  EXPECT_EQ(sm().state_hash().hash, before.hash);
  EXPECT_TRUE(sm().get(make_id(1)).has_value());
  const ApplyResult same = apply(delete_command(make_id(9), "k"));
  EXPECT_TRUE(same.replayed);
  EXPECT_EQ(same.status, ApplyStatus::kNotFound);

  // A create under a reused key: another body is refused, the same body is a replay.
  (void)apply(create_command(make_id(2), "key", "v1", "c"));
  EXPECT_EQ(apply(create_command(make_id(3), "key", "v2", "c")).status,
            ApplyStatus::kIdempotencyKeyReused);
  EXPECT_TRUE(apply(create_command(make_id(4), "key", "v1", "c")).replayed);
  EXPECT_EQ(sm().count(), 2u);
}

TEST_F(StateMachineTest, FindByKeyPagesPastTenThousandEntriesUnderOneKey) {
  constexpr uint64_t n = 10'050;
  std::vector<raft::Entry> entries;
  for (uint64_t i = 1; i <= n; ++i) {
    entries.push_back(entry_of(i, 1, create_command(make_id(i), "same", "v")));
  }
  entries.push_back(entry_of(n + 1, 1, create_command(make_id(n + 1), "other", "v")));
  (void)apply_all(sm(), entries);
  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 20; ++pages) {
    const std::vector<KvEntry> page = sm().find_by_key("same", 1000, after);
    if (page.empty()) break;
    for (const KvEntry& e : page) seen.push_back(e.id);
    after = page.back().id;
  }
  ASSERT_EQ(seen.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], make_id(i + 1)) << i;
  EXPECT_EQ(ids_of(sm().find_by_key("same", 2, make_id(n - 1))), std::vector{make_id(n)});
  EXPECT_TRUE(sm().find_by_key("same", 10, make_id(n)).empty());
}

TEST_F(StateMachineTest, TwoReplicasFedTheSameEntriesHaveTheSameHash) {
  test::TempDir other_dir;
  std::unique_ptr<Store> other = test::open_store(other_dir.path());
  const std::vector<raft::Entry> entries = test::workload(1, 600, /*seed=*/11);
  for (const raft::Entry& e : entries) ASSERT_TRUE(sm().apply(e).is_ok());
  (void)apply_all(other->state_machine(), entries);
  const StateHash a = sm().state_hash();
  EXPECT_EQ(a, other->state_machine().state_hash());
  EXPECT_EQ(a.applied_index, 600u);
  EXPECT_GT(a.entry_count, 10u);
  EXPECT_EQ(a.entry_count, sm().count());
}

TEST_F(StateMachineTest, AnyChangeChangesTheHash) {
  (void)apply(create_command(make_id(1), "k", "v"));
  (void)apply(create_command(make_id(2), "k", "v"));
  std::vector<uint64_t> seen{sm().state_hash().hash};
  (void)apply(update_command(make_id(1), "w"));
  seen.push_back(sm().state_hash().hash);
  (void)apply(update_command(make_id(1), "w", std::string("k2")));
  seen.push_back(sm().state_hash().hash);
  (void)apply(delete_command(make_id(2)));
  seen.push_back(sm().state_hash().hash);
  (void)apply(create_command(make_id(3), "k", "v"));
  seen.push_back(sm().state_hash().hash);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a hash repeated";
}

TEST_F(StateMachineTest, StateSurvivesReopen) {
  (void)apply_all(sm(), test::workload(1, 200, /*seed=*/5));
  const StateHash before = sm().state_hash();
  const uint64_t idem = sm().idempotency_key_count();
  reopen();
  EXPECT_EQ(sm().state_hash(), before);
  EXPECT_EQ(sm().applied_index(), 200u);
  EXPECT_EQ(sm().count(), before.entry_count);
  EXPECT_EQ(sm().idempotency_key_count(), idem);
}

// Format 1 stored an entry-count window and indexed records by log index (family idem_by_index);
// its records cannot be converted (no fingerprint, no expiry), so such a directory is refused
// with a message that says what to do, never misread.
TEST(StateMachineFormat, ADataDirectoryOfTheOldFormatIsRefusedWithAClearError) {
  test::TempDir dir;
  const std::filesystem::path db_dir = dir.path() / "db";
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"entries", {}}, {"idem_by_index", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_dir.string(), families, &handles, &db).ok());
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  Result<std::unique_ptr<Store>> store = Store::open(dir.path(), test::test_store_options());
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(store.status().message().find("older format"), std::string::npos)
      << store.status().to_string();
  EXPECT_NE(store.status().message().find("remove the data directory"), std::string::npos);
}

TEST_F(StateMachineTest, ApplyingOutOfOrderIsABugThatAborts) {
  // "fast" forks right here, so the child reuses this test's directory instead of re-running
  // SetUp and leaking a new one; it aborts before touching RocksDB, which forking makes unsafe.
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH((void)sm().apply(noop_entry(2, 1)), "in log order");
}

}  // namespace
}  // namespace kv
