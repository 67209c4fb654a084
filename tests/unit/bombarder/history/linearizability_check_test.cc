// The linearizability checker on hand-made histories (issue 5 "Proof"): each one must pass or
// must fail, with the failing id, its longest linearizable prefix and the stuck operations.
#include <gtest/gtest.h>

#include "bombarder/history/linearizability.h"

namespace bombarder {
namespace {

class Builder {
 public:
  Builder& create(uint64_t client, const std::string& id, const std::string& value, int64_t t0,
                  int64_t t1, Outcome outcome = Outcome::kOk) {
    return add(client, OpKind::kCreate, id, value, t0, t1, outcome);
  }
  Builder& update(uint64_t client, const std::string& id, const std::string& value, int64_t t0,
                  int64_t t1, Outcome outcome = Outcome::kOk) {
    return add(client, OpKind::kUpdate, id, value, t0, t1, outcome);
  }
  Builder& remove(uint64_t client, const std::string& id, int64_t t0, int64_t t1,
                  Outcome outcome = Outcome::kOk) {
    return add(client, OpKind::kDelete, id, "", t0, t1, outcome);
  }
  Builder& read(uint64_t client, const std::string& id, const std::string& value, int64_t t0,
                int64_t t1, Outcome outcome = Outcome::kOk) {
    add(client, OpKind::kRead, id, "", t0, t1, outcome);
    history_.ops.back().read_value = value;
    return *this;
  }
  // An update or delete that the node answered 404 (recorded as failed, status 404).
  Builder& update_not_found(uint64_t client, const std::string& id, int64_t t0, int64_t t1) {
    add(client, OpKind::kUpdate, id, "v-never", t0, t1, Outcome::kFail);
    history_.ops.back().status = 404;
    return *this;
  }
  Builder& remove_not_found(uint64_t client, const std::string& id, int64_t t0, int64_t t1) {
    add(client, OpKind::kDelete, id, "", t0, t1, Outcome::kFail);
    history_.ops.back().status = 404;
    return *this;
  }
  Builder& read_absent(uint64_t client, const std::string& id, int64_t t0, int64_t t1) {
    add(client, OpKind::kRead, id, "", t0, t1, Outcome::kOk);
    history_.ops.back().read_absent = true;
    history_.ops.back().status = 404;
    return *this;
  }
  // A create of key `key` (an unknown one with id "" is a create whose id was never learnt).
  Builder& create_key(uint64_t client, const std::string& id, const std::string& key,
                      const std::string& value, int64_t t0, int64_t t1,
                      Outcome outcome = Outcome::kOk) {
    add(client, OpKind::kCreate, id, value, t0, t1, outcome);
    history_.ops.back().key = key;
    return *this;
  }
  // An ok list of key `key` ("" all keys) after `after`, at most `limit` (0 unknown).
  Builder& list(uint64_t client, const std::string& key, std::vector<ListedEntry> listed,
                int64_t t0, int64_t t1, const std::string& after = "", uint32_t limit = 10) {
    add(client, OpKind::kList, "", "", t0, t1, Outcome::kOk);
    history_.ops.back().key = key;
    history_.ops.back().after = after;
    history_.ops.back().limit = limit;
    history_.ops.back().listed = std::move(listed);
    return *this;
  }
  [[nodiscard]] const History& history() const { return history_; }
  [[nodiscard]] CheckResult check() const { return check_history(history_); }

 private:
  Builder& add(uint64_t client, OpKind kind, const std::string& id, const std::string& value,
               int64_t t0, int64_t t1, Outcome outcome) {
    HistoryOp op;
    op.client = client;
    op.kind = kind;
    op.id = id;
    op.value = value;
    op.invoke_ns = t0;
    op.complete_ns = t1;
    op.outcome = outcome;
    op.status = outcome == Outcome::kOk ? 200 : outcome == Outcome::kUnknown ? 504 : 503;
    op.line = history_.ops.size() + 1;
    history_.ops.push_back(op);
    return *this;
  }
  History history_;
};

void expect_ok(const Builder& b) {
  const CheckResult r = b.check();
  EXPECT_EQ(r.verdict, Verdict::kOk) << describe_check(b.history(), r);
}

CheckResult expect_violation(const Builder& b, const std::string& id = "a") {
  const CheckResult r = b.check();
  EXPECT_EQ(r.verdict, Verdict::kViolation) << describe_check(b.history(), r);
  if (r.verdict == Verdict::kViolation) {
    EXPECT_EQ(r.failures.front().id, id);
  }
  return r;
}

TEST(LinearizabilityCheck, SequentialLifecycleIsLinearizable) {
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .read(1, "a", "v1", 20, 30)
      .update(0, "a", "v2", 40, 50)
      .read(1, "a", "v2", 60, 70)
      .remove(0, "a", 80, 90)
      .read_absent(1, "a", 100, 110);
  expect_ok(b);
  EXPECT_EQ(b.check().ids, 1u);
  EXPECT_EQ(b.check().ops_checked, 6u);
}

TEST(LinearizabilityCheck, StaleReadAfterANewerAcknowledgedWriteFails) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).update(0, "a", "v2", 20, 30).read(1, "a", "v1", 40, 50);
  const CheckResult r = expect_violation(b);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  const IdReport& f = r.failures.front();
  EXPECT_EQ(f.prefix, (std::vector<size_t>{0, 1}));  // create, update
  EXPECT_EQ(f.stuck, (std::vector<size_t>{2}));      // the stale read
  EXPECT_EQ(f.state_after_prefix, "present 'v2'");
  const std::string text = describe_check(b.history(), r);
  EXPECT_NE(text.find("NOT linearizable"), std::string::npos) << text;
  EXPECT_NE(text.find("smallest failing id a (3 operations)"), std::string::npos) << text;
}

