// kv/state_machine.h: applying commands, the secondary index, idempotency, the state hash.
#include "kv/state_machine.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace kv {
namespace {

using test::apply_all;
using test::create_command;
using test::delete_command;
using test::entry_of;
using test::make_id;
using test::noop_entry;
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

TEST_F(StateMachineTest, IdempotencyKeysSurviveReopen) {
  (void)apply(create_command(make_id(1), "k", "v", "req-1"));
  reopen();
  const ApplyResult retry = apply(create_command(make_id(2), "k", "v", "req-1"));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(sm().count(), 1u);
}

// Window 50 (test_store_options): a key recorded at index 1 dedups commands at indexes 2..50 and
// is forgotten when index 51 is applied, on every replica alike.
TEST_F(StateMachineTest, IdempotencyKeyIsForgottenExactlyAtTheWindowOnEveryReplica) {
  test::TempDir other_dir;
  std::unique_ptr<Store> other = test::open_store(other_dir.path());
  std::vector<raft::Entry> entries{entry_of(1, 1, create_command(make_id(1), "k", "v", "req"))};
  for (raft::Index i = 2; i < 50; ++i) entries.push_back(noop_entry(i, 1));
  entries.push_back(entry_of(50, 1, create_command(make_id(50), "k", "v", "req")));
  entries.push_back(entry_of(51, 1, create_command(make_id(51), "k", "v", "req")));
  const std::vector<ApplyResult> results = apply_all(sm(), entries);
  EXPECT_TRUE(results[49].replayed);   // index 50: within the window
  EXPECT_FALSE(results[50].replayed);  // index 51: the record from index 1 was dropped
  EXPECT_EQ(results[50].status, ApplyStatus::kCreated);
  EXPECT_EQ(sm().count(), 2u);
  EXPECT_EQ(sm().idempotency_key_count(), 1u);  // the new record, made at 51

  // Another replica applying the same entries in other batch sizes ends byte-identical,
  // idempotency table included (the snapshot body holds it).
  for (size_t k = 0; k < entries.size(); k += 7) {
    const size_t end = std::min(entries.size(), k + 7);
    (void)apply_all(other->state_machine(),
                    std::vector<raft::Entry>(entries.begin() + static_cast<ptrdiff_t>(k),
                                             entries.begin() + static_cast<ptrdiff_t>(end)));
  }
  EXPECT_EQ(other->state_machine().state_hash(), sm().state_hash());
  Result<SnapshotFile> a = store_->write_snapshot(store_->capture_snapshot());
  Result<SnapshotFile> b = other->write_snapshot(other->capture_snapshot());
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(a->checksum, b->checksum);
  EXPECT_EQ(a->size_bytes, b->size_bytes);
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

TEST_F(StateMachineTest, OpeningWithAnotherIdempotencyWindowFails) {
  store_.reset();
  StoreOptions options = test::test_store_options();
  options.state_machine.idempotency_window_entries = 51;
  Result<std::unique_ptr<Store>> store = Store::open(dir_.path(), options);
  EXPECT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(StateMachineTest, ApplyingOutOfOrderIsABugThatAborts) {
  // "fast" forks right here, so the child reuses this test's directory instead of re-running
  // SetUp and leaking a new one; it aborts before touching RocksDB, which forking makes unsafe.
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH((void)sm().apply(noop_entry(2, 1)), "in log order");
}

}  // namespace
}  // namespace kv
