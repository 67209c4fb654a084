#include "bombarder/load/load_engine.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/client/store_adapter.h"
#include "bombarder/history/history.h"
#include "bombarder/load/load_connection.h"
#include "bombarder/load/load_metrics.h"
#include "common/asio.h"

namespace bombarder {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using namespace std::chrono_literals;

const char* to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::kUnavailable: return "unavailable";
    case FailureKind::kConnection: return "connection";
    case FailureKind::kOutcomeUnknown: return "outcome_unknown";
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kNotFound: return "not_found";
    case FailureKind::kClientError: return "client_error";
    case FailureKind::kServerError: return "server_error";
    case FailureKind::kBadResponse: return "bad_response";
    case FailureKind::kWrongValue: return "wrong_value";
  }
  return "?";
}

OpMix OpMix::storm(uint32_t read_pct) {
  const uint32_t writes = 100 - std::min<uint32_t>(read_pct, 100);
  OpMix mix;
  // Weights in tenths of a percent: 60/30/10 of the writes.
  mix.weight = {writes * 6, read_pct * 10, writes * 3, writes * 1, 0};
  return mix;
}

OpMix OpMix::mixed() {
  OpMix mix;
  mix.weight = {40, 30, 20, 10, 0};
  return mix;
}

OpMix OpMix::with_lists(uint32_t list_pct) const {
  list_pct = std::min<uint32_t>(list_pct, 100);
  uint64_t others = 0;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    if (k != static_cast<size_t>(OpKind::kList)) others += weight[k];
  }
  OpMix mix;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    mix.weight[k] = k == static_cast<size_t>(OpKind::kList)
                        ? static_cast<uint32_t>(others * list_pct)
                        : weight[k] * (100 - list_pct);
  }
  return mix;
}

double LoadResult::throughput() const {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? static_cast<double>(succeeded) / seconds : 0.0;
}

double LoadResult::success_pct() const {
  return requests == 0 ? 100.0 : 100.0 * static_cast<double>(succeeded) / requests;
}

namespace {

// State every shard shares: the request budget, the clock, the CSV file.
struct RunShared {
  explicit RunShared(const LoadSpec& s) : spec(s) {}
  const LoadSpec& spec;
  std::atomic<uint64_t> issued{0};
  std::atomic<bool> stopping{false};
  Clock::time_point started = Clock::now();
  Clock::time_point ends;  // duration mode
  std::chrono::system_clock::time_point wall_started = std::chrono::system_clock::now();
  std::mutex csv_mutex;
  std::FILE* csv = nullptr;
  std::mutex done_mutex;
  std::condition_variable done_cv;
  std::atomic<size_t> shards_running{0};
  std::vector<std::shared_ptr<CircuitBreaker>> breakers;  // by node; empty: no breakers

  // Takes one request from the budget; false when the run is over.
  bool claim() {
    if (stopping.load(std::memory_order_relaxed)) return false;
    if (spec.count > 0) return issued.fetch_add(1, std::memory_order_relaxed) < spec.count;
    return Clock::now() < ends;
  }
};

class Shard {
 public:
  Shard(RunShared& shared, size_t index, size_t workers,
        const std::vector<asio::ip::tcp::endpoint>& addresses)
      : shared_(shared),
        spec_(shared.spec),
        index_(index),
        addresses_(addresses),
        rng_(std::random_device{}() ^ (index * 0x9e3779b97f4a7c15ULL)),
        preferred_(spec_.leader),
        store_(spec_.store ? *spec_.store : stress_node_adapter()) {
    workers_.reserve(workers);
    const uint64_t first_client =
        spec_.history != nullptr ? spec_.history->allocate_clients(workers) : 0;
    for (size_t i = 0; i < workers; ++i) {
      workers_.push_back(std::make_unique<Worker>(io_));
      workers_.back()->connections.resize(spec_.nodes.size());
      workers_.back()->client = first_client + i;
    }
    for (const common::Endpoint& node : spec_.nodes) host_fields_.push_back(node.to_string());
    if (spec_.metrics != nullptr) {
      metrics_slot_ = &spec_.metrics->slot(index);
      for (const common::Endpoint& node : spec_.nodes) {
        node_metrics_.push_back(&spec_.metrics->node(node));
      }
    }
    for (uint32_t w : spec_.mix.weight) mix_total_ += w;
    needs_ids_ = mix_total_ > spec_.mix.weight[static_cast<size_t>(OpKind::kCreate)];
  }