TEST(LinearizabilityCheck, LostAcknowledgedWriteFails) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).read_absent(1, "a", 20, 30);
  expect_violation(b);
}

TEST(LinearizabilityCheck, ReadOfANeverWrittenValueFails) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).read(1, "a", "ghost", 20, 30);
  expect_violation(b);
}

TEST(LinearizabilityCheck, ReadGoingBackInTimeFails) {
  // The update is concurrent with both reads, but once a read saw v2 a later read cannot see v1.
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .update(0, "a", "v2", 20, 100)
      .read(1, "a", "v2", 30, 40)
      .read(1, "a", "v1", 50, 60);
  expect_violation(b);
}

TEST(LinearizabilityCheck, CreateThatReappearsAfterAnAcknowledgedDeleteFails) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).remove(0, "a", 20, 30).read(1, "a", "v1", 40, 50);
  expect_violation(b);
}

TEST(LinearizabilityCheck, DeletedIdCannotBeUpdatedAgain) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).remove(0, "a", 20, 30).update(1, "a", "v2", 40, 50);
  expect_violation(b);
}

TEST(LinearizabilityCheck, DeposedLeaderStaleReadFails) {
  // etcd/Consul (Jepsen): client 1's update v2 is acknowledged by the new leader at t=30; client
  // 2's read, sent after that to the deposed leader, answers the old v1 — while client 3, also
  // after t=30, already read v2. Concurrent overlap between the two reads does not help.
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .update(1, "a", "v2", 20, 30)
      .read(2, "a", "v1", 35, 80)
      .read(3, "a", "v2", 40, 45);
  expect_violation(b);
}

TEST(LinearizabilityCheck, DeposedLeaderStaleReadFailsEvenAlone) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).update(1, "a", "v2", 20, 30).read(2, "a", "v1", 35, 80);
  expect_violation(b);
}

TEST(LinearizabilityCheck, ConcurrentWriteAndReadsSeeingEitherValueAreLinearizable) {
  Builder old_value;
  old_value.create(0, "a", "v1", 0, 10).update(0, "a", "v2", 20, 50).read(1, "a", "v1", 25, 45);
  expect_ok(old_value);
  Builder new_value;
  new_value.create(0, "a", "v1", 0, 10).update(0, "a", "v2", 20, 50).read(1, "a", "v2", 25, 45);
  expect_ok(new_value);
  // Both at once: the v1 read starts first, the v2 read ends before the update does.
  Builder both;
  both.create(0, "a", "v1", 0, 10)
      .update(0, "a", "v2", 20, 50)
      .read(1, "a", "v1", 25, 45)
      .read(2, "a", "v2", 30, 40);
  expect_ok(both);
  // Touching intervals (one completes when the other is invoked) count as concurrent.
  Builder touching;
  touching.create(0, "a", "v1", 0, 10).update(0, "a", "v2", 20, 30).read(1, "a", "v1", 30, 40);
  expect_ok(touching);
}

TEST(LinearizabilityCheck, UnknownWriteLaterReadPasses) {
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .update(0, "a", "v2", 20, 30, Outcome::kUnknown)
      .read(1, "a", "v1", 40, 50)     // not yet applied ...
      .read(1, "a", "v2", 100, 110);  // ... applied later, after the client gave up
  expect_ok(b);
}

TEST(LinearizabilityCheck, UnknownWriteNeverObservedPasses) {
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .update(0, "a", "v2", 20, 30, Outcome::kUnknown)
      .read(1, "a", "v1", 100, 110)
      .remove(0, "b", 5, 6, Outcome::kUnknown)          // an unknown op on an id of its own
      .create(2, "", "lost", 0, 5, Outcome::kUnknown);  // unknown create: no id, ignored
  expect_ok(b);
}

