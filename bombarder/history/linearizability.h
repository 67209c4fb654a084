// The linearizability checker behind `bombarder check` and `--check` (issue 5 "Checker").
//
// Model: every entry id is a register that is first never-created, then present(value) after
// its create, changed by updates, absent after a delete (and a deleted id never comes back).
// The history is split by id (P-compositionality: a history is linearizable iff each id's
// sub-history is) and the ids are checked in parallel. Each id is searched with Wing & Gong's
// algorithm, Lowe's just-in-time linearization and memoization of (linearized set, state), as in
// Porcupine. Failed operations are dropped; an unknown-outcome operation returns at +infinity
// and may be linearized at any point after its invocation or not at all. Creates whose id is
// unknown cannot be referenced by any later operation and are ignored. A list is one read of
// each id it covers (linearizability.cc, project_lists).
//
// The search is bounded by a deadline: an id whose search did not finish is "unknown", never ok.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "bombarder/history/history.h"

namespace bombarder {

enum class Verdict : uint8_t { kOk, kViolation, kUnknown };
[[nodiscard]] const char* to_string(Verdict verdict);  // "linearizable", "violation", "unknown"

struct CheckOptions {
  std::chrono::milliseconds timeout{60000};
  size_t threads = 0;  // 0: hardware concurrency
};

// One id whose sub-history is not linearizable (or whose search timed out).
struct IdReport {
  std::string id;
  Verdict verdict = Verdict::kOk;
  std::vector<size_t> ops;         // indices into History::ops, by invocation time
  std::vector<size_t> prefix;      // the longest linearizable order found (violation only)
  std::vector<size_t> stuck;       // ops that could be next after `prefix` but cannot be appended
  std::string state_after_prefix;  // "never created", "absent", "present 'v'"
  // For each list among `ops` (sorted by op index): what it said of this id ("listed 'v'",
  // "not listed").
  std::vector<std::pair<size_t, std::string>> list_views;
};

struct CheckResult {
  Verdict verdict = Verdict::kOk;
  size_t ops = 0;          // operations in the history
  size_t ops_checked = 0;  // ok and unknown operations on a known id
  size_t ids = 0;
  size_t ids_violation = 0;
  size_t ids_unknown = 0;
  size_t faults = 0;
  double seconds = 0;
  // Violating ids, smallest sub-history first (ties by id); then the ids that timed out.
  std::vector<IdReport> failures;
};

[[nodiscard]] CheckResult check_history(const History& history, const CheckOptions& options = {});

// The human report: counts, time, verdict and, on a violation, the smallest failing id's
// sub-history with the longest linearizable prefix and the ops that could not be appended.
[[nodiscard]] std::string describe_check(const History& history, const CheckResult& result);
// The same as JSON text (an object).
[[nodiscard]] std::string check_json(const History& history, const CheckResult& result);

}  // namespace bombarder