  void run() {
    auto guard = asio::make_work_guard(io_);
    guard_ = &guard;
    for (auto& worker : workers_) {
      asio::post(io_, [this, w = worker.get()] { next(*w); });
    }
    if (workers_.empty()) finish_if_idle();
    io_.run();
    guard_ = nullptr;
  }

  LoadResult& result() { return result_; }
  std::atomic<uint64_t> completed{0}, succeeded{0}, failed{0}, retries{0};

 private:
  struct Op {
    OpKind kind = OpKind::kCreate;
    std::string id;
    std::string key;
    std::string value;
    std::string idempotency_key;
    Clock::time_point started;
    Clock::time_point deadline;
    uint32_t attempts = 0;
    size_t node = 0;
    bool maybe_applied = false;  // an attempt may have reached the log (504, timeout, reset)
    int last_status = 0;
    std::string last_problem;  // "503 no_leader", "connection refused", ...
    FailureKind transient_kind = FailureKind::kConnection;
    std::string read_value;  // what an answered read returned (history)
    bool answered = false;   // a 2xx arrived (a list that then fails a check still observed)
    std::vector<ListedEntry> listed;  // what an answered list returned (history)
  };
  struct Worker {
    explicit Worker(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    uint64_t client = 0;  // history client id
    Op op;
    std::string wire;  // the request being sent, preformatted
    std::vector<std::unique_ptr<LoadConnection>> connections;  // by node, opened on first use
  };

  static bool is_write(OpKind kind) { return kind != OpKind::kRead && kind != OpKind::kList; }

  OpKind pick_kind() {
    if (mix_total_ == 0) return OpKind::kCreate;
    uint64_t roll = std::uniform_int_distribution<uint64_t>(0, mix_total_ - 1)(rng_);
    for (size_t k = 0; k < kOpKindCount; ++k) {
      if (roll < spec_.mix.weight[k]) return static_cast<OpKind>(k);
      roll -= spec_.mix.weight[k];
    }
    return OpKind::kCreate;
  }

  // Checks an id out of the shard's pool: no other worker touches it until it is returned.
  std::optional<std::string> checkout_id() {
    if (ids_.empty()) return std::nullopt;
    const size_t at = std::uniform_int_distribution<size_t>(0, ids_.size() - 1)(rng_);
    std::swap(ids_[at], ids_.back());
    std::string id = std::move(ids_.back());
    ids_.pop_back();
    return id;
  }

  std::string make_value(uint64_t sequence) {
    std::string value = "v" + std::to_string(index_) + "-" + std::to_string(sequence) + "-";
    if (value.size() < spec_.value_bytes) value.resize(spec_.value_bytes, 'x');
    return value;
  }

  void next(Worker& w) {
    if (!shared_.claim()) return worker_done();
    Op& op = w.op;
    op = Op{};
    const uint64_t sequence = ++sequence_;
    op.kind = pick_kind();
    if (op.kind != OpKind::kCreate) {
      if (auto id = checkout_id()) {
        op.id = std::move(*id);
      } else {
        op.kind = OpKind::kCreate;  // nothing to read/update/delete yet
      }
    }
    const std::string tag = std::to_string(index_) + "-" + std::to_string(sequence);
    if (op.kind == OpKind::kCreate) op.key = spec_.key_prefix + "-" + tag;
    if (op.kind == OpKind::kList) op.key = result_.acked[op.id].key;
    if (op.kind == OpKind::kCreate || op.kind == OpKind::kUpdate) op.value = make_value(sequence);
    if (is_write(op.kind)) op.idempotency_key = spec_.idempotency_prefix + tag;
    op.started = Clock::now();
    op.deadline = op.started + spec_.deadline;
    attempt(w);
  }

