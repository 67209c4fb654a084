#include "bombarder/history/linearizability.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace bombarder {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk: return "linearizable";
    case Verdict::kViolation: return "violation";
    case Verdict::kUnknown: return "unknown";
  }
  return "?";
}

namespace {

constexpr int64_t kInfinity = std::numeric_limits<int64_t>::max();
// Register states: a value index (>= 0), or one of these.
constexpr int kNever = -2;   // before the create
constexpr int kAbsent = -1;  // after a delete
// A read's expected value when it answered 404.
constexpr int kReadAbsent = -1;

// An update or delete answered 404 changed nothing, and it says more than a failure would: the
// node applied it at some instant of its interval and found no such entry there. It is checked
// as a read that answered absent (docs/history.md). Only a definite 404 (outcome fail) counts:
// an unknown write whose last attempt got 404 may still have taken effect through an earlier one.
bool is_absent_write(const HistoryOp& op) {
  return (op.kind == OpKind::kUpdate || op.kind == OpKind::kDelete) &&
         op.outcome == Outcome::kFail && op.status == 404;
}

struct SubOp {
  OpKind kind = OpKind::kCreate;
  int arg = 0;  // value index written (create, update) or read (kReadAbsent for a 404)
  int64_t invoke = 0;
  int64_t complete = 0;  // kInfinity for an unknown outcome
  size_t index = 0;      // into History::ops
};

bool step(int state, const SubOp& op, int& next) {
  switch (op.kind) {
    case OpKind::kCreate:
      if (state != kNever) return false;
      next = op.arg;
      return true;
    case OpKind::kRead: next = state; return op.arg == kReadAbsent ? state < 0 : state == op.arg;
    case OpKind::kUpdate:
      if (state < 0) return false;
      next = op.arg;
      return true;
    case OpKind::kDelete:
      if (state < 0) return false;
      next = kAbsent;
      return true;
    case OpKind::kList: break;  // projected onto reads before the search (project_lists)
  }
  return false;
}

struct CacheKey {
  std::vector<uint64_t> bits;
  int state;
  bool operator==(const CacheKey&) const = default;
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& key) const {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(static_cast<int64_t>(key.state));
    for (const uint64_t w : key.bits) {
      h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    return static_cast<size_t>(h);
  }
};

struct SingleResult {
  Verdict verdict = Verdict::kOk;
  std::vector<size_t> prefix;  // positions into the SubOp vector
};

// Wing & Gong / Lowe / Porcupine on one id's operations.
class SingleChecker {
 public:
  SingleChecker(const std::vector<SubOp>& ops, Clock::time_point deadline,
                std::atomic<bool>& expired)
      : ops_(ops), deadline_(deadline), expired_(expired) {}

  SingleResult run() {
    build();
    SingleResult result;
    std::vector<uint64_t> bits((ops_.size() + 63) / 64, 0);
    std::unordered_set<CacheKey, CacheKeyHash> cache;
    std::vector<std::pair<int, int>> stack;  // (call entry, state before it)
    int state = kNever;
    int e = next_[0];
    uint64_t steps = 0;
    while (next_[0] != -1) {
      if ((++steps & 1023) == 0 &&
          (expired_.load(std::memory_order_relaxed) || Clock::now() >= deadline_)) {
        expired_.store(true, std::memory_order_relaxed);
        result.verdict = Verdict::kUnknown;
        return result;
      }
      if (e == -1) {  // cannot happen (every call has its return after it): never claim ok
        result.verdict = Verdict::kUnknown;
        return result;
      }
      const int op = entry_op_[e];
      if (is_call_[e]) {
        int after = 0;
        if (step(state, ops_[op], after)) {
          bits[op / 64] |= uint64_t{1} << (op % 64);
          if (cache.insert(CacheKey{bits, after}).second) {
            stack.emplace_back(e, state);
            state = after;
            lift(e);
            record_best(stack, result);
            e = next_[0];
            continue;
          }
          bits[op / 64] &= ~(uint64_t{1} << (op % 64));
        }
        e = next_[e];
      } else {
        // Every operation still in the list is unknown (their returns are all at +infinity and
        // come last): they may never have taken effect, so what is linearized is a linearization.
        if (ops_[op].complete == kInfinity) return result;
        if (stack.empty()) {
          result.verdict = Verdict::kViolation;
          return result;
        }
        const auto [call, before] = stack.back();
        stack.pop_back();
        state = before;
        const int undone = entry_op_[call];
        bits[undone / 64] &= ~(uint64_t{1} << (undone % 64));
        unlift(call);
        e = next_[call];
      }
    }
    return result;
  }