TEST(LinearizabilityCheck, UnknownWriteCannotTakeEffectBeforeItsInvocation) {
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .read(1, "a", "v2", 20, 30)
      .update(0, "a", "v2", 40, 50, Outcome::kUnknown);
  expect_violation(b);
}

TEST(LinearizabilityCheck, UnknownWriteCannotTakeEffectTwice) {
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .update(0, "a", "v2", 20, 30, Outcome::kUnknown)
      .read(1, "a", "v2", 40, 50)
      .update(0, "a", "v3", 60, 70)
      .read(1, "a", "v2", 80, 90);
  expect_violation(b);
}

TEST(LinearizabilityCheck, FailedOperationsAreDropped) {
  Builder b;
  b.create(0, "a", "v1", 0, 10)
      .update(0, "a", "v9", 20, 30, Outcome::kFail)
      .read(1, "a", "ghost", 25, 26, Outcome::kFail)
      .read(1, "a", "v1", 40, 50);
  expect_ok(b);
  EXPECT_EQ(b.check().ops_checked, 2u);
}

// Issue 13 "The checker gets stricter": a node that answers 404 to an update or delete of an
// entry that exists is caught, although the failed write itself is dropped.
TEST(LinearizabilityCheck, UpdateAnswered404ForAnExistingEntryFails) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).update_not_found(1, "a", 20, 30).read(2, "a", "v1", 40, 50);
  const CheckResult r = expect_violation(b);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.ops_checked, 3u);
  const std::string text = describe_check(b.history(), r);
  EXPECT_NE(text.find("update 'v-never' -> absent (404)"), std::string::npos) << text;
}

TEST(LinearizabilityCheck, DeleteAnswered404ForAnExistingEntryFails) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).remove_not_found(1, "a", 20, 30);
  expect_violation(b);
}

TEST(LinearizabilityCheck, WriteAnswered404AfterADeleteOrBeforeTheCreateIsLinearizable) {
  Builder b;
  b.update_not_found(1, "a", 0, 5)
      .create(0, "a", "v1", 10, 20)
      .remove(0, "a", 30, 40)
      .remove_not_found(1, "a", 50, 60)
      .update_not_found(2, "a", 55, 70);
  expect_ok(b);
  EXPECT_EQ(b.check().ops_checked, 5u);
}

TEST(LinearizabilityCheck, WriteAnswered404ConcurrentWithTheDeleteIsLinearizable) {
  Builder b;
  b.create(0, "a", "v1", 0, 10).remove(0, "a", 20, 40).update_not_found(1, "a", 15, 50);
  expect_ok(b);
}

TEST(LinearizabilityCheck, SmallestFailingIdIsReported) {
  Builder b;
  b.create(0, "big", "v1", 0, 10)
      .update(0, "big", "v2", 20, 30)
      .update(0, "big", "v3", 40, 50)
      .read(1, "big", "v1", 60, 70)
      .create(0, "small", "w1", 0, 10)
      .read(1, "small", "w0", 20, 30)
      .create(0, "fine", "x", 0, 10)
      .read(1, "fine", "x", 20, 30);
  const CheckResult r = expect_violation(b, "small");
  EXPECT_EQ(r.ids, 3u);
  EXPECT_EQ(r.ids_violation, 2u);
  const std::string text = describe_check(b.history(), r);
  EXPECT_NE(text.find("other failing ids: big"), std::string::npos) << text;
  const std::string json = check_json(b.history(), r);
  EXPECT_NE(json.find("\"failing_id\""), std::string::npos) << json;
}

TEST(LinearizabilityCheck, TimeoutGivesUnknownNeverOk) {
  Builder b;
  for (int i = 0; i < 50; ++i) {
    const std::string id = "id" + std::to_string(i);
    b.create(0, id, "v", 0, 10).read(1, id, "v", 20, 30);
  }
  CheckOptions options;
  options.timeout = std::chrono::milliseconds(0);
  const CheckResult r = check_history(b.history(), options);
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_EQ(r.ids_unknown, 50u);
  EXPECT_NE(describe_check(b.history(), r).find("verdict: unknown"), std::string::npos);
}

TEST(LinearizabilityCheck, EmptyHistoryIsLinearizable) {
  EXPECT_EQ(check_history(History{}).verdict, Verdict::kOk);
}

// Lists: each is one read of every id it covers (linearizability.cc, project_lists).

