// Property test of the checker (issue 5 "Proof"): histories generated from a sequential model
// with concurrent clients are linearizable by construction and must pass; the same histories
// with one read mutated (to a never-written value, or to a value overwritten before the read
// began) are not and must fail. Each seed is printed so that a failure can be replayed.
#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <unordered_map>

#include "bombarder/history/linearizability.h"
#include "history/history_generator.h"

namespace bombarder {
namespace {

GeneratorOptions options_for(uint64_t seed) {
  GeneratorOptions o;
  o.seed = seed;
  o.clients = 3 + seed % 5;
  o.ops = 150 + (seed % 4) * 50;
  o.hot_ids = 1 + seed % 3;
  o.unknown_pct = 10;
  o.list_pct = seed % 2 == 0 ? 10 : 0;
  return o;
}

// Index of an ok read that saw a value, at random; nullopt when there is none.
std::optional<size_t> pick_read(const History& h, std::mt19937_64& rng) {
  std::vector<size_t> reads;
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const HistoryOp& op = h.ops[i];
    if (op.kind == OpKind::kRead && op.outcome == Outcome::kOk && !op.read_absent) {
      reads.push_back(i);
    }
  }
  if (reads.empty()) return std::nullopt;
  return reads[std::uniform_int_distribution<size_t>(0, reads.size() - 1)(rng)];
}

// A read r and a value u of r's id such that u's ok write W_u completed before an ok write W_x
// (update or delete) of the same id was invoked, and W_x completed before r was invoked: r
// returning u is then a stale read that no linearization explains (values are unique).
std::optional<std::pair<size_t, std::string>> pick_stale(const History& h) {
  std::unordered_map<std::string, std::vector<size_t>> writes;
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const HistoryOp& op = h.ops[i];
    if (op.kind != OpKind::kRead && op.outcome == Outcome::kOk && !op.id.empty()) {
      writes[op.id].push_back(i);
    }
  }
  for (size_t r = 0; r < h.ops.size(); ++r) {
    const HistoryOp& read = h.ops[r];
    if (read.kind != OpKind::kRead || read.outcome != Outcome::kOk) continue;
    for (const size_t u : writes[read.id]) {
      const HistoryOp& wu = h.ops[u];
      if (wu.kind == OpKind::kDelete || wu.value == read.read_value) continue;
      for (const size_t x : writes[read.id]) {
        const HistoryOp& wx = h.ops[x];
        if (wx.kind == OpKind::kCreate) continue;
        if (wu.complete_ns < wx.invoke_ns && wx.complete_ns < read.invoke_ns) {
          return std::make_pair(r, wu.value);
        }
      }
    }
  }
  return std::nullopt;
}

// An ok list entry at random: (list op, entry); nullopt when no list returned anything.
std::optional<std::pair<size_t, size_t>> pick_listed(const History& h, std::mt19937_64& rng) {
  std::vector<std::pair<size_t, size_t>> entries;
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const HistoryOp& op = h.ops[i];
    if (op.kind != OpKind::kList || op.outcome != Outcome::kOk) continue;
    for (size_t e = 0; e < op.listed.size(); ++e) entries.emplace_back(i, e);
  }
  if (entries.empty()) return std::nullopt;
  return entries[std::uniform_int_distribution<size_t>(0, entries.size() - 1)(rng)];
}

// Returns how many mutations were made (0 to 3).
int check_seed(uint64_t seed) {
  int mutations = 0;
  std::cout << "seed=" << seed << std::endl;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  const History original = generate_linearizable_history(options_for(seed));
  const CheckResult ok = check_history(original);
  EXPECT_EQ(ok.verdict, Verdict::kOk) << describe_check(original, ok);
  EXPECT_GT(ok.ops_checked, 0u);

  std::mt19937_64 rng(seed * 7919 + 1);
  if (const auto r = pick_read(original, rng)) {
    ++mutations;
    History ghost = original;
    ghost.ops[*r].read_value = "never-written";
    const CheckResult bad = check_history(ghost);
    EXPECT_EQ(bad.verdict, Verdict::kViolation) << "ghost read at op " << *r;
    if (bad.verdict == Verdict::kViolation) {
      EXPECT_EQ(bad.failures.front().id, ghost.ops[*r].id);
    }
  }
  if (const auto listed = pick_listed(original, rng)) {
    // A listed value nobody wrote: a violation whether the id was learnt or not.
    ++mutations;
    History ghost = original;
    ghost.ops[listed->first].listed[listed->second].value = "never-written";
    const CheckResult bad = check_history(ghost);
    EXPECT_EQ(bad.verdict, Verdict::kViolation)
        << "ghost list entry at op " << listed->first << " entry " << listed->second;
  }
  if (const auto stale = pick_stale(original)) {
    ++mutations;
    History mutated = original;
    mutated.ops[stale->first].read_absent = false;
    mutated.ops[stale->first].read_value = stale->second;
    const CheckResult bad = check_history(mutated);
    EXPECT_EQ(bad.verdict, Verdict::kViolation)
        << "stale read at op " << stale->first << " of '" << stale->second << "'";
  }
  return mutations;
}

TEST(LinearizabilityProperty, GeneratedHistoriesPassAndMutatedOnesFail) {
  int mutations = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) mutations += check_seed(seed);
  EXPECT_GE(mutations, 60) << "the mutations should apply to most seeds";
  std::cout << "mutated histories checked: " << mutations << std::endl;
}

TEST(LinearizabilityProperty, RandomSeed) {
  const uint64_t seed = std::random_device{}();
  RecordProperty("seed", std::to_string(seed));
  (void)check_seed(seed);
}

TEST(LinearizabilityProperty, ManyIdsManyClients) {
  GeneratorOptions o;
  o.seed = 99;
  o.clients = 16;
  o.ops = 5000;
  o.hot_ids = 0;
  o.list_pct = 5;
  const History h = generate_linearizable_history(o);
  const CheckResult r = check_history(h);
  EXPECT_EQ(r.verdict, Verdict::kOk) << describe_check(h, r);
  EXPECT_GT(r.ids, 100u);
}

}  // namespace
}  // namespace bombarder
