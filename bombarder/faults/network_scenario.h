// Network-fault scenarios (issue 6 "Scenarios"): `bombarder scenario list|run`. A scenario runs
// a load against a proxied cluster (`cluster start --proxied`: every client port and every
// directed peer link behind the fault proxy) through three phases:
//
//   stabilization  no toxics (proxies reset first): the baseline
//   testing        the scenario's faults applied through the proxy's Toxiproxy API
//   recovery       proxies reset again (every toxic removed, every proxy enabled): healing
//
// and ends with a verdict: error rate, throughput and latency per phase, the time the load took
// to get back to the baseline, circuit-breaker transitions, leader changes, the linearizability
// of the recorded history and the replica check of `verify`.
//
// Proxy names are those of cluster_proxies.h: "node<i>-client" (clients to node i) and
// "link-<i>-to-<j>" (node i's connections to node j).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bombarder/history/history.h"

namespace bombarder {

class LoadMetrics;  // load_metrics.h

enum class FaultShape : uint8_t {
  kNodeToxic,       // a toxic on every proxy of `nodes_hit` followers: client, links in and out
  kIsolateLeader,   // every link in and out of the leader holds its data (timeout 0)
  kAsymmetricLink,  // only the leader -> one follower link holds its data
  kFlappingLink,    // the links between the leader and one follower go down and up in turns
};

struct ScenarioSpec {
  std::string name;
  std::string family;  // "packet-loss", "latency", "multi-failure", "partition"
  std::string description;
  FaultShape shape = FaultShape::kNodeToxic;
  size_t nodes_hit = 1;                         // kNodeToxic
  std::string toxic_type;                       // kNodeToxic: "packet_loss" or "latency"
  nlohmann::json attributes;                    // kNodeToxic: the toxic's attributes
  std::chrono::milliseconds flap_period{2000};  // kFlappingLink: down, then up, for this long
};

// The reference's 14 (single-server packet loss and latency at 6 levels each, two multi-server
// failures) and 3 partitions, in listing order.
[[nodiscard]] const std::vector<ScenarioSpec>& scenario_catalog();
[[nodiscard]] const ScenarioSpec* find_scenario(std::string_view name);

// One change to the proxies: a toxic to add, or a proxy to disable.
struct FaultAction {
  std::string proxy;
  nlohmann::json toxic;  // null when disabling
  bool disable = false;
};

// What the testing phase applies, for a cluster of `node_ids` led by `leader_id` (followers are
// taken in id order). Pure. Throws Error(kEnvironment) when the cluster is too small
// for the scenario (kNodeToxic needs nodes_hit followers; the others need one follower).
[[nodiscard]] std::vector<FaultAction> fault_actions(const ScenarioSpec& spec,
                                                     const std::vector<uint64_t>& node_ids,
                                                     uint64_t leader_id);

struct PhaseStats {
  std::string name;
  int64_t start_ns = 0;  // on the history's clock
  int64_t end_ns = 0;
  uint64_t requests = 0;  // operations that completed in the phase
  uint64_t ok = 0;
  uint64_t failed = 0;        // outcome fail
  uint64_t unknown = 0;       // outcome unknown
  double error_pct = 0;       // (failed + unknown) / requests
  double throughput_rps = 0;  // ok per second
  double p50_ms = 0;
  double p99_ms = 0;
};

// Statistics of the operations that completed in [start, end) of each phase; `bounds` are the
// phases' (name, start) in order, the last one ending at `end_ns`. Pure.
[[nodiscard]] std::vector<PhaseStats> phase_stats(
    const History& history, const std::vector<std::pair<std::string, int64_t>>& bounds,
    int64_t end_ns);

// Seconds from `from_ns` until the load was back to `baseline`: the start of the first run of 3
// consecutive 1-second windows that each had requests, an error rate within max(1%, 2 x the
// baseline's), a p99 within max(3 x, +50 ms of) the baseline's and at least half its throughput.
// nullopt when there is no such run before `end_ns`. (A lone slow second later, as a shared
// machine gives, does not undo a recovery.) Pure.
[[nodiscard]] std::optional<double> recovery_time_s(const History& history,
                                                    const PhaseStats& baseline, int64_t from_ns,
                                                    int64_t end_ns);

struct ScenarioOptions {
  std::chrono::milliseconds stabilization{30000};
  std::chrono::milliseconds testing{60000};
  std::chrono::milliseconds recovery{60000};
  size_t concurrency = 10;
  size_t threads = 2;     // the load generator's I/O threads (the reference's -max-procs)
  std::string proxy_api;  // HOST:PORT; "" = the recorded cluster's proxy
  bool json = false;      // progress lines to stderr instead of stdout
  // When set, the load records into it and the runner publishes the phase and the faults it
  // applies (bombarder_scenario_phase, bombarder_scenario_toxic_*).
  LoadMetrics* metrics = nullptr;
};

struct ScenarioResult {
  std::string name;
  std::vector<PhaseStats> phases;
  std::optional<double> recovery_s;
  nlohmann::json breakers;  // the load summary's "breakers"
  uint64_t leader_before = 0;
  std::optional<uint64_t> leader_after;
  uint64_t leader_changes = 0;  // leader id changes seen by polling /status every 250 ms
  std::string check_verdict;    // "linearizable", "violation", "unknown"
  bool replicas_ok = false;
  std::string history_path;
  std::vector<std::string> problems;  // why it failed; empty when passed
  [[nodiscard]] bool passed() const { return problems.empty(); }
  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] std::string describe() const;
};

// Runs one scenario against the recorded proxied cluster; the proxies are reset at the end
// whatever happens. Throws Error(kEnvironment) when there is no proxied cluster, no
// proxy API or no leader.
[[nodiscard]] ScenarioResult run_scenario(const ScenarioSpec& spec, const ScenarioOptions& options);

}  // namespace bombarder