  // Whether this operation goes to the leader (and moves preferred_ when it finds none there).
  bool follows_leader(const Op& op) const {
    return spec_.targeting == Targeting::kLeader ||
           (spec_.targeting == Targeting::kLeaderWritesFollowerReads && is_write(op.kind));
  }

  size_t first_choice(const Op& op) {
    const size_t n = spec_.nodes.size();
    if (follows_leader(op)) return preferred_ % n;
    if (n == 1) return 0;
    if (spec_.targeting == Targeting::kLeaderWritesFollowerReads) {
      const size_t leader = preferred_ % n;
      const size_t other = std::uniform_int_distribution<size_t>(0, n - 2)(rng_);
      return other >= leader ? other + 1 : other;
    }
    if (op.attempts == 0) return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
    // A retry goes to another node than the last one.
    const size_t shift = std::uniform_int_distribution<size_t>(1, n - 1)(rng_);
    return (op.node + shift) % n;
  }

  // The node for the next attempt: the first choice, or with breakers the first node after it
  // whose breaker allows an attempt; nullopt when none does.
  std::optional<size_t> choose_node(const Op& op) {
    const size_t first = first_choice(op);
    if (shared_.breakers.empty()) return first;
    const auto now = Clock::now();
    const size_t n = spec_.nodes.size();
    for (size_t i = 0; i < n; ++i) {
      const size_t node = (first + i) % n;
      if (shared_.breakers[node]->allow(now)) return node;
    }
    return std::nullopt;
  }

  void attempt(Worker& w) {
    Op& op = w.op;
    const auto node = choose_node(op);
    if (!node) {
      op.last_status = 0;
      op.last_problem = "every node's circuit breaker is open";
      op.transient_kind = FailureKind::kUnavailable;
      return retry_or_fail(w);
    }
    op.node = *node;
    w.wire.clear();
    store_.format_request(request_of(op), host_fields_[op.node], w.wire);
    ++op.attempts;
    ++result_.attempts;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(op.deadline - Clock::now());
    const auto timeout = std::clamp(left, std::chrono::milliseconds(1), spec_.attempt_timeout);
    auto& connection = w.connections[op.node];
    if (!connection) {
      connection = std::make_unique<LoadConnection>(
          io_, addresses_[op.node],
          node_metrics_.empty() ? nullptr : &node_metrics_[op.node]->connections, spec_.tls,
          spec_.nodes[op.node].host, store_.wire_framing());
    }
    connection->send(w.wire, timeout,
                     [this, &w](boost::system::error_code ec, LoadConnection::Response& response) {
                       on_answer(w, ec, response);
                     });
  }

  void on_answer(Worker& w, boost::system::error_code ec, LoadConnection::Response& response) {
    Op& op = w.op;
    const int answered =
        ec ? 0 : store_.answer_status(static_cast<int>(response.result_int()), response.body());
    ++result_.responses[answered];
    // What a breaker counts as the node failing: no answer, or a 5xx.
    const bool node_failed = ec || answered >= 500;
    if (!shared_.breakers.empty()) {
      CircuitBreaker& breaker = *shared_.breakers[op.node];
      if (node_failed) {
        breaker.on_failure(Clock::now());
      } else {
        breaker.on_success();
      }
    }
    if (metrics_slot_ != nullptr) {
      metrics_slot_->answered(answered);
      LoadMetrics::Node& node = *node_metrics_[op.node];
      node.attempts.fetch_add(1, std::memory_order_relaxed);
      if (node_failed) node.attempt_failures.fetch_add(1, std::memory_order_relaxed);
    }
    if (ec) {
      op.last_status = 0;
      const StoreAnswer answer =
          classify_transport(ec == asio::error::connection_refused, ec.message());
      op.last_problem = answer.problem;
      if (answer.answer == AnswerClass::kMaybeApplied && is_write(op.kind)) op.maybe_applied = true;
      op.transient_kind =
          ec == asio::error::timed_out ? FailureKind::kTimeout : FailureKind::kConnection;
      if (follows_leader(op)) leader_lost(op.node);
      return retry_or_fail(w);
    }
    op.last_status = answered;
    on_store_answer(w, store_.classify(request_of(op), op.last_status, response.body()));
  }