 private:
  // Keeps the longest linearized prefix seen, to explain a violation.
  void record_best(const std::vector<std::pair<int, int>>& stack, SingleResult& result) const {
    if (stack.size() <= result.prefix.size()) return;
    result.prefix.clear();
    for (const auto& [entry, before] : stack) {
      result.prefix.push_back(static_cast<size_t>(entry_op_[entry]));
    }
  }

  // Entries 1..2n in time order (at equal times calls first: touching intervals count as
  // concurrent, never as ordered); entry 0 is the list head.
  void build() {
    const size_t n = ops_.size();
    std::vector<std::tuple<int64_t, int, int>> order;  // (time, 0 call / 1 return, op)
    order.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
      order.emplace_back(ops_[i].invoke, 0, static_cast<int>(i));
      order.emplace_back(ops_[i].complete, 1, static_cast<int>(i));
    }
    std::sort(order.begin(), order.end());
    const size_t count = 2 * n + 1;
    next_.assign(count, -1);
    prev_.assign(count, -1);
    match_.assign(count, -1);
    entry_op_.assign(count, -1);
    is_call_.assign(count, 0);
    std::vector<int> call_of(n, -1);
    for (size_t i = 0; i < order.size(); ++i) {
      const int e = static_cast<int>(i + 1);
      const auto& [time, kind, op] = order[i];
      entry_op_[e] = op;
      is_call_[e] = kind == 0;
      if (kind == 0) {
        call_of[op] = e;
      } else {
        match_[call_of[op]] = e;
      }
      prev_[e] = e - 1;
      next_[e - 1] = e;
    }
  }

  void remove(int e) {
    next_[prev_[e]] = next_[e];
    if (next_[e] != -1) prev_[next_[e]] = prev_[e];
  }
  void lift(int call) {
    remove(call);
    remove(match_[call]);
  }
  void unlift(int call) {
    const int ret = match_[call];
    next_[prev_[ret]] = ret;
    if (next_[ret] != -1) prev_[next_[ret]] = ret;
    next_[prev_[call]] = call;
    prev_[next_[call]] = call;
  }

  const std::vector<SubOp>& ops_;
  Clock::time_point deadline_;
  std::atomic<bool>& expired_;
  std::vector<int> next_, prev_, match_, entry_op_;
  std::vector<char> is_call_;
};

// What one list said about one id it covers: listed with a value, or not listed (absent).
struct ListView {
  size_t op = 0;  // index into History::ops
  bool absent = false;
  std::string_view value;
};

struct Group {
  std::string_view id;
  std::vector<size_t> ops;      // indices into History::ops (for a list: see views)
  std::vector<ListView> views;  // the lists covering this id, each one read of it
  std::string unmatched;        // why an id only lists name cannot exist (no create could make it)
};

std::string state_text(int state, const std::vector<std::string_view>& values) {
  if (state == kNever) return "never created";
  if (state == kAbsent) return "absent (deleted)";
  return "present '" + std::string(values[static_cast<size_t>(state)]) + "'";
}

// Interns the values one id's operations write and read: SubOps compare small ints.
class ValueTable {
 public:
  int intern(std::string_view v) {
    const auto [it, added] = index_.emplace(v, static_cast<int>(values_.size()));
    if (added) values_.push_back(v);
    return it->second;
  }
  [[nodiscard]] const std::vector<std::string_view>& values() const { return values_; }

 private:
  std::unordered_map<std::string_view, int> index_;
  std::vector<std::string_view> values_;
};

