#include "history/history_generator.h"

#include <map>
#include <optional>
#include <random>
#include <unordered_map>

namespace bombarder {

namespace {

struct Pending {
  size_t op = 0;  // index into History::ops
  bool linearized = false;
  bool applies = true;  // an unknown write: whether it takes effect
};

}  // namespace

History generate_linearizable_history(const GeneratorOptions& options) {
  std::mt19937_64 rng(options.seed);
  const auto chance = [&](double pct) {
    return std::uniform_real_distribution<double>(0, 100)(rng) < pct;
  };
  const auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  History history;
  history.ops.reserve(options.ops);
  std::unordered_map<std::string, std::optional<std::string>>
      model;                                  // id -> value (nullopt: deleted)
  std::vector<std::string> known;             // ids whose create completed ok
  std::map<std::string, std::string> key_of;  // every applied create's id -> key, in id order
  std::vector<std::optional<Pending>> clients(std::max<size_t>(1, options.clients));
  size_t pending = 0;
  size_t next_id = 0;
  int64_t now = 0;
  while (history.ops.size() < options.ops || pending > 0) {
    now += 1 + static_cast<int64_t>(below(10));
    const size_t c = below(clients.size());
    auto& slot = clients[c];
    if (!slot) {
      if (history.ops.size() >= options.ops) continue;
      HistoryOp op;
      op.client = c;
      op.invoke_ns = now;
      op.status = 200;
      op.attempts = 1;
      const size_t roll = below(100);
      op.kind = !known.empty() && chance(options.list_pct) ? OpKind::kList
                : known.empty() || roll < 30               ? OpKind::kCreate
                : roll < 70                                ? OpKind::kRead
                : roll < 90                                ? OpKind::kUpdate
                                                           : OpKind::kDelete;
      if (op.kind != OpKind::kCreate) {
        const size_t span =
            options.hot_ids == 0 ? known.size() : std::min(options.hot_ids, known.size());
        op.id = known[known.size() - 1 - below(span)];
      }
      if (op.kind == OpKind::kList) {
        if (below(4) == 0) {
          op.limit = 5;
          if (below(2) == 0) op.after = known[below(known.size())];
        } else {
          op.key = key_of.at(op.id);
          op.limit = 10;
        }
        op.id.clear();
      }
      if (op.kind == OpKind::kCreate || op.kind == OpKind::kUpdate) {
        op.value = std::string(1, 'v').append(std::to_string(history.ops.size()));
      }
      if (op.kind == OpKind::kCreate)
        op.key = std::string(1, 'k').append(std::to_string(history.ops.size()));
      Pending p;
      p.op = history.ops.size();
      if (op.kind != OpKind::kRead && op.kind != OpKind::kList && chance(options.unknown_pct)) {
        op.outcome = Outcome::kUnknown;
        op.status = 504;
        p.applies = chance(50);
      }
      history.ops.push_back(std::move(op));
      slot = p;
      ++pending;
      continue;
    }
    HistoryOp& op = history.ops[slot->op];
    if (!slot->linearized) {
      // The linearization point: now, strictly after the invocation.
      slot->linearized = true;
      if (!slot->applies) continue;
      switch (op.kind) {
        case OpKind::kCreate:
          op.id = std::string("id-").append(std::to_string(next_id++));
          model[op.id] = op.value;
          key_of[op.id] = op.key;
          break;
        case OpKind::kList: {
          auto it = op.after.empty() ? key_of.begin() : key_of.upper_bound(op.after);
          for (; it != key_of.end() && op.listed.size() < op.limit; ++it) {
            const auto& value = model[it->first];
            if (value && (op.key.empty() || op.key == it->second)) {
              op.listed.push_back({it->first, it->second, *value});
            }
          }
          break;
        }
        case OpKind::kRead: {
          const auto& value = model[op.id];
          op.read_absent = !value.has_value();
          if (value) op.read_value = *value;
          if (op.read_absent) op.status = 404;
          break;
        }
        case OpKind::kUpdate:
        case OpKind::kDelete: {
          auto& value = model[op.id];
          if (!value) {
            if (op.outcome == Outcome::kOk) {
              op.outcome = Outcome::kFail;  // 404: not applied
              op.status = 404;
            }
            break;
          }
          if (op.kind == OpKind::kUpdate) {
            value = op.value;
          } else {
            value.reset();
          }
          break;
        }
      }
      continue;
    }
    // The completion, strictly after the linearization point.
    op.complete_ns = now;
    if (op.kind == OpKind::kCreate) {
      if (op.outcome == Outcome::kOk) {
        known.push_back(op.id);
      } else {
        op.id.clear();  // an unknown create's id is not known
      }
    }
    slot.reset();
    --pending;
  }
  return history;
}

}  // namespace bombarder