  // What the store's answer means for the operation: done, failed, or another attempt.
  void on_store_answer(Worker& w, StoreAnswer answer) {
    Op& op = w.op;
    // A 2xx arrived, even if its body then fails a check (a list that does still observed).
    if (op.last_status >= 200 && op.last_status < 300) op.answered = true;
    if (answer.answer == AnswerClass::kOk) return on_success(w, std::move(answer));
    op.last_problem = std::move(answer.problem);
    switch (answer.answer) {
      case AnswerClass::kUnavailable:
        op.transient_kind = FailureKind::kUnavailable;
        if (follows_leader(op)) follow_leader_hint(answer.leader_hint);
        return retry_or_fail(w);
      case AnswerClass::kMaybeApplied:
        if (is_write(op.kind)) op.maybe_applied = true;
        op.transient_kind = FailureKind::kTimeout;
        return retry_or_fail(w);
      case AnswerClass::kOutcomeUnknown:
        op.maybe_applied = true;
        return fail(w, FailureKind::kOutcomeUnknown);
      case AnswerClass::kAbsent: return fail(w, FailureKind::kNotFound);
      case AnswerClass::kExists:
      case AnswerClass::kClientError: return fail(w, FailureKind::kClientError);
      case AnswerClass::kBadResponse: return fail(w, FailureKind::kBadResponse);
      case AnswerClass::kOk:
      case AnswerClass::kServerError: break;
    }
    return fail(w, FailureKind::kServerError);
  }

  StoreRequest request_of(const Op& op) const {
    StoreRequest r;
    r.kind = op.kind;
    r.id = op.id;
    r.key = op.key;
    r.value = op.value;
    r.idempotency_key = op.idempotency_key;
    r.limit = kListLimit;
    r.maybe_applied = op.maybe_applied;
    return r;
  }

  // A 503 names the leader when the node knows it: send the next requests there.
  void follow_leader_hint(const std::string& leader) {
    for (size_t i = 0; i < spec_.nodes.size() && !leader.empty(); ++i) {
      if (spec_.nodes[i].to_string() == leader) {
        preferred_ = i;
        return;
      }
    }
    leader_lost(preferred_);
  }

  // The leader-bound attempt at `node` found no leader there: the next ones go where the store
  // says the leader is (LoadSpec::leader_now), else to the next node.
  void leader_lost(size_t node) {
    if (spec_.leader_now) {
      if (const std::optional<size_t> now = spec_.leader_now(); now && *now < spec_.nodes.size()) {
        preferred_ = *now;
        return;
      }
    }
    preferred_ = node + 1;
  }

  std::chrono::milliseconds backoff(uint32_t attempts) {
    attempts = std::max<uint32_t>(attempts, 1);  // 0 when every breaker refused the first one
    const int64_t base =
        std::min<int64_t>(int64_t{20} << std::min<uint32_t>(attempts - 1, 6), 1000);
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(base / 2, base)(rng_));
  }

  void retry_or_fail(Worker& w) {
    Op& op = w.op;
    const auto delay = backoff(op.attempts);
    if (Clock::now() + delay >= op.deadline) {
      if (is_write(op.kind) && op.maybe_applied) return fail(w, FailureKind::kOutcomeUnknown);
      return fail(w, op.transient_kind);
    }
    ++result_.retries;
    retries.fetch_add(1, std::memory_order_relaxed);
    if (metrics_slot_ != nullptr) metrics_slot_->retried();
    w.timer.expires_after(delay);
    w.timer.async_wait([this, &w](boost::system::error_code) { attempt(w); });
  }