// The report's operations (the group's and its list reads) in invocation order, and what each
// list said of the id.
void order_group_ops(const History& history, const Group& group, IdReport& report) {
  report.ops = group.ops;
  for (const ListView& view : group.views) {
    report.list_views.emplace_back(view.op, view.absent
                                                ? std::string("not listed")
                                                : "listed '" + std::string(view.value) + "'");
    report.ops.push_back(view.op);
  }
  std::sort(report.list_views.begin(), report.list_views.end());
  std::sort(report.ops.begin(), report.ops.end(), [&](size_t a, size_t b) {
    const auto& x = history.ops[a];
    const auto& y = history.ops[b];
    return std::tie(x.invoke_ns, a) < std::tie(y.invoke_ns, b);
  });
}

// One history operation as the checker sees it; `view` is set for a list (one read of the id
// at the list's interval; a list is ok, never unknown).
SubOp sub_op(const HistoryOp& h, size_t i, const ListView* view, ValueTable& values) {
  SubOp op;
  op.index = i;
  op.invoke = h.invoke_ns;
  if (view != nullptr) {
    op.kind = OpKind::kRead;
    op.complete = h.complete_ns;
    op.arg = view->absent ? kReadAbsent : values.intern(view->value);
    return op;
  }
  op.kind = h.kind;
  op.complete = h.outcome == Outcome::kUnknown ? kInfinity : h.complete_ns;
  if (is_absent_write(h)) {
    op.kind = OpKind::kRead;
    op.arg = kReadAbsent;
  } else if (h.kind == OpKind::kRead) {
    op.arg = h.read_absent ? kReadAbsent : values.intern(h.read_value);
  } else if (h.kind != OpKind::kDelete) {
    op.arg = values.intern(h.value);
  }
  return op;
}

// Explains a violation: the state after the longest linearizable prefix, and the operations
// that could come next but fail.
void explain_violation(const std::vector<SubOp>& ops, const SingleResult& single,
                       const ValueTable& values, IdReport& report) {
  int state = kNever;
  std::vector<char> in_prefix(ops.size(), 0);
  for (const size_t p : single.prefix) {
    int after = state;
    step(state, ops[p], after);
    state = after;
    in_prefix[p] = 1;
    report.prefix.push_back(ops[p].index);
  }
  report.state_after_prefix = state_text(state, values.values());
  int64_t earliest_return = kInfinity;
  for (size_t p = 0; p < ops.size(); ++p) {
    if (!in_prefix[p]) earliest_return = std::min(earliest_return, ops[p].complete);
  }
  for (size_t p = 0; p < ops.size(); ++p) {
    if (!in_prefix[p] && ops[p].invoke <= earliest_return) report.stuck.push_back(ops[p].index);
  }
}

// Turns one id's history into SubOps (interning values) and checks it.
IdReport check_group(const History& history, const Group& group, Clock::time_point deadline,
                     std::atomic<bool>& expired) {
  IdReport report;
  report.id = std::string(group.id);
  order_group_ops(history, group, report);
  std::unordered_map<size_t, const ListView*> view_of;
  for (const ListView& view : group.views) view_of.emplace(view.op, &view);
  ValueTable values;
  std::vector<SubOp> ops;
  ops.reserve(report.ops.size());
  for (const size_t i : report.ops) {
    const HistoryOp& h = history.ops[i];
    ops.push_back(sub_op(h, i, h.kind == OpKind::kList ? view_of.at(i) : nullptr, values));
  }
  SingleChecker checker(ops, deadline, expired);
  const SingleResult single = checker.run();
  report.verdict = single.verdict;
  if (single.verdict == Verdict::kViolation) explain_violation(ops, single, values, report);
  return report;
}

std::string ms(int64_t ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ns) / 1e6);
  return text;
}

// What a list said of the id being reported ("listed 'v'", "not listed"), or "".
std::string_view view_text(const IdReport& report, size_t op) {
  const auto it = std::lower_bound(report.list_views.begin(), report.list_views.end(),
                                   std::make_pair(op, std::string()));
  return it != report.list_views.end() && it->first == op ? std::string_view(it->second) : "";
}