TEST(LinearizabilityCheck, KeyLookupSeeingTheCurrentValueIsLinearizable) {
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10)
      .list(1, "ka", {{"a", "ka", "v1"}}, 20, 30)
      .update(0, "a", "v2", 40, 50)
      .list(1, "ka", {{"a", "ka", "v2"}}, 60, 70)
      .remove(0, "a", 80, 90)
      .list(1, "ka", {}, 100, 110);
  expect_ok(b);
}

TEST(LinearizabilityCheck, KeyLookupMissingAnAcknowledgedCreateFails) {
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10).list(1, "ka", {}, 20, 30);
  const CheckResult r = expect_violation(b);
  const std::string text = describe_check(b.history(), r);
  EXPECT_NE(text.find("list key 'ka' -> 0 entries, this id not listed"), std::string::npos) << text;
}

TEST(LinearizabilityCheck, ListStillShowingADeletedIdFails) {
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10)
      .remove(0, "a", 20, 30)
      .list(1, "", {{"a", "ka", "v1"}}, 40, 50);
  expect_violation(b);
}

TEST(LinearizabilityCheck, ListWithAStaleValueFails) {
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10)
      .update(0, "a", "v2", 20, 30)
      .list(1, "ka", {{"a", "ka", "v1"}}, 40, 50);
  expect_violation(b);
}

TEST(LinearizabilityCheck, ListConcurrentWithACreateMaySeeItOrNot) {
  Builder seen;
  seen.create_key(0, "a", "ka", "v1", 0, 30).list(1, "ka", {{"a", "ka", "v1"}}, 10, 20);
  expect_ok(seen);
  Builder not_seen;
  not_seen.create_key(0, "a", "ka", "v1", 0, 30).list(1, "ka", {}, 10, 20);
  expect_ok(not_seen);
}

TEST(LinearizabilityCheck, AFullPageSaysNothingOfIdsPastItsLastEntry) {
  // Ids "a" < "b": a page of limit 1 that returned "a" does not cover "b".
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10)
      .create_key(0, "b", "kb", "v2", 20, 30)
      .list(1, "", {{"a", "ka", "v1"}}, 40, 50, "", 1)
      .list(1, "", {{"b", "kb", "v2"}}, 60, 70, "a", 1);
  expect_ok(b);
  // A page that is not full covers everything after `after`: missing "b" is a violation.
  Builder short_page;
  short_page.create_key(0, "a", "ka", "v1", 0, 10)
      .create_key(0, "b", "kb", "v2", 20, 30)
      .list(1, "", {{"a", "ka", "v1"}}, 40, 50, "", 5);
  expect_violation(short_page, "b");
}

TEST(LinearizabilityCheck, ListedIdOfACreateWithALostAnswerIsMatchedToIt) {
  // The create's answer was lost (unknown, id never learnt); a list shows its entry, then a
  // later list must still show it (it cannot vanish without a delete).
  Builder b;
  b.create_key(0, "", "ka", "v1", 0, 10, Outcome::kUnknown)
      .list(1, "ka", {{"x", "ka", "v1"}}, 20, 30)
      .list(1, "ka", {{"x", "ka", "v1"}}, 40, 50);
  expect_ok(b);
  Builder vanished;
  vanished.create_key(0, "", "ka", "v1", 0, 10, Outcome::kUnknown)
      .list(1, "ka", {{"x", "ka", "v1"}}, 20, 30)
      .list(1, "ka", {}, 40, 50);
  expect_violation(vanished, "x");
}

TEST(LinearizabilityCheck, ListedPhantomWithAWrittenKeyFails) {
  // Key "ka" was written by an acknowledged create of "a"; "ghost" was never created.
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10)
      .list(1, "ka", {{"a", "ka", "v1"}, {"ghost", "ka", "v1"}}, 20, 30);
  const CheckResult r = expect_violation(b, "ghost");
  EXPECT_NE(describe_check(b.history(), r).find("never created"), std::string::npos);
  // An unknown create invoked only after the list completed cannot explain it either.
  Builder late;
  late.create_key(0, "a", "ka", "v1", 0, 10)
      .list(1, "ka", {{"a", "ka", "v1"}, {"ghost", "ka", "v9"}}, 20, 30)
      .create_key(2, "", "ka", "v9", 40, 50, Outcome::kUnknown);
  expect_violation(late, "ghost");
}

TEST(LinearizabilityCheck, ListedEntriesOfOtherKeysAreIgnored) {
  // An entry whose key this history never wrote comes from outside it (an earlier run).
  Builder b;
  b.create_key(0, "a", "ka", "v1", 0, 10)
      .list(1, "", {{"a", "ka", "v1"}, {"old", "k-earlier-run", "w"}}, 20, 30);
  expect_ok(b);
}

}  // namespace
}  // namespace bombarder