  void on_success(Worker& w, StoreAnswer answer) {
    Op& op = w.op;
    switch (op.kind) {
      case OpKind::kCreate: {
        std::string& id = answer.id;
        result_.acked[id] = AckedWrite{op.key, op.value, false, false, {}, false};
        if (spec_.history != nullptr) op.id = id;
        if (needs_ids_) ids_.push_back(std::move(id));
        break;
      }
      case OpKind::kRead: {
        const auto known = result_.acked.find(op.id);
        if (spec_.history != nullptr) op.read_value = answer.value;
        if (known != result_.acked.end() && answer.value != known->second.value) {
          op.last_problem = "read of " + op.id + " returned '" + answer.value.substr(0, 40) +
                            "', last acknowledged '" + known->second.value.substr(0, 40) + "'";
          return fail(w, FailureKind::kWrongValue);
        }
        ids_.push_back(op.id);
        break;
      }
      case OpKind::kUpdate:
        result_.acked[op.id].value = op.value;
        ids_.push_back(op.id);
        break;
      case OpKind::kDelete: result_.acked[op.id].deleted = true; break;
      case OpKind::kList:
        op.listed = std::move(answer.listed);
        if (auto failure = check_list(op)) return fail(w, *failure);
        ids_.push_back(op.id);
        break;
    }
    finish(w, std::nullopt);
  }

  // The id a key lookup was chosen for (the key is that create's and unique to it) must be
  // listed with its last acknowledged value, unless the last write on it had an unknown outcome.
  std::optional<FailureKind> check_list(Op& op) {
    const ListedEntry* mine = nullptr;
    for (const ListedEntry& e : op.listed) {
      if (e.id == op.id) mine = &e;
    }
    const AckedWrite& known = result_.acked[op.id];
    if (known.uncertain) return std::nullopt;
    if (mine == nullptr) {
      op.last_problem = "list of key " + op.key + " did not return " + op.id;
      return FailureKind::kNotFound;
    }
    if (mine->value != known.value) {
      op.last_problem = "list of key " + op.key + " returned '" + mine->value.substr(0, 40) +
                        "' for " + op.id + ", last acknowledged '" + known.value.substr(0, 40) +
                        "'";
      return FailureKind::kWrongValue;
    }
    return std::nullopt;
  }

  void fail(Worker& w, FailureKind kind) {
    Op& op = w.op;
    if (kind == FailureKind::kOutcomeUnknown) {
      if (op.kind == OpKind::kCreate) {
        ++result_.creates_unknown;
      } else {
        AckedWrite& state = result_.acked[op.id];
        state.uncertain = true;
        state.uncertain_value = op.value;
        state.uncertain_delete = op.kind == OpKind::kDelete;
      }
    } else if (op.kind != OpKind::kCreate && kind != FailureKind::kNotFound &&
               (op.kind == OpKind::kRead || !op.maybe_applied)) {
      ids_.push_back(op.id);  // nothing changed: the id stays usable
    }
    ++result_.failures[static_cast<size_t>(kind)];
    std::string& example = result_.failure_examples[static_cast<size_t>(kind)];
    if (example.empty()) {
      example = std::string(to_string(op.kind)) + " on " + spec_.nodes[op.node].to_string() + ": " +
                op.last_problem;
    }
    finish(w, kind);
  }

