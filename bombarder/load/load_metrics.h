// Live metrics of the load generator for `GET /metrics` (issue 6 "Metrics"): what a tester
// watches in Prometheus/Grafana while flood, burst, mixed, storm or a scenario runs.
//
//   bombarder_requests_total{op,outcome}             logical requests, retries folded in
//   bombarder_request_duration_seconds{op}           their latency (histogram, fixed le buckets)
//   bombarder_failures_total{kind}                   why requests failed (load_engine.h kinds)
//   bombarder_retries_total, bombarder_attempts_total{node}, bombarder_attempt_failures_total
//   bombarder_responses_total{status}                every attempt's HTTP status
//   bombarder_ops_per_second                         successes over the last second
//   bombarder_pool_connections{node} and _connects/_connect_failures/_closes_total{node}
//   bombarder_breaker_state{node} (0 closed, 1 half-open, 2 open), _transitions_total{node,to},
//   bombarder_breaker_rejected_total{node}
//   bombarder_scenario_phase{scenario} (0 none, 1 stabilization, 2 testing, 3 recovery),
//   bombarder_scenario_toxic_active{scenario,proxy,type}, _toxic_value{...,attribute}
//
// One LoadMetrics lives for a whole command, across the runs of a burst or the scenarios of
// `scenario run all`: counters only grow, as Prometheus expects.
//
// Cost on the load's hot path: each shard records into its own Slot under that slot's mutex,
// which only a scrape ever contends for; per-node counters are relaxed atomics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bombarder/load/circuit_breaker.h"
#include "bombarder/load/load_connection.h"
#include "bombarder/load/load_engine.h"
#include "common/endpoint.h"
#include "common/histogram.h"
#include "common/metrics.h"

namespace bombarder {

enum class ScenarioPhase : uint8_t { kNone = 0, kStabilization = 1, kTesting = 2, kRecovery = 3 };

class LoadMetrics {
 public:
  using Clock = std::chrono::steady_clock;
  // `command` labels bombarder_run_info ("storm", "scenario", ...).
  explicit LoadMetrics(std::string command);

  // What one shard records; every call takes the slot's mutex.
  class Slot {
   public:
    void answered(int status);  // an attempt's HTTP status, 0 for a transport error
    void retried();
    void completed(OpKind kind, std::optional<FailureKind> failure, uint64_t latency_us);

   private:
    friend class LoadMetrics;
    static constexpr size_t kStatusMax = 600;
    mutable std::mutex mutex_;
    std::array<common::Histogram, kOpKindCount> latency_;
    std::array<uint64_t, kOpKindCount> ok_{};
    std::array<uint64_t, kOpKindCount> failed_{};
    std::array<uint64_t, kFailureKindCount> failures_{};
    std::array<uint64_t, kStatusMax> statuses_{};  // [0]: transport errors
    uint64_t retries_ = 0;
  };

  // One node as the load sees it, stable for the LoadMetrics' life.
  struct Node {
    std::string address;  // HOST:PORT
    ConnectionCounters connections;
    std::atomic<uint64_t> attempts{0};
    std::atomic<uint64_t> attempt_failures{0};  // what a breaker counts as failed
  };

  // --- the load engine's side ---------------------------------------------------------------
  // Shard `index`'s slot (shards beyond the slot count share, still correctly).
  [[nodiscard]] Slot& slot(size_t index);
  // The node's record, created on first use.
  [[nodiscard]] Node& node(const common::Endpoint& endpoint);
  // A run begins with `concurrency` workers and, when breakers are on, one breaker per node of
  // `nodes` (same order). The breakers are read by scrapes until run_finished().
  void run_started(const std::vector<common::Endpoint>& nodes, size_t concurrency,
                   std::vector<std::shared_ptr<const CircuitBreaker>> breakers);
  // The run is over: its breakers' counters and last states are folded into the totals.
  void run_finished();
  // Called about every 250 ms while a run is going: feeds bombarder_ops_per_second.
  void sample(Clock::time_point now);

  // --- the scenario runner's side -----------------------------------------------------------
  void set_scenario_phase(const std::string& scenario, ScenarioPhase phase);
  // A fault the scenario applied (active) or removed: a toxic of `type` with its numeric
  // `attributes`, or type "disabled" for a proxy it switched off.
  void set_scenario_toxic(const std::string& scenario, const std::string& proxy,
                          const std::string& type, const nlohmann::json& attributes, bool active);
  // Every fault of `scenario` removed (the proxies were reset).
  void clear_scenario_toxics(const std::string& scenario);

  // Prometheus text format 0.0.4, written by prometheus-cpp (common/metrics.h).
  [[nodiscard]] std::string render() const;
  // The sum over every slot, for tests and for the summary's cross-check.
  [[nodiscard]] uint64_t succeeded_total() const;

 private:
  struct BreakerTotals {
    BreakerState last_state = BreakerState::kClosed;
    BreakerCounters counters;
    void add(const CircuitBreaker& breaker);  // its counters added, its state taken
  };
  struct Toxic {
    nlohmann::json attributes;
    bool active = false;
  };
  // What the slots hold, summed.
  struct Totals {
    std::array<common::Histogram, kOpKindCount> latency;
    std::array<uint64_t, kOpKindCount> ok{};
    std::array<uint64_t, kOpKindCount> failed{};
    std::array<uint64_t, kFailureKindCount> failures{};
    std::array<uint64_t, Slot::kStatusMax> statuses{};
    uint64_t retries = 0;
  };

  // render()'s parts: the slots' sum (takes each slot's mutex), then families from it and from
  // the shared state (the caller holds mutex_ for the const members).
  [[nodiscard]] Totals slot_totals() const;
  static void add_request_families(const Totals& totals, std::deque<prometheus::MetricFamily>& out);
  [[nodiscard]] double ops_per_second() const;
  void add_node_families(std::deque<prometheus::MetricFamily>& out) const;
  void add_breaker_families(std::deque<prometheus::MetricFamily>& out) const;
  void add_scenario_families(std::deque<prometheus::MetricFamily>& out) const;

  const std::string command_;
  const Clock::time_point created_ = Clock::now();
  static constexpr size_t kSlotCount = 8;
  std::array<Slot, kSlotCount> slots_;

  mutable std::mutex mutex_;  // everything below
  std::deque<Node> nodes_;    // deque: addresses stay valid as nodes are added
  size_t runs_started_ = 0;
  bool running_ = false;
  size_t workers_ = 0;
  // By node address: breakers of the run going on, totals of the finished runs.
  std::map<std::string, std::shared_ptr<const CircuitBreaker>> live_breakers_;
  std::map<std::string, BreakerTotals> finished_breakers_;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;  // (when, successes so far)
  std::map<std::string, ScenarioPhase> phases_;                 // by scenario
  // (scenario, proxy, type) -> toxic
  std::map<std::tuple<std::string, std::string, std::string>, Toxic> toxics_;
};

}  // namespace bombarder