std::string op_summary(const HistoryOp& op, std::string_view view) {
  std::string text = to_string(op.kind);
  if (op.kind == OpKind::kList) {
    text += op.key.empty() ? std::string(" all") : " key '" + op.key + "'";
    if (!op.after.empty()) text += " after " + op.after;
    return text + " -> " + std::to_string(op.listed.size()) + " entries, this id " +
           std::string(view);
  }
  if (op.kind == OpKind::kCreate || op.kind == OpKind::kUpdate) text += " '" + op.value + "'";
  if (op.kind == OpKind::kRead && op.outcome == Outcome::kOk) {
    text += op.read_absent ? " -> absent (404)" : " -> '" + op.read_value + "'";
  }
  if (is_absent_write(op)) text += " -> absent (404)";
  return text;
}

Json op_json(const HistoryOp& op, size_t number, std::string_view view) {
  Json j = {{"n", number},
            {"line", op.line},
            {"client", op.client},
            {"op", to_string(op.kind)},
            {"invoke_ns", op.invoke_ns},
            {"complete_ns", op.complete_ns},
            {"outcome", to_string(op.outcome)},
            {"status", op.status}};
  if (op.kind == OpKind::kCreate || op.kind == OpKind::kUpdate) j["value"] = op.value;
  if (op.kind == OpKind::kRead && op.outcome == Outcome::kOk) {
    j["result"] = op.read_absent ? Json{{"absent", true}} : Json{{"value", op.read_value}};
  }
  if (is_absent_write(op)) j["result"] = Json{{"absent", true}};
  if (op.kind == OpKind::kList) {
    j["key"] = op.key;
    j["entries"] = op.listed.size();
    j["this_id"] = view;
  }
  return j;
}

// An id only lists returned, with a key this history wrote, that no create with an unknown
// outcome can account for: a phantom entry.
IdReport unmatched_report(const History& history, const Group& group) {
  IdReport report;
  report.id = std::string(group.id);
  report.verdict = Verdict::kViolation;
  for (const ListView& view : group.views) {
    report.ops.push_back(view.op);
    report.list_views.emplace_back(view.op, view.absent
                                                ? std::string("not listed")
                                                : "listed '" + std::string(view.value) + "'");
  }
  std::sort(report.ops.begin(), report.ops.end(), [&](size_t a, size_t b) {
    return std::tie(history.ops[a].invoke_ns, a) < std::tie(history.ops[b].invoke_ns, b);
  });
  std::sort(report.list_views.begin(), report.list_views.end());
  report.stuck.push_back(report.ops.front());
  report.state_after_prefix = std::string(group.unmatched);
  return report;
}

// Lists (history.h) are checked per id, like everything else: an ok list at [invoke, complete]
// is one read of every id it covers (the ids of its key, or all, after `after` and up to its
// last entry when the page is full), present with the listed value or absent when not listed.
// If the history is linearizable, the list's instant is a valid instant for each of those reads,
// so no linearizable history is rejected; what this misses is a list whose entries are each
// possible but come from different instants.
//
// Ids the history never learnt (creates whose answer was lost) can still show up in a list of a
// key the history wrote: each such id is given the create with an unknown outcome, the same key
// and the listed value that was invoked first before the list completed, as its create; one
// with no such create is a violation (a phantom). Ids with keys the history never wrote come
// from outside it and are ignored. Adds the groups and views; returns the list operations used.
// What the creates and lists of a history say about ids and keys, for project_lists.
struct ListContext {
  std::vector<size_t> lists;  // ok lists, by invocation
  std::unordered_map<std::string_view, std::vector<size_t>> unknown_creates;  // key -> op, by time
  std::unordered_set<std::string_view> keys_written;
  std::map<std::string_view, std::string_view> key_of;  // known id -> key, in id order
  std::unordered_map<std::string_view, std::set<std::string_view>> ids_of;  // key -> ids
};