  void finish(Worker& w, std::optional<FailureKind> failure) {
    const Op& op = w.op;
    const auto now = Clock::now();
    const auto latency_us = static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(now - op.started).count()));
    OpStats& stats = result_.ops[static_cast<size_t>(op.kind)];
    stats.latency.record(latency_us);
    result_.latency.record(latency_us);
    ++result_.requests;
    if (failure) {
      ++stats.failed;
      ++result_.failed;
      failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++stats.succeeded;
      ++result_.succeeded;
      succeeded.fetch_add(1, std::memory_order_relaxed);
    }
    completed.fetch_add(1, std::memory_order_relaxed);
    if (metrics_slot_ != nullptr) metrics_slot_->completed(op.kind, failure, latency_us);
    if (shared_.csv != nullptr) write_csv_row(op, failure, latency_us);
    if (spec_.history != nullptr) record_history(w, failure, now);
    next(w);
  }

  // The history's outcome rule (docs/history.md): ok when the node answered 2xx (a read's 404
  // and a read that returned another value than expected are observations, hence ok too);
  // a write that did not succeed is unknown when an attempt may have reached the log or the
  // answer was a 5xx other than 503 or a 2xx we could not read, else failed (not applied).
  void record_history(const Worker& w, std::optional<FailureKind> failure, Clock::time_point now) {
    const Op& op = w.op;
    HistoryOp h;
    h.client = w.client;
    h.kind = op.kind;
    h.id = op.id;
    h.key = op.key;
    h.value = op.value;
    h.invoke_ns = spec_.history->ns_since_origin(op.started);
    h.complete_ns = spec_.history->ns_since_origin(now);
    h.status = op.last_status;
    h.attempts = op.attempts;
    if (op.kind == OpKind::kList) {
      // A list is about no one id: the checker projects what it returned onto every id it covers.
      h.id.clear();
      h.limit = kListLimit;
      h.outcome = op.answered ? Outcome::kOk : Outcome::kFail;
      if (op.answered) h.listed = op.listed;
    } else if (!failure || *failure == FailureKind::kWrongValue) {
      h.outcome = Outcome::kOk;
      h.read_value = op.read_value;
    } else if (op.kind == OpKind::kRead && *failure == FailureKind::kNotFound) {
      h.outcome = Outcome::kOk;
      h.read_absent = true;
    } else if (is_write(op.kind) &&
               (op.maybe_applied || *failure == FailureKind::kOutcomeUnknown ||
                *failure == FailureKind::kServerError || *failure == FailureKind::kBadResponse)) {
      h.outcome = Outcome::kUnknown;
    } else {
      h.outcome = Outcome::kFail;
    }
    if (op.kind == OpKind::kCreate && h.outcome != Outcome::kOk) h.id.clear();
    if (h.outcome != Outcome::kOk) h.error = op.last_problem;
    append_history_line(history_buffer_, h);
    if (history_buffer_.size() >= (256 << 10)) flush_history();
  }

  void flush_history() {
    if (spec_.history == nullptr || history_buffer_.empty()) return;
    spec_.history->write(history_buffer_);
    history_buffer_.clear();
  }

  void write_csv_row(const Op& op, std::optional<FailureKind> failure, uint64_t latency_us) {
    const auto since =
        std::chrono::duration_cast<std::chrono::microseconds>(op.started - shared_.started);
    const double wall =
        std::chrono::duration<double>(shared_.wall_started.time_since_epoch()).count() +
        static_cast<double>(since.count()) / 1e6;
    char row[256];
    const int n = std::snprintf(row, sizeof row, "%.6f,%s,%s,%d,%.3f,%u,%s\n", wall,
                                spec_.nodes[op.node].to_string().c_str(), to_string(op.kind),
                                op.last_status, static_cast<double>(latency_us) / 1000.0,
                                op.attempts, failure ? to_string(*failure) : "ok");
    if (n > 0) csv_buffer_.append(row, std::min<size_t>(static_cast<size_t>(n), sizeof row - 1));
    if (csv_buffer_.size() >= (64 << 10)) flush_csv();
  }

  void flush_csv() {
    if (csv_buffer_.empty() || shared_.csv == nullptr) return;
    std::lock_guard lock(shared_.csv_mutex);
    std::fwrite(csv_buffer_.data(), 1, csv_buffer_.size(), shared_.csv);
    csv_buffer_.clear();
  }

  void worker_done() {
    ++workers_done_;
    finish_if_idle();
  }

  void finish_if_idle() {
    if (workers_done_ < workers_.size()) return;
    flush_csv();
    flush_history();
    for (auto& worker : workers_) {
      for (auto& connection : worker->connections) {
        if (connection) connection->close();
      }
    }
    if (guard_ != nullptr) guard_->reset();
    {
      std::lock_guard lock(shared_.done_mutex);
      shared_.shards_running.fetch_sub(1);
    }
    shared_.done_cv.notify_all();
  }

  RunShared& shared_;
  const LoadSpec& spec_;
  size_t index_;
  asio::io_context io_;
  const std::vector<asio::ip::tcp::endpoint>& addresses_;  // of spec_.nodes, resolved once
  std::vector<std::string> host_fields_;                   // Host: header per node
  std::mt19937_64 rng_;
  size_t preferred_;
  const StoreAdapter& store_;
  uint64_t mix_total_ = 0;
  bool needs_ids_ = false;  // the mix has reads, updates or deletes: keep created ids at hand
  uint64_t sequence_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t workers_done_ = 0;
  std::vector<std::string> ids_;  // ids this shard created and nobody is using right now
  std::string csv_buffer_;
  std::string history_buffer_;
  asio::executor_work_guard<asio::io_context::executor_type>* guard_ = nullptr;
  LoadResult result_;
  LoadMetrics::Slot* metrics_slot_ = nullptr;     // when spec_.metrics is set
  std::vector<LoadMetrics::Node*> node_metrics_;  // by node, when spec_.metrics is set
};

}  // namespace

