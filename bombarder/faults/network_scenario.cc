#include "bombarder/faults/network_scenario.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/base/output.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_tls.h"
#include "bombarder/client/node_url.h"
#include "bombarder/client/proxy_client.h"
#include "bombarder/cluster/cluster_proxies.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/verify.h"
#include "bombarder/history/linearizability.h"
#include "bombarder/history/run_record.h"
#include "bombarder/load/load_engine.h"
#include "bombarder/load/load_metrics.h"
#include "bombarder/load/load_report.h"

namespace bombarder {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

ScenarioSpec node_toxic(const std::string& name, const std::string& family, size_t nodes_hit,
                        const std::string& type, Json attributes, const std::string& description) {
  ScenarioSpec s;
  s.name = name;
  s.family = family;
  s.description = description;
  s.shape = FaultShape::kNodeToxic;
  s.nodes_hit = nodes_hit;
  s.toxic_type = type;
  s.attributes = std::move(attributes);
  return s;
}

ScenarioSpec partition(const std::string& name, FaultShape shape, const std::string& description) {
  ScenarioSpec s;
  s.name = name;
  s.family = "partition";
  s.description = description;
  s.shape = shape;
  return s;
}

std::vector<ScenarioSpec> make_catalog() {
  std::vector<ScenarioSpec> all;
  for (const int pct : {1, 5, 10, 25, 50, 100}) {
    all.push_back(
        node_toxic("single-server-packet-loss-" + std::to_string(pct) + "pct", "packet-loss", 1,
                   "packet_loss", Json{{"probability", pct / 100.0}, {"correlation", 0.0}},
                   std::to_string(pct) +
                       "% packet loss (chunks dropped) on every connection of one follower: client "
                       "traffic and its peer links, both directions"));
  }
  for (const int ms : {50, 100, 250, 500, 1000, 2000}) {
    all.push_back(node_toxic("single-server-latency-" + std::to_string(ms) + "ms", "latency", 1,
                             "latency", Json{{"latency", ms}, {"jitter", ms / 10}},
                             "+" + std::to_string(ms) + " ms latency (jitter " +
                                 std::to_string(ms / 10) +
                                 " ms) on every connection of one follower"));
  }
  all.push_back(node_toxic("multi-failure-2-servers-packet-loss", "multi-failure", 2, "packet_loss",
                           Json{{"probability", 1.0}, {"correlation", 0.0}},
                           "100% packet loss on 2 of 3 servers (both followers) at once"));
  all.push_back(node_toxic("multi-failure-2-servers-latency", "multi-failure", 2, "latency",
                           Json{{"latency", 500}, {"jitter", 50}},
                           "+500 ms latency on 2 of 3 servers (both followers) at once"));
  all.push_back(partition("partition-isolate-leader", FaultShape::kIsolateLeader,
                          "the leader's peer links hold all data, both directions: the others "
                          "must elect a new leader; clients still reach the old one"));
  all.push_back(partition("partition-asymmetric-link", FaultShape::kAsymmetricLink,
                          "only the leader -> follower link holds its data; the follower still "
                          "reaches the leader"));
  all.push_back(partition("partition-flapping-link", FaultShape::kFlappingLink,
                          "the links between the leader and one follower are disabled and "
                          "enabled in turns every 2 s"));
  return all;
}

Json toxic_json(const std::string& name, const std::string& type, const std::string& stream,
                const Json& attributes) {
  return Json{{"name", name},
              {"type", type},
              {"stream", stream},
              {"toxicity", 1.0},
              {"attributes", attributes}};
}

// The proxies that carry node n's traffic: clients to it, its links in and out.
std::vector<std::string> proxies_of(uint64_t n, const std::vector<uint64_t>& ids) {
  std::vector<std::string> names{client_proxy_name(static_cast<int>(n))};
  for (const uint64_t other : ids) {
    if (other == n) continue;
    names.push_back(link_proxy_name(static_cast<int>(other), static_cast<int>(n)));
    names.push_back(link_proxy_name(static_cast<int>(n), static_cast<int>(other)));
  }
  return names;
}

std::vector<uint64_t> followers_of(const std::vector<uint64_t>& ids, uint64_t leader) {
  std::vector<uint64_t> out;
  for (const uint64_t id : ids) {
    if (id != leader) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

double percentile_ms(std::vector<int64_t>& latencies_ns, double q) {
  if (latencies_ns.empty()) return 0;
  const size_t at = std::min(latencies_ns.size() - 1, static_cast<size_t>(q * latencies_ns.size()));
  std::nth_element(latencies_ns.begin(), latencies_ns.begin() + static_cast<ptrdiff_t>(at),
                   latencies_ns.end());
  return static_cast<double>(latencies_ns[at]) / 1e6;
}

// Statistics of the operations that completed in [start, end): an operation counts where its
// outcome showed, so a request invoked just before the faults and failing because of them counts
// in the testing phase, and one still failing after the heal delays the recovery.
PhaseStats stats_between(const History& history, const std::string& name, int64_t start,
                         int64_t end) {
  PhaseStats p;
  p.name = name;
  p.start_ns = start;
  p.end_ns = end;
  std::vector<int64_t> latencies;
  for (const HistoryOp& op : history.ops) {
    if (op.complete_ns < start || op.complete_ns >= end) continue;
    ++p.requests;
    switch (op.outcome) {
      case Outcome::kOk: ++p.ok; break;
      case Outcome::kFail: ++p.failed; break;
      case Outcome::kUnknown: ++p.unknown; break;
    }
    latencies.push_back(op.complete_ns - op.invoke_ns);
  }
  const double seconds = static_cast<double>(std::max<int64_t>(1, end - start)) / 1e9;
  p.error_pct = p.requests == 0 ? 0
                                : 100.0 * static_cast<double>(p.failed + p.unknown) /
                                      static_cast<double>(p.requests);
  p.throughput_rps = static_cast<double>(p.ok) / seconds;
  p.p50_ms = percentile_ms(latencies, 0.50);
  p.p99_ms = percentile_ms(latencies, 0.99);
  return p;
}

}  // namespace

const std::vector<ScenarioSpec>& scenario_catalog() {
  static const std::vector<ScenarioSpec> catalog = make_catalog();
  return catalog;
}

const ScenarioSpec* find_scenario(std::string_view name) {
  for (const ScenarioSpec& s : scenario_catalog()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

namespace {

// The toxic of a node scenario on every proxy of the followers hit (each proxy once: two nodes
// hit share the links between them); latency once per round trip (on the answers), loss both
// ways.
std::vector<FaultAction> node_toxic_actions(const ScenarioSpec& spec,
                                            const std::vector<uint64_t>& followers,
                                            const std::vector<uint64_t>& node_ids) {
  std::vector<std::string> hit;
  for (size_t i = 0; i < spec.nodes_hit; ++i) {
    for (const std::string& proxy : proxies_of(followers[i], node_ids)) {
      if (std::find(hit.begin(), hit.end(), proxy) == hit.end()) hit.push_back(proxy);
    }
  }
  std::vector<FaultAction> actions;
  for (const std::string& proxy : hit) {
    for (const char* stream : {"upstream", "downstream"}) {
      if (spec.toxic_type == "latency" && std::string(stream) == "upstream") continue;
      actions.push_back(
          {proxy, toxic_json(spec.name + "-" + stream, spec.toxic_type, stream, spec.attributes),
           false});
    }
  }
  return actions;
}

// Data held on `proxy` both ways until the toxic is removed.
void hold_both_ways(const ScenarioSpec& spec, const std::string& proxy,
                    std::vector<FaultAction>& actions) {
  const Json hold = Json{{"timeout", 0}};
  for (const char* stream : {"upstream", "downstream"}) {
    actions.push_back(
        {proxy, toxic_json(spec.name + "-" + stream, "timeout", stream, hold), false});
  }
}

}  // namespace

std::vector<FaultAction> fault_actions(const ScenarioSpec& spec,
                                       const std::vector<uint64_t>& node_ids, uint64_t leader_id) {
  const std::vector<uint64_t> followers = followers_of(node_ids, leader_id);
  const size_t needed = spec.shape == FaultShape::kNodeToxic ? spec.nodes_hit : 1;
  if (followers.size() < needed) {
    environment_failure("scenario " + spec.name + " needs " + std::to_string(needed) +
                        " follower(s); the cluster has " + std::to_string(followers.size()));
  }
  const int leader = static_cast<int>(leader_id);
  std::vector<FaultAction> actions;
  switch (spec.shape) {
    case FaultShape::kNodeToxic: return node_toxic_actions(spec, followers, node_ids);
    case FaultShape::kIsolateLeader:
      for (const uint64_t f : followers) {
        hold_both_ways(spec, link_proxy_name(leader, static_cast<int>(f)), actions);
        hold_both_ways(spec, link_proxy_name(static_cast<int>(f), leader), actions);
      }
      break;
    case FaultShape::kAsymmetricLink:
      hold_both_ways(spec, link_proxy_name(leader, static_cast<int>(followers[0])), actions);
      break;
    case FaultShape::kFlappingLink:
      actions.push_back({link_proxy_name(leader, static_cast<int>(followers[0])), nullptr, true});
      actions.push_back({link_proxy_name(static_cast<int>(followers[0]), leader), nullptr, true});
      break;
  }
  return actions;
}

std::vector<PhaseStats> phase_stats(const History& history,
                                    const std::vector<std::pair<std::string, int64_t>>& bounds,
                                    int64_t end_ns) {
  std::vector<PhaseStats> out;
  for (size_t i = 0; i < bounds.size(); ++i) {
    const int64_t end = i + 1 < bounds.size() ? bounds[i + 1].second : end_ns;
    out.push_back(stats_between(history, bounds[i].first, bounds[i].second, end));
  }
  return out;
}

std::optional<double> recovery_time_s(const History& history, const PhaseStats& baseline,
                                      int64_t from_ns, int64_t end_ns) {
  constexpr int64_t kWindow = 1'000'000'000;
  constexpr int64_t kGoodInARow = 3;
  const int64_t windows = (end_ns - from_ns) / kWindow;
  int64_t run = 0;
  for (int64_t w = 0; w < windows; ++w) {
    const PhaseStats s =
        stats_between(history, "window", from_ns + w * kWindow, from_ns + (w + 1) * kWindow);
    const bool good = s.requests > 0 && s.error_pct <= std::max(1.0, 2 * baseline.error_pct) &&
                      s.p99_ms <= std::max(3 * baseline.p99_ms, baseline.p99_ms + 50) &&
                      s.throughput_rps >= 0.5 * baseline.throughput_rps;
    run = good ? run + 1 : 0;
    if (run == kGoodInARow) return static_cast<double>((w + 1 - kGoodInARow) * kWindow) / 1e9;
  }
  return std::nullopt;
}

Json ScenarioResult::to_json() const {
  Json phases_json = Json::array();
  for (const PhaseStats& p : phases) {
    phases_json.push_back({{"phase", p.name},
                           {"start_s", static_cast<double>(p.start_ns) / 1e9},
                           {"end_s", static_cast<double>(p.end_ns) / 1e9},
                           {"requests", p.requests},
                           {"ok", p.ok},
                           {"failed", p.failed},
                           {"unknown", p.unknown},
                           {"error_pct", p.error_pct},
                           {"throughput_rps", p.throughput_rps},
                           {"p50_ms", p.p50_ms},
                           {"p99_ms", p.p99_ms}});
  }
  return Json{{"scenario", name},
              {"passed", passed()},
              {"problems", problems},
              {"phases", phases_json},
              {"recovery_s", recovery_s ? Json(*recovery_s) : Json(nullptr)},
              {"breakers", breakers},
              {"leader_before", leader_before},
              {"leader_after", leader_after ? Json(*leader_after) : Json(nullptr)},
              {"leader_changes", leader_changes},
              {"linearizability", check_verdict},
              {"replicas_ok", replicas_ok},
              {"history", history_path}};
}

std::string ScenarioResult::describe() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "scenario %s: %s\n", name.c_str(), passed() ? "PASS" : "FAIL");
  out += line;
  out +=
      "  phase           requests  ok        failed  unknown  errors   ok/s      p50 ms   "
      "p99 ms\n";
  for (const PhaseStats& p : phases) {
    std::snprintf(line, sizeof line,
                  "  %-14s  %-8" PRIu64 "  %-8" PRIu64 "  %-6" PRIu64 "  %-7" PRIu64
                  "  %6.2f%%  %-8.1f  %-7.2f  %.2f\n",
                  p.name.c_str(), p.requests, p.ok, p.failed, p.unknown, p.error_pct,
                  p.throughput_rps, p.p50_ms, p.p99_ms);
    out += line;
  }
  if (recovery_s) {
    std::snprintf(line, sizeof line,
                  "  recovery        back to the baseline %.0f s into recovery\n", *recovery_s);
  } else {
    std::snprintf(line, sizeof line, "  recovery        NOT back to the baseline by the end\n");
  }
  out += line;
  for (const Json& b : breakers) {
    std::snprintf(line, sizeof line,
                  "  breaker         %-21s %-9s opened %" PRIu64 "  half-open %" PRIu64
                  "  closed %" PRIu64 "\n",
                  b["node"].get<std::string>().c_str(), b["state"].get<std::string>().c_str(),
                  b["opened"].get<uint64_t>(), b["half_opened"].get<uint64_t>(),
                  b["closed"].get<uint64_t>());
    out += line;
  }
  std::snprintf(line, sizeof line,
                "  leader          node %" PRIu64 " before, %s after, %" PRIu64 " change(s) seen\n",
                leader_before,
                leader_after ? ("node " + std::to_string(*leader_after)).c_str() : "none",
                leader_changes);
  out += line;
  out += "  history         " + check_verdict + " (" + history_path + ")\n";
  out +=
      std::string("  replicas        ") +
      (replicas_ok ? "identical, no acknowledged write lost" : "FAILED (see `bombarder verify`)") +
      "\n";
  for (const std::string& p : problems) out += "  problem         " + p + "\n";
  return out;
}

namespace {

// Resets the proxies when the scenario ends, however it ends.
struct ProxyResetGuard {
  ProxyClient& proxy;
  ~ProxyResetGuard() {
    try {
      proxy.reset();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bombarder: warning: %s\n", e.what());
    }
  }
};

// The proxy API to fault through: --proxy-api, else the recorded cluster's proxy.
common::Endpoint scenario_proxy_api(const ClusterRecord& record, const ScenarioOptions& options) {
  if (!options.proxy_api.empty()) return parse_node_url(options.proxy_api);
  if (record.proxy) return record.proxy->api;
  environment_failure(
      "the recorded cluster has no fault proxy; start it with "
      "`bombarder cluster start --proxied` (or give --proxy-api)");
}

// The scenario's load: random operations on random nodes through the proxies, recorded.
LoadSpec scenario_load(const ScenarioOptions& options, const std::vector<common::Endpoint>& nodes,
                       const RunRecord& run, HistoryWriter& history) {
  LoadSpec load;
  load.name = "scenario";
  load.nodes = nodes;
  load.tls = node_tls_context();
  load.targeting = Targeting::kRandomNode;
  load.mix = OpMix::storm(30).with_lists(5);
  load.duration = options.stabilization + options.testing + options.recovery;
  load.concurrency = options.concurrency;
  load.threads = options.threads;
  load.value_bytes = 64;
  // Short limits: a fault shows as errors and latency instead of hiding behind long retries.
  load.attempt_timeout = 1s;
  load.deadline = 5s;
  load.breaker = BreakerOptions{5, 1000ms};
  load.key_prefix = "scenario-" + run.id;
  load.idempotency_prefix = run.id + "-";
  load.history = &history;
  load.metrics = options.metrics;
  return load;
}

// One run of a scenario: the load in a thread, the phases and faults on this one, then the
// verdict (history check, recovery time, replicas).
class ScenarioRun {
 public:
  ScenarioRun(const ScenarioSpec& spec, const ScenarioOptions& options, const ClusterRecord& record,
              const common::Endpoint& api)
      : spec_(spec), options_(options), api_(api), nodes_(record.endpoints()), proxy_(api) {
    for (const NodeRecord& n : record.nodes) ids_.push_back(n.id);
  }

  ScenarioResult run() {
    (void)proxy_.version();
    proxy_.reset();
    ProxyResetGuard guard{proxy_};
    const ClusterView before = wait_for_leader(client_, nodes_, 10s);
    if (!before.leader)
      environment_failure("no leader elected within 10 s; is the cluster healthy?");
    result_.name = spec_.name;
    result_.leader_before = before.nodes[*before.leader].status->node_id;
    actions_ = fault_actions(spec_, ids_, result_.leader_before);
    run_ = begin_run_record("scenario-" + spec_.name);
    history_.emplace(run_.dir / "history.jsonl");
    result_.history_path = history_->path().string();
    bool interrupted = false;
    LoadResult load_result = run_phases(interrupted);
    const int64_t end_ns = history_->ns_since_origin(Clock::now());
    history_->close();
    if (interrupted) result_.problems.push_back("interrupted");
    judge_history(end_ns, load_result);
    verify_replicas();
    return result_;
  }

 private:
  [[nodiscard]] bool stopping() const { return aborted_.load() || SignalWatch::flag().load(); }

  void say(const std::string& text) const { status_line(options_.json, text); }

  void publish_phase(ScenarioPhase phase) const {
    if (options_.metrics != nullptr) options_.metrics->set_scenario_phase(spec_.name, phase);
  }

  void mark(const std::string& phase, ScenarioPhase metric) {
    publish_phase(metric);
    bounds_.emplace_back(phase, history_->ns_since_origin(Clock::now()));
    history_->fault("phase", 0, api_.to_string(), phase);
    say("[" + spec_.name + "] " + phase);
  }

  // Polls the leader every 250 ms until `until` (or Ctrl-C), counting its changes.
  void wait_until(Clock::time_point until, const std::function<void()>& each) {
    while (Clock::now() < until && !stopping()) {
      const ClusterView view = survey(client_, nodes_, 200ms);
      if (view.leader) {
        const uint64_t leader = view.nodes[*view.leader].status->node_id;
        if (leader_seen_ && leader != *leader_seen_) ++result_.leader_changes;
        leader_seen_ = leader;
      }
      if (each) each();
      std::this_thread::sleep_until(std::min(until, Clock::now() + 250ms));
    }
  }

  // Puts the scenario's faults on (down) or takes the disabled links back up.
  void apply(bool down) {
    for (const FaultAction& a : actions_) {
      if (a.disable) {
        proxy_.set_enabled(a.proxy, !down);
        history_->fault(down ? "link-down" : "link-up", 0, a.proxy, a.proxy);
        if (options_.metrics != nullptr) {
          options_.metrics->set_scenario_toxic(spec_.name, a.proxy, "disabled", {}, down);
        }
      } else if (down) {
        proxy_.add_toxic(a.proxy, a.toxic);
        history_->fault("toxic", 0, a.proxy, a.proxy + ": " + a.toxic.dump());
        if (options_.metrics != nullptr) {
          options_.metrics->set_scenario_toxic(spec_.name, a.proxy, a.toxic.value("type", "?"),
                                               a.toxic.value("attributes", Json::object()), true);
        }
      }
    }
    link_down_ = down;
  }

  // The testing phase's faults (a flapping link goes down and up every flap period), then the
  // proxies reset for the recovery.
  void fault_and_heal(Clock::time_point testing_ends) {
    apply(true);
    auto next_flap = Clock::now() + spec_.flap_period;
    wait_until(testing_ends, [&] {
      if (spec_.shape != FaultShape::kFlappingLink || Clock::now() < next_flap) return;
      apply(!link_down_);
      next_flap = Clock::now() + spec_.flap_period;
    });
    mark("recovery", ScenarioPhase::kRecovery);
    proxy_.reset();
    if (options_.metrics != nullptr) options_.metrics->clear_scenario_toxics(spec_.name);
    history_->fault("heal", 0, api_.to_string(), "proxies reset: every toxic removed");
  }

  // Stabilization, testing, recovery under the load. Ctrl-C during them ends the scenario early
  // (`interrupted`); an exception ends the load and goes on.
  LoadResult run_phases(bool& interrupted) {
    std::optional<SignalWatch> signals;
    signals.emplace(std::initializer_list<int>{SIGINT});
    LoadSpec load = scenario_load(options_, nodes_, run_, *history_);
    load.stop_requested = [this] { return stopping(); };
    LoadResult load_result;
    mark("stabilization", ScenarioPhase::kStabilization);
    std::thread load_thread([&] { load_result = run_load(load); });
    leader_seen_ = result_.leader_before;
    const auto started = Clock::now();
    wait_until(started + options_.stabilization, nullptr);
    mark("testing", ScenarioPhase::kTesting);
    try {
      fault_and_heal(started + options_.stabilization + options_.testing);
    } catch (...) {
      aborted_ = true;  // ends the load; the guard resets the proxies
      load_thread.join();
      publish_phase(ScenarioPhase::kNone);
      if (options_.metrics != nullptr) options_.metrics->clear_scenario_toxics(spec_.name);
      throw;
    }
    wait_until(started + options_.stabilization + options_.testing + options_.recovery, nullptr);
    load_thread.join();
    publish_phase(ScenarioPhase::kNone);
    interrupted = signals->interrupted();
    return load_result;
  }

  // The phases' figures, the recovery time, the run record and the linearizability check.
  void judge_history(int64_t end_ns, LoadResult& load_result) {
    const History recorded = load_history(history_->path());
    result_.phases = phase_stats(recorded, bounds_, end_ns);
    if (result_.phases.size() == 3) {
      result_.recovery_s = recovery_time_s(recorded, result_.phases[0], bounds_[2].second, end_ns);
      if (!result_.recovery_s) {
        result_.problems.push_back("the load did not get back to the baseline");
      }
    }
    RunHeader header{"scenario " + spec_.name, "random ops on the proxied cluster",
                     options_.concurrency, 0};
    run_.summary = json_summary(header, load_result, {});
    result_.breakers = run_.summary["breakers"];
    run_.acked = std::move(load_result.acked);
    save_run_record(run_);

    const CheckResult check = check_history(recorded, CheckOptions{60s, 0});
    result_.check_verdict = to_string(check.verdict);
    if (check.verdict != Verdict::kOk) {
      result_.problems.push_back("history " + result_.check_verdict + ": `bombarder check " +
                                 result_.history_path + "`");
    }
  }

  // The leader after, and the replicas identical with no acknowledged write lost.
  void verify_replicas() {
    const ClusterView after = wait_for_leader(client_, nodes_, 10s);
    if (after.leader) {
      result_.leader_after = after.nodes[*after.leader].status->node_id;
      // A change the 250 ms polls missed (a survey can time out while the faults are on).
      if (leader_seen_ && *result_.leader_after != *leader_seen_) ++result_.leader_changes;
    }
    VerifyOptions verify;
    verify.nodes = nodes_;
    verify.timeout = 30s;
    verify.run = run_;
    const VerifyOutcome verified = verify_cluster(verify);
    result_.replicas_ok = verified.passed;
    if (!verified.passed) {
      result_.problems.push_back("replicas differ or lost acknowledged writes");
    }
  }

  const ScenarioSpec& spec_;
  const ScenarioOptions& options_;
  const common::Endpoint api_;
  std::vector<uint64_t> ids_;
  const std::vector<common::Endpoint> nodes_;
  ProxyClient proxy_;
  ApiClient client_;
  ScenarioResult result_;
  std::vector<FaultAction> actions_;
  RunRecord run_;
  std::optional<HistoryWriter> history_;
  std::vector<std::pair<std::string, int64_t>> bounds_;
  std::optional<uint64_t> leader_seen_;
  bool link_down_ = false;
  std::atomic<bool> aborted_{false};
};

}  // namespace

ScenarioResult run_scenario(const ScenarioSpec& spec, const ScenarioOptions& options) {
  const std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) {
    environment_failure("no cluster recorded under " + cluster_record_path().string() +
                        "; start one with `bombarder cluster start --proxied`");
  }
  ScenarioRun run(spec, options, *record, scenario_proxy_api(*record, options));
  return run.run();
}

}  // namespace bombarder