ListContext list_context(const History& history) {
  ListContext c;
  for (size_t i = 0; i < history.ops.size(); ++i) {
    const HistoryOp& op = history.ops[i];
    if (op.kind == OpKind::kList && op.outcome == Outcome::kOk) c.lists.push_back(i);
    if (op.kind != OpKind::kCreate || op.outcome == Outcome::kFail) continue;
    c.keys_written.insert(op.key);
    if (!op.id.empty()) {
      c.key_of.emplace(op.id, op.key);
      c.ids_of[op.key].insert(op.id);
    } else if (op.outcome == Outcome::kUnknown) {
      c.unknown_creates[op.key].push_back(i);
    }
  }
  const auto by_invoke = [&](size_t a, size_t b) {
    return std::tie(history.ops[a].invoke_ns, a) < std::tie(history.ops[b].invoke_ns, b);
  };
  std::sort(c.lists.begin(), c.lists.end(), by_invoke);
  for (auto& [key, creates] : c.unknown_creates) {
    std::sort(creates.begin(), creates.end(), by_invoke);
  }
  return c;
}

// The id's group in `groups`, added when new.
Group& group_of(std::string_view id, std::unordered_map<std::string_view, size_t>& by_id,
                std::vector<Group>& groups) {
  const auto [it, added] = by_id.emplace(id, groups.size());
  if (added) groups.push_back(Group{id, {}, {}, {}});
  return groups[it->second];
}

// Unlearnt ids (listed, of a key this history wrote, never answered to a create) become known,
// each with the unknown-outcome create that can account for it, or marked unmatched. First, so
// that lists that do not name them still count as reading them.
void adopt_unlearnt_ids(const History& history, ListContext& c,
                        std::unordered_map<std::string_view, size_t>& by_id,
                        std::vector<Group>& groups) {
  std::unordered_set<size_t> creates_used;
  for (const size_t l : c.lists) {
    const HistoryOp& list = history.ops[l];
    for (const ListedEntry& e : list.listed) {
      if (c.key_of.count(e.id) > 0 || c.keys_written.count(e.key) == 0) continue;
      c.key_of.emplace(e.id, e.key);
      c.ids_of[e.key].insert(e.id);
      Group& group = group_of(e.id, by_id, groups);
      const auto candidates = c.unknown_creates.find(e.key);
      bool matched = false;
      if (candidates != c.unknown_creates.end()) {
        for (const size_t create_op : candidates->second) {
          const HistoryOp& create = history.ops[create_op];
          if (create.invoke_ns > list.complete_ns) break;
          if (create.value != e.value || creates_used.count(create_op) > 0) continue;
          creates_used.insert(create_op);
          group.ops.push_back(create_op);
          matched = true;
          break;
        }
      }
      if (!matched) {
        group.unmatched = "never created: no create of key '" + e.key +
                          "' with this value and an unknown outcome was invoked before the list "
                          "completed";
      }
    }
  }
}

// One list's reads of every known id it covers; false when it covers none.
bool add_list_views(const History& history, size_t l, const ListContext& c,
                    std::unordered_map<std::string_view, size_t>& by_id,
                    std::vector<Group>& groups) {
  const HistoryOp& list = history.ops[l];
  const bool full = list.limit > 0 && list.listed.size() >= list.limit;
  // The last id the page covers; with no known limit, only up to what it returned.
  std::string_view last;
  if ((full || list.limit == 0) && !list.listed.empty()) last = list.listed.back().id;
  const bool bounded = full || (list.limit == 0 && !list.listed.empty());
  std::unordered_map<std::string_view, std::string_view> listed;
  for (const ListedEntry& e : list.listed) listed.emplace(e.id, e.value);
  bool counted = false;
  const auto view = [&](std::string_view id) {
    if (bounded && id > last) return false;
    const auto seen = listed.find(id);
    group_of(id, by_id, groups)
        .views.push_back(seen == listed.end() ? ListView{l, true, {}}
                                              : ListView{l, false, seen->second});
    counted = true;
    return true;
  };
  if (list.key.empty()) {
    auto it = list.after.empty() ? c.key_of.begin() : c.key_of.upper_bound(list.after);
    for (; it != c.key_of.end() && view(it->first); ++it) {
    }
  } else if (const auto ids = c.ids_of.find(list.key); ids != c.ids_of.end()) {
    auto it = list.after.empty() ? ids->second.begin() : ids->second.upper_bound(list.after);
    for (; it != ids->second.end() && view(*it); ++it) {
    }
  }
  return counted;
}