void merge_results(LoadResult& total, LoadResult&& part) {
  total.requests += part.requests;
  total.succeeded += part.succeeded;
  total.failed += part.failed;
  total.attempts += part.attempts;
  total.retries += part.retries;
  total.creates_unknown += part.creates_unknown;
  for (size_t k = 0; k < kFailureKindCount; ++k) {
    total.failures[k] += part.failures[k];
    if (total.failure_examples[k].empty()) total.failure_examples[k] = part.failure_examples[k];
  }
  for (size_t k = 0; k < kOpKindCount; ++k) {
    total.ops[k].succeeded += part.ops[k].succeeded;
    total.ops[k].failed += part.ops[k].failed;
    total.ops[k].latency.merge(part.ops[k].latency);
  }
  total.latency.merge(part.latency);
  for (const auto& [status, n] : part.responses) total.responses[status] += n;
  total.acked.merge(part.acked);
  total.interrupted = total.interrupted || part.interrupted;
  // Each run has its own breakers: sum the transitions, keep the last state.
  if (total.breakers.empty()) {
    total.breakers = std::move(part.breakers);
  } else {
    for (size_t i = 0; i < std::min(total.breakers.size(), part.breakers.size()); ++i) {
      BreakerCounters& t = total.breakers[i].counters;
      const BreakerCounters& p = part.breakers[i].counters;
      t.opened += p.opened;
      t.half_opened += p.half_opened;
      t.closed += p.closed;
      t.rejected += p.rejected;
      total.breakers[i].state = part.breakers[i].state;
    }
  }
}

