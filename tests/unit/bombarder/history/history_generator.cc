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

// The simulation: every step, one random client invokes, linearizes or completes an operation.
// The order of the random draws is part of a seed's meaning: keep it when changing this.
class Generator {
 public:
  explicit Generator(const GeneratorOptions& options)
      : options_(options), rng_(options.seed), clients_(std::max<size_t>(1, options.clients)) {
    history_.ops.reserve(options.ops);
  }

  History run() {
    while (history_.ops.size() < options_.ops || pending_ > 0) {
      now_ += 1 + static_cast<int64_t>(below(10));
      auto& slot = clients_[below(clients_.size())];
      if (!slot) {
        if (history_.ops.size() >= options_.ops) continue;
        slot = invoke(static_cast<size_t>(&slot - clients_.data()));
        ++pending_;
      } else if (!slot->linearized) {
        // The linearization point: now, strictly after the invocation.
        slot->linearized = true;
        if (slot->applies) linearize(history_.ops[slot->op]);
      } else {
        complete(history_.ops[slot->op]);  // strictly after the linearization point
        slot.reset();
        --pending_;
      }
    }
    return std::move(history_);
  }

 private:
  bool chance(double pct) { return std::uniform_real_distribution<double>(0, 100)(rng_) < pct; }
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  Pending invoke(size_t client) {
    HistoryOp op;
    op.client = client;
    op.invoke_ns = now_;
    op.status = 200;
    op.attempts = 1;
    const size_t roll = below(100);
    op.kind = !known_.empty() && chance(options_.list_pct) ? OpKind::kList
              : known_.empty() || roll < 30                ? OpKind::kCreate
              : roll < 70                                  ? OpKind::kRead
              : roll < 90                                  ? OpKind::kUpdate
                                                           : OpKind::kDelete;
    if (op.kind != OpKind::kCreate) {
      const size_t span =
          options_.hot_ids == 0 ? known_.size() : std::min(options_.hot_ids, known_.size());
      op.id = known_[known_.size() - 1 - below(span)];
    }
    if (op.kind == OpKind::kList) choose_list(op);
    if (op.kind == OpKind::kCreate || op.kind == OpKind::kUpdate) {
      op.value = std::string(1, 'v').append(std::to_string(history_.ops.size()));
    }
    if (op.kind == OpKind::kCreate) {
      op.key = std::string(1, 'k').append(std::to_string(history_.ops.size()));
    }
    Pending p;
    p.op = history_.ops.size();
    if (op.kind != OpKind::kRead && op.kind != OpKind::kList && chance(options_.unknown_pct)) {
      op.outcome = Outcome::kUnknown;
      op.status = 504;
      p.applies = chance(50);
    }
    history_.ops.push_back(std::move(op));
    return p;
  }

  // A list: one in four a page of every key, else a lookup of the picked id's key.
  void choose_list(HistoryOp& op) {
    if (below(4) == 0) {
      op.limit = 5;
      if (below(2) == 0) op.after = known_[below(known_.size())];
    } else {
      op.key = key_of_.at(op.id);
      op.limit = 10;
    }
    op.id.clear();
  }

  void linearize(HistoryOp& op) {
    switch (op.kind) {
      case OpKind::kCreate:
        op.id = std::string("id-").append(std::to_string(next_id_++));
        model_[op.id] = op.value;
        key_of_[op.id] = op.key;
        break;
      case OpKind::kList: {
        auto it = op.after.empty() ? key_of_.begin() : key_of_.upper_bound(op.after);
        for (; it != key_of_.end() && op.listed.size() < op.limit; ++it) {
          const auto& value = model_[it->first];
          if (value && (op.key.empty() || op.key == it->second)) {
            op.listed.push_back({it->first, it->second, *value});
          }
        }
        break;
      }
      case OpKind::kRead: {
        const auto& value = model_[op.id];
        op.read_absent = !value.has_value();
        if (value) op.read_value = *value;
        if (op.read_absent) op.status = 404;
        break;
      }
      case OpKind::kUpdate:
      case OpKind::kDelete: write(op); break;
    }
  }

  void write(HistoryOp& op) {
    auto& value = model_[op.id];
    if (!value) {
      if (op.outcome == Outcome::kOk) {
        op.outcome = Outcome::kFail;  // 404: not applied
        op.status = 404;
      }
      return;
    }
    if (op.kind == OpKind::kUpdate) {
      value = op.value;
    } else {
      value.reset();
    }
  }

  void complete(HistoryOp& op) {
    op.complete_ns = now_;
    if (op.kind != OpKind::kCreate) return;
    if (op.outcome == Outcome::kOk) {
      known_.push_back(op.id);
    } else {
      op.id.clear();  // an unknown create's id is not known
    }
  }

  const GeneratorOptions& options_;
  std::mt19937_64 rng_;
  History history_;
  std::unordered_map<std::string, std::optional<std::string>>
      model_;                                  // id -> value (nullopt: deleted)
  std::vector<std::string> known_;             // ids whose create completed ok
  std::map<std::string, std::string> key_of_;  // every applied create's id -> key, in id order
  std::vector<std::optional<Pending>> clients_;
  size_t pending_ = 0;
  size_t next_id_ = 0;
  int64_t now_ = 0;
};

}  // namespace

History generate_linearizable_history(const GeneratorOptions& options) {
  return Generator(options).run();
}

}  // namespace bombarder