size_t project_lists(const History& history, std::unordered_map<std::string_view, size_t>& by_id,
                     std::vector<Group>& groups) {
  ListContext c = list_context(history);
  if (c.lists.empty()) return 0;
  adopt_unlearnt_ids(history, c, by_id, groups);
  size_t used = 0;
  for (const size_t l : c.lists) used += add_list_views(history, l, c, by_id, groups) ? 1 : 0;
  return used;
}

// The operations the checker considers, grouped by id (lists projected onto the ids they
// cover); counts them into `result`.
std::vector<Group> group_by_id(const History& history, CheckResult& result) {
  std::vector<Group> groups;
  std::unordered_map<std::string_view, size_t> by_id;
  by_id.reserve(history.ops.size() / 2 + 1);
  for (size_t i = 0; i < history.ops.size(); ++i) {
    const HistoryOp& op = history.ops[i];
    const bool dropped = op.outcome == Outcome::kFail && !is_absent_write(op);
    if (dropped || op.id.empty() || op.kind == OpKind::kList) continue;
    ++result.ops_checked;
    group_of(op.id, by_id, groups).ops.push_back(i);
  }
  result.ops_checked += project_lists(history, by_id, groups);
  return groups;
}

// One group's report: unmatched, unknown once the deadline passed, else checked.
IdReport check_one(const History& history, const Group& group, Clock::time_point deadline,
                   std::atomic<bool>& expired) {
  if (!group.unmatched.empty()) return unmatched_report(history, group);
  if (expired.load(std::memory_order_relaxed) || Clock::now() >= deadline) {
    expired.store(true);
    IdReport report;
    report.id = std::string(group.id);
    report.ops = group.ops;
    report.verdict = Verdict::kUnknown;
    return report;
  }
  return check_group(history, group, deadline, expired);
}

// Checks every group on `threads` threads; the reports that are not ok, violations first, then
// by size and id.
std::vector<IdReport> check_groups(const History& history, const std::vector<Group>& groups,
                                   Clock::time_point deadline, size_t threads) {
  std::atomic<bool> expired{false};
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::vector<IdReport> failures;
  const auto work = [&] {
    for (;;) {
      const size_t g = next.fetch_add(1);
      if (g >= groups.size()) return;
      IdReport report = check_one(history, groups[g], deadline, expired);
      if (report.verdict != Verdict::kOk) {
        std::lock_guard lock(mutex);
        failures.push_back(std::move(report));
      }
    }
  };
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& thread : pool) thread.join();
  }
  std::sort(failures.begin(), failures.end(), [](const IdReport& a, const IdReport& b) {
    const bool av = a.verdict == Verdict::kViolation;
    const bool bv = b.verdict == Verdict::kViolation;
    if (av != bv) return av;
    if (a.ops.size() != b.ops.size()) return a.ops.size() < b.ops.size();
    return a.id < b.id;
  });
  return failures;
}

}  // namespace