namespace {

// Resolved once: the hot path never resolves.
std::vector<asio::ip::tcp::endpoint> resolve_nodes(const std::vector<common::Endpoint>& nodes) {
  std::vector<asio::ip::tcp::endpoint> addresses;
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  for (const common::Endpoint& node : nodes) {
    boost::system::error_code ec;
    const auto results = resolver.resolve(node.host, std::to_string(node.port), ec);
    if (ec || results.empty()) {
      environment_failure("cannot resolve " + node.host + ": " + ec.message());
    }
    addresses.push_back(results.begin()->endpoint());
  }
  return addresses;
}

// --csv: the file with its header line, or null.
std::FILE* open_csv(const std::filesystem::path& path) {
  if (path.empty()) return nullptr;
  std::FILE* csv = std::fopen(path.c_str(), "w");
  if (csv == nullptr) {
    environment_failure("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  std::fputs("time_unix_s,node,operation,status,latency_ms,attempts,outcome\n", csv);
  return csv;
}

// One shard per I/O thread (--threads, else min(cores, concurrency, 4)), the workers spread
// evenly over them.
std::vector<std::unique_ptr<Shard>> make_shards(RunShared& shared, const LoadSpec& spec,
                                                const std::vector<asio::ip::tcp::endpoint>& to) {
  const size_t hardware = std::max<size_t>(1, std::thread::hardware_concurrency());
  const size_t concurrency = std::max<size_t>(1, spec.concurrency);
  const size_t shard_count = spec.threads > 0 ? std::min(spec.threads, concurrency)
                                              : std::min({hardware, concurrency, size_t{4}});
  std::vector<std::unique_ptr<Shard>> shards;
  for (size_t i = 0; i < shard_count; ++i) {
    const size_t workers = concurrency / shard_count + (i < concurrency % shard_count ? 1 : 0);
    shards.push_back(std::make_unique<Shard>(shared, i, workers, to));
  }
  return shards;
}

LoadProgress progress_of(const RunShared& shared, const std::vector<std::unique_ptr<Shard>>& shards,
                         uint64_t target) {
  LoadProgress p;
  p.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - shared.started);
  for (const auto& shard : shards) {
    p.completed += shard->completed.load(std::memory_order_relaxed);
    p.succeeded += shard->succeeded.load(std::memory_order_relaxed);
    p.failed += shard->failed.load(std::memory_order_relaxed);
    p.retries += shard->retries.load(std::memory_order_relaxed);
  }
  p.target = target;
  return p;
}

// Until every shard is done, every 250 ms: stop on request, sample the metrics, report
// progress. True when stop_requested ended the run.
bool supervise_shards(RunShared& shared, const std::vector<std::unique_ptr<Shard>>& shards,
                      const LoadSpec& spec) {
  bool interrupted = false;
  std::unique_lock lock(shared.done_mutex);
  while (shared.shards_running.load() > 0) {
    shared.done_cv.wait_for(lock, 250ms);
    if (!interrupted && spec.stop_requested && spec.stop_requested()) {
      interrupted = true;
      shared.stopping = true;
    }
    if (spec.metrics != nullptr) spec.metrics->sample(Clock::now());
    if (spec.on_progress) {
      lock.unlock();
      spec.on_progress(progress_of(shared, shards, spec.count));
      lock.lock();
    }
  }
  return interrupted;
}

}  // namespace

LoadResult run_load(const LoadSpec& spec) {
  if (spec.nodes.empty()) invalid_input("no nodes to send load to");
  RunShared shared(spec);
  shared.ends = shared.started + spec.duration;
  const std::vector<asio::ip::tcp::endpoint> addresses = resolve_nodes(spec.nodes);
  shared.csv = open_csv(spec.csv_path);
  std::vector<std::unique_ptr<Shard>> shards = make_shards(shared, spec, addresses);
  if (spec.breaker) {
    for (size_t i = 0; i < spec.nodes.size(); ++i) {
      shared.breakers.push_back(std::make_shared<CircuitBreaker>(*spec.breaker));
    }
  }
  if (spec.metrics != nullptr) {
    spec.metrics->run_started(spec.nodes, std::max<size_t>(1, spec.concurrency),
                              std::vector<std::shared_ptr<const CircuitBreaker>>(
                                  shared.breakers.begin(), shared.breakers.end()));
  }
  shared.shards_running = shards.size();
  shared.started = Clock::now();
  shared.ends = shared.started + spec.duration;
  shared.wall_started = std::chrono::system_clock::now();
  std::vector<std::thread> threads;
  for (auto& shard : shards) threads.emplace_back([s = shard.get()] { s->run(); });
  const bool interrupted = supervise_shards(shared, shards, spec);
  for (auto& thread : threads) thread.join();
  if (spec.metrics != nullptr) spec.metrics->run_finished();
  LoadResult total;
  total.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - shared.started);
  for (auto& shard : shards) merge_results(total, std::move(shard->result()));
  total.interrupted = interrupted;
  for (size_t i = 0; i < shared.breakers.size(); ++i) {
    total.breakers.push_back(BreakerReport{spec.nodes[i].to_string(), shared.breakers[i]->state(),
                                           shared.breakers[i]->counters()});
  }
  if (shared.csv != nullptr) std::fclose(shared.csv);
  return total;
}

}  // namespace bombarder