CheckResult check_history(const History& history, const CheckOptions& options) {
  const auto started = Clock::now();
  CheckResult result;
  result.ops = history.ops.size();
  result.faults = history.faults.size();
  const std::vector<Group> groups = group_by_id(history, result);
  result.ids = groups.size();
  const size_t hardware = std::max<size_t>(1, std::thread::hardware_concurrency());
  const size_t threads = std::min(options.threads > 0 ? options.threads : hardware,
                                  std::max<size_t>(1, groups.size()));
  result.failures = check_groups(history, groups, started + options.timeout, threads);
  for (const IdReport& f : result.failures) {
    if (f.verdict == Verdict::kViolation) {
      ++result.ids_violation;
    } else {
      ++result.ids_unknown;
    }
  }
  result.verdict = result.ids_violation > 0 ? Verdict::kViolation
                   : result.ids_unknown > 0 ? Verdict::kUnknown
                                            : Verdict::kOk;
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

std::string describe_check(const History& history, const CheckResult& result) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "checked %zu operations (%zu ok or unknown on %zu ids, %zu faults) in %.3f s\n",
                result.ops, result.ops_checked, result.ids, result.faults, result.seconds);
  out += line;
  switch (result.verdict) {
    case Verdict::kOk: out += "verdict: linearizable\n"; return out;
    case Verdict::kUnknown:
      std::snprintf(line, sizeof line,
                    "verdict: unknown: the search of %zu of %zu ids did not finish in time "
                    "(raise --timeout)\n",
                    result.ids_unknown, result.ids);
      out += line;
      return out;
    case Verdict::kViolation: break;
  }
  std::snprintf(line, sizeof line, "verdict: NOT linearizable: %zu of %zu ids violate%s\n",
                result.ids_violation, result.ids,
                result.ids_unknown > 0 ? " (and some were not finished in time)" : "");
  out += line;
  const IdReport& f = result.failures.front();
  out += "smallest failing id " + f.id + " (" + std::to_string(f.ops.size()) + " operations):\n";
  out += "    #  line  client  invoke_ms      complete_ms    outcome  status  operation\n";
  std::unordered_map<size_t, size_t> number;
  for (size_t n = 0; n < f.ops.size(); ++n) {
    const HistoryOp& op = history.ops[f.ops[n]];
    number[f.ops[n]] = n + 1;
    std::snprintf(line, sizeof line, "  %3zu  %4zu  %6" PRIu64 "  %-13s  %-13s  %-7s  %6d  ", n + 1,
                  op.line, op.client, ms(op.invoke_ns).c_str(), ms(op.complete_ns).c_str(),
                  to_string(op.outcome), op.status);
    out += line + op_summary(op, view_text(f, f.ops[n])) + "\n";
  }
  out += "  longest linearizable prefix (" + std::to_string(f.prefix.size()) + " of " +
         std::to_string(f.ops.size()) + "):";
  if (f.prefix.empty()) out += " none";
  for (const size_t p : f.prefix) out += " #" + std::to_string(number[p]);
  out += "\n  state after it: " + f.state_after_prefix + "\n";
  out += "  cannot be appended (could be next in real time, but contradict the state):";
  for (const size_t s : f.stuck) out += " #" + std::to_string(number[s]);
  out += "\n";
  if (result.ids_violation > 1) {
    out += "other failing ids:";
    size_t shown = 0;
    for (size_t i = 1; i < result.failures.size() && shown < 10; ++i) {
      if (result.failures[i].verdict != Verdict::kViolation) continue;
      out += " " + result.failures[i].id;
      ++shown;
    }
    if (result.ids_violation - 1 > shown) {
      out += " (and " + std::to_string(result.ids_violation - 1 - shown) + " more)";
    }
    out += "\n";
  }
  return out;
}

std::string check_json(const History& history, const CheckResult& result) {
  Json j = {{"verdict", to_string(result.verdict)},
            {"linearizable", result.verdict == Verdict::kOk},
            {"ops", result.ops},
            {"ops_checked", result.ops_checked},
            {"ids", result.ids},
            {"ids_violation", result.ids_violation},
            {"ids_unknown", result.ids_unknown},
            {"faults", result.faults},
            {"seconds", result.seconds}};
  if (result.verdict == Verdict::kViolation) {
    const IdReport& f = result.failures.front();
    std::unordered_map<size_t, size_t> number;
    Json ops = Json::array();
    for (size_t n = 0; n < f.ops.size(); ++n) {
      number[f.ops[n]] = n + 1;
      ops.push_back(op_json(history.ops[f.ops[n]], n + 1, view_text(f, f.ops[n])));
    }
    Json prefix = Json::array();
    for (const size_t p : f.prefix) prefix.push_back(number[p]);
    Json stuck = Json::array();
    for (const size_t s : f.stuck) stuck.push_back(number[s]);
    j["failing_id"] = {{"id", f.id},
                       {"ops", ops},
                       {"longest_prefix", prefix},
                       {"state_after_prefix", f.state_after_prefix},
                       {"cannot_append", stuck}};
    Json ids = Json::array();
    for (const IdReport& r : result.failures) {
      if (r.verdict == Verdict::kViolation && ids.size() < 100) ids.push_back(r.id);
    }
    j["failing_ids"] = ids;
  }
  return j.dump(2);
}

}  // namespace bombarder
