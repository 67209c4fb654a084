// `bombarder inject` (issue 7 "Scheduled injector"): timed faults on named nodes through a
// plugin (fault_plugin.h), every one reverted at its end and on Ctrl-C or error, optionally with
// a load generator alongside whose failures are set beside the ones the fault windows predict.
// Also the hidden `stress-helper` subcommand that runs a stress fault (stress_helper.h).
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "bombarder/base/output.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/base/text.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/faults/fault_action.h"
#include "bombarder/faults/fault_plugin.h"
#include "bombarder/faults/fault_schedule.h"
#include "bombarder/faults/interval_load.h"
#include "bombarder/faults/stress_helper.h"
#include "bombarder/history/history.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct InjectFlags {
  std::string plugin = "process";
  ExecTemplates exec;
  std::string node;
  std::string kill_after, down_for, signal = "KILL";
  std::string pause_after, pause_for;
  uint64_t memory_mib = 0;
  std::string memory_after = "0s", memory_for;
  uint64_t disk_mib_per_s = 0;
  std::string disk_after = "0s", disk_for;
  uint32_t cpu_workers = 0;
  std::string cpu_after = "0s", cpu_for;
  std::string toxic, toxic_after = "0s", toxic_for, toxic_stream = "downstream";
  std::string toxic_attributes = "{}";
  std::string proxy_api = "127.0.0.1:8474";
  std::string schedule;
  std::string settle = "2s";
  bool load = false;
  std::vector<std::string> nodes;
  std::string interval = "100ms";
  std::string request_timeout = "1s";
  std::string csv = "load_results.csv";
  std::string history;
  bool json = false;
};

void need_node(const InjectFlags& f, const char* flag) {
  if (f.node.empty()) invalid_input(std::string(flag) + " needs --node");
}

// --kill-after [--down-for] [--signal].
std::optional<Fault> kill_fault(const InjectFlags& f) {
  if (f.kill_after.empty()) {
    if (!f.down_for.empty()) invalid_input("--down-for needs --kill-after");
    return std::nullopt;
  }
  need_node(f, "--kill-after");
  Fault k;
  k.type = FaultType::kKill;
  k.node = f.node;
  k.at = parse_duration(f.kill_after, "--kill-after");
  if (!f.down_for.empty()) k.duration = parse_duration(f.down_for, "--down-for");
  if (f.signal == "TERM" || f.signal == "SIGTERM") {
    k.signal = KillSignal::kTerm;
  } else if (f.signal != "KILL" && f.signal != "SIGKILL") {
    invalid_input("--signal must be TERM or KILL, not '" + f.signal + "'");
  }
  return k;
}

// --pause-after/--pause-for.
std::optional<Fault> pause_fault(const InjectFlags& f) {
  if (f.pause_after.empty() && f.pause_for.empty()) return std::nullopt;
  need_node(f, "--pause-after");
  if (f.pause_for.empty()) invalid_input("--pause-after needs --pause-for");
  Fault p;
  p.type = FaultType::kPause;
  p.node = f.node;
  p.at = parse_duration(f.pause_after.empty() ? "0s" : f.pause_after, "--pause-after");
  p.duration = parse_duration(f.pause_for, "--pause-for");
  return p;
}

// A memory, disk or CPU stress: `flag` asks for it, `after` and `dur` place it.
Fault stress_fault(const InjectFlags& f, FaultType type, const std::string& after,
                   const std::string& dur, const char* flag) {
  need_node(f, flag);
  if (dur.empty()) invalid_input(std::string(flag) + " needs its --*-for duration");
  Fault s;
  s.type = type;
  s.node = f.node;
  s.at = parse_duration(after, std::string(flag) + " start");
  s.duration = parse_duration(dur, std::string(flag) + " duration");
  s.mib = type == FaultType::kMemory ? f.memory_mib : f.disk_mib_per_s;
  s.workers = f.cpu_workers;
  return s;
}

// --toxic with its --toxic-* flags.
std::optional<Fault> network_fault(const InjectFlags& f) {
  if (f.toxic.empty()) return std::nullopt;
  need_node(f, "--toxic");
  if (f.toxic_for.empty()) invalid_input("--toxic needs --toxic-for");
  Fault n;
  n.type = FaultType::kNetwork;
  n.node = f.node;
  n.at = parse_duration(f.toxic_after, "--toxic-after");
  n.duration = parse_duration(f.toxic_for, "--toxic-for");
  n.toxic = f.toxic;
  n.stream = f.toxic_stream;
  n.attributes = nlohmann::json::parse(f.toxic_attributes, nullptr, false);
  if (!n.attributes.is_object()) invalid_input("--toxic-attributes must be a JSON object");
  return n;
}

// The faults the flags ask for (besides a --schedule file).
std::vector<Fault> faults_from_flags(const InjectFlags& f) {
  std::vector<Fault> out;
  if (std::optional<Fault> k = kill_fault(f)) out.push_back(*k);
  if (std::optional<Fault> p = pause_fault(f)) out.push_back(*p);
  if (f.memory_mib > 0) {
    out.push_back(
        stress_fault(f, FaultType::kMemory, f.memory_after, f.memory_for, "--memory-mib"));
  }
  if (f.disk_mib_per_s > 0) {
    out.push_back(stress_fault(f, FaultType::kDisk, f.disk_after, f.disk_for, "--disk-mib-per-s"));
  }
  if (f.cpu_workers > 0) {
    out.push_back(stress_fault(f, FaultType::kCpu, f.cpu_after, f.cpu_for, "--cpu-workers"));
  }
  if (std::optional<Fault> n = network_fault(f)) out.push_back(*n);
  for (const Fault& fault : out) validate_fault(fault, "flags");
  return out;
}

// Human lines: stdout, or stderr when stdout carries --json.
bool g_json = false;

void say(double elapsed_s, const std::string& text) {
  stamped_status_line(g_json, printf_text("[inject] +%.2fs ", elapsed_s) + text);
}

// One action as --json lists it.
struct ActionRecord {
  double at_s = 0;
  std::string action;
  std::string node;
  bool ok = false;
  std::string detail;
};

// One fault as it runs: applied and reverted through faults/fault_action.h, as the agent does.
struct Running {
  AppliedFault applied;
  int64_t started_ms = 0;
};

class Injector {
 public:
  Injector(std::vector<Fault> faults, FaultPlugin& plugin, HistoryWriter* history,
           common::Endpoint proxy_api)
      : faults_(std::move(faults)),
        plugin_(plugin),
        history_(history),
        proxy_api_(std::move(proxy_api)) {
    running_.resize(faults_.size());
    for (size_t i = 0; i < faults_.size(); ++i) {
      running_[i].applied.fault = faults_[i];
      running_[i].applied.toxic_name = "bombarder-inject-" + std::to_string(i);
      running_[i].applied.helper_output_to_stderr = g_json;
    }
  }

  // The whole run; false when an action failed or the run was interrupted.
  bool run(Clock::time_point origin, milliseconds settle, SignalWatch& signals) {
    origin_ = origin;
    struct Event {
      milliseconds at;
      size_t fault;
      bool end;
    };
    milliseconds last{0};
    for (const Fault& f : faults_) last = std::max(last, f.at + f.duration);
    const milliseconds run_end = last + settle;
    std::vector<Event> events;
    for (size_t i = 0; i < faults_.size(); ++i) {
      events.push_back({faults_[i].at, i, false});
      const milliseconds end =
          faults_[i].duration.count() > 0 ? faults_[i].at + faults_[i].duration : run_end;
      events.push_back({end, i, true});
    }
    // Ends before starts at the same instant: a resume at t never follows a pause at t.
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return a.at != b.at ? a.at < b.at : a.end && !b.end;
    });
    events.push_back({run_end, faults_.size(), true});  // the settle period's end
    bool ok = true;
    for (const Event& e : events) {
      for (;;) {
        const auto left = std::chrono::duration_cast<milliseconds>(origin_ + e.at - Clock::now());
        if (left.count() <= 0) break;
        if (const int signal = signals.wait(left)) {
          say(elapsed(), "signal " + std::to_string(signal) + ": reverting every active fault");
          revert_all();
          return false;
        }
      }
      if (e.fault == faults_.size()) break;
      ok = (e.end ? finish(e.fault) : begin(e.fault)) && ok;
    }
    revert_all();  // nothing is active here unless a revert failed; a second try costs nothing
    return ok && !revert_failed_;
  }

  // Ends every fault still active, the most recent first.
  void revert_all() {
    for (size_t i = running_.size(); i-- > 0;) {
      if (running_[i].applied.active) (void)finish(i);
    }
  }

  [[nodiscard]] const std::vector<NodeFaultWindow>& windows() const { return windows_; }
  [[nodiscard]] const std::vector<ActionRecord>& actions() const { return actions_; }

  // After the run: what the plugin says about every node a fault touched, so that the log shows
  // nothing was left down or paused.
  void report_status() {
    std::vector<std::string> seen;
    for (const Running& r : running_) {
      const std::string& node = r.applied.node;
      if (node.empty() || std::find(seen.begin(), seen.end(), node) != seen.end()) continue;
      seen.push_back(node);
      const bool proxy = r.applied.fault.type == FaultType::kNetwork;
      const ActionResult status = proxy ? proxy_status(node) : plugin_.status(node);
      say(elapsed(), std::string("status ") + (proxy ? "proxy " : "node ") + node +
                         (status.ok ? ": " : " unknown: ") + status.detail);
    }
  }

 private:
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - origin_).count(); }
  int64_t elapsed_ms() const {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - origin_).count();
  }
  void record(const std::string& action, const std::string& node, const ActionResult& result) {
    actions_.push_back({elapsed(), action, node, result.ok, result.detail});
    if (history_ == nullptr) return;
    const std::string& detail = result.detail;
    uint64_t id = 0;
    const bool numeric = !node.empty() && std::all_of(node.begin(), node.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) id = std::stoull(node);
    history_->fault(action, id, node, detail);
  }

  bool begin(size_t i) {
    Running& r = running_[i];
    AppliedFault& a = r.applied;
    const Fault& f = a.fault;
    // Resolved here rather than in apply_fault: a target that does not resolve (no leader) ends
    // the run, every active fault reverted (run_inject).
    a.node = resolve_fault_node(plugin_, f);
    const std::string who = f.type == FaultType::kNetwork ? "proxy " + a.node
                            : f.node == a.node            ? "node " + a.node
                                                          : f.node + " (node " + a.node + ")";
    const ActionResult result = apply_resolved_fault(plugin_, proxy_api_, a);
    const std::string action = std::string(to_string(f.type));
    say(elapsed(), action + " " + who + (result.ok ? ": " : " FAILED: ") + result.detail);
    record(action, a.node, result);
    r.started_ms = elapsed_ms();
    return result.ok;
  }

  bool finish(size_t i) {
    Running& r = running_[i];
    if (!r.applied.active) return true;
    const FaultType type = r.applied.fault.type;
    const std::string action = revert_action_name(type);
    const ActionResult result = revert_fault(plugin_, proxy_api_, r.applied);
    if (type == FaultType::kKill || type == FaultType::kPause) {
      windows_.push_back({r.applied.node, r.started_ms, elapsed_ms()});
    }
    const std::string who = type == FaultType::kNetwork ? "proxy " : "node ";
    say(elapsed(),
        action + " " + who + r.applied.node + (result.ok ? ": " : " FAILED: ") + result.detail);
    record(action, r.applied.node, result);
    if (!result.ok) revert_failed_ = true;
    return result.ok;
  }

  ActionResult proxy_status(const std::string& proxy) {
    const ApiResponse r = client_.get(proxy_api_, "/proxies/" + proxy + "/toxics", kProxyTimeout);
    const Json toxics = r.status == 200 ? r.json() : Json();
    if (!toxics.is_array()) return {false, r.describe()};
    return {true, "proxy has " + std::to_string(toxics.size()) + " toxic(s)"};
  }

  static constexpr std::chrono::milliseconds kProxyTimeout{5000};
  std::vector<Fault> faults_;
  FaultPlugin& plugin_;
  HistoryWriter* history_;
  common::Endpoint proxy_api_;
  ApiClient client_{ApiClient::Transport::kPlain};  // the proxy's API is plain HTTP
  std::vector<Running> running_;
  std::vector<NodeFaultWindow> windows_;
  std::vector<ActionRecord> actions_;
  Clock::time_point origin_;
  bool revert_failed_ = false;
};

std::vector<LoadTarget> load_targets(const InjectFlags& f) {
  std::vector<LoadTarget> targets;
  if (!f.nodes.empty()) {
    const std::vector<common::Endpoint> endpoints = parse_node_list(f.nodes);
    const std::optional<ClusterRecord> record = load_cluster_record();
    for (size_t i = 0; i < endpoints.size(); ++i) {
      const NodeRecord* n = record ? record->find(endpoints[i]) : nullptr;
      targets.push_back(
          {n != nullptr ? std::to_string(n->id) : endpoints[i].to_string(), endpoints[i]});
    }
    return targets;
  }
  const std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) {
    environment_failure("--load needs --nodes or a cluster recorded in " +
                        cluster_record_path().string());
  }
  for (const NodeRecord& n : record->nodes) targets.push_back({std::to_string(n.id), n.endpoint});
  return targets;
}

void print_load_summary(const LoadSummary& s, const std::string& csv) {
  std::fprintf(status_stream(g_json), "[load] Request summary:\n");
  std::fprintf(status_stream(g_json), "[load] Total requests: %llu\n",
               static_cast<unsigned long long>(s.total));
  std::fprintf(status_stream(g_json), "[load] Successful (2xx): %llu\n",
               static_cast<unsigned long long>(s.ok));
  for (const auto& [code, count] : s.failures_by_code) {
    std::fprintf(status_stream(g_json), "[load] Failed (%s): %llu\n", code.c_str(),
                 static_cast<unsigned long long>(count));
  }
  std::fprintf(
      status_stream(g_json),
      "[load] Expected failures (requests aimed at a faulted node in its fault window): %llu; "
      "observed: %llu in the windows, %llu outside\n",
      static_cast<unsigned long long>(s.expected_failures),
      static_cast<unsigned long long>(s.failures_in_windows),
      static_cast<unsigned long long>(s.failures_outside));
  std::fprintf(status_stream(g_json), "[load] Results saved to %s\n", csv.c_str());
}

// The flag faults and the --schedule file's, at least one.
std::vector<Fault> faults_to_inject(const InjectFlags& f) {
  std::vector<Fault> faults = faults_from_flags(f);
  if (!f.schedule.empty()) {
    std::vector<Fault> scheduled = read_schedule_file(f.schedule);
    faults.insert(faults.end(), scheduled.begin(), scheduled.end());
  }
  if (faults.empty()) {
    invalid_input(
        "no fault given: use --kill-after, --pause-after, --memory-mib, "
        "--disk-mib-per-s, --cpu-workers, --toxic (with --node) or --schedule FILE");
  }
  if (faults.size() > kFaultsMax)
    invalid_input("at most " + std::to_string(kFaultsMax) + " faults");
  return faults;
}

// Refuses, before the first action, a fault the plugin or this machine cannot carry out.
void check_faults_can_run(const std::vector<Fault>& faults, FaultPlugin& plugin) {
  for (const Fault& fault : faults) {
    if (fault.type != FaultType::kNetwork) plugin.validate(fault.node);
    if (fault.type == FaultType::kMemory) {
      const uint64_t available = available_memory_mib();
      if (available == 0 || fault.mib > available * 9 / 10) {
        environment_failure("memory stress of " + std::to_string(fault.mib) +
                            " MiB is more than 90% of the memory available (" +
                            std::to_string(available) + " MiB)");
      }
    }
    if (fault.is_stress() && fault.type == FaultType::kDisk && !plugin.local_data_dir(fault.node)) {
      invalid_input("disk stress needs a node on this machine (--plugin process); " +
                    plugin.name() + " has no local data directory for '" + fault.node + "'");
    }
  }
}

void print_inject_plan(const FaultPlugin& plugin, const std::vector<Fault>& faults,
                       const IntervalLoad* load, milliseconds interval) {
  std::fprintf(status_stream(g_json), "[inject] plugin %s, %zu fault%s:\n", plugin.name().c_str(),
               faults.size(), faults.size() == 1 ? "" : "s");
  for (const Fault& fault : faults) {
    std::fprintf(status_stream(g_json), "[inject]   %s\n", fault.describe().c_str());
  }
  if (load != nullptr) {
    std::fprintf(status_stream(g_json),
                 "[load] a create every %lld ms, round robin over %zu nodes\n",
                 static_cast<long long>(interval.count()), load->targets().size());
  }
  std::fflush(status_stream(g_json));
}

// Stops the load, writes its CSV, prints its summary; the summary as --json shows it.
Json finish_load(IntervalLoad& load, const Injector& injector, const std::string& csv) {
  load.stop();
  const std::vector<LoadSample> samples = load.samples();
  write_load_csv(csv, samples, load.targets(), injector.windows());
  const LoadSummary summary = summarize(samples, load.targets(), injector.windows());
  print_load_summary(summary, csv);
  Json by_code = Json::object();
  for (const auto& [code, count] : summary.failures_by_code) by_code[code] = count;
  return {{"total", summary.total},
          {"ok", summary.ok},
          {"failures_by_code", std::move(by_code)},
          {"expected_failures", summary.expected_failures},
          {"failures_in_windows", summary.failures_in_windows},
          {"failures_outside", summary.failures_outside},
          {"csv", csv}};
}

void print_inject_json(bool ok, const Injector& injector, Json load_json) {
  Json actions = Json::array();
  for (const ActionRecord& a : injector.actions()) {
    actions.push_back({{"at_s", a.at_s},
                       {"action", a.action},
                       {"node", a.node},
                       {"ok", a.ok},
                       {"detail", a.detail}});
  }
  Json windows = Json::array();
  for (const NodeFaultWindow& w : injector.windows()) {
    windows.push_back({{"node", w.node}, {"start_ms", w.start_ms}, {"end_ms", w.end_ms}});
  }
  std::printf("%s\n", Json{{"ok", ok},
                           {"actions", std::move(actions)},
                           {"windows", std::move(windows)},
                           {"load", std::move(load_json)}}
                          .dump(2)
                          .c_str());
  std::fflush(stdout);
}

int run_inject(const InjectFlags& f) {
  g_json = f.json;
  std::vector<Fault> faults = faults_to_inject(f);
  const milliseconds settle = parse_duration(f.settle, "--settle");
  const milliseconds interval = parse_duration(f.interval, "--interval");
  const milliseconds timeout = parse_duration(f.request_timeout, "--request-timeout");
  if (f.load && (interval.count() < 1 || timeout.count() < 1)) {
    invalid_input("--interval and --request-timeout must be at least 1ms");
  }
  std::unique_ptr<FaultPlugin> plugin = make_fault_plugin(f.plugin, f.exec);
  const common::Endpoint proxy_api = parse_node_url(f.proxy_api);
  check_faults_can_run(faults, *plugin);
  std::unique_ptr<HistoryWriter> history;
  if (!f.history.empty()) history = std::make_unique<HistoryWriter>(f.history);
  std::unique_ptr<IntervalLoad> load;
  if (f.load) load = std::make_unique<IntervalLoad>(load_targets(f), interval, timeout);

  SignalWatch signals({SIGINT, SIGTERM});
  print_inject_plan(*plugin, faults, load.get(), interval);
  Injector injector(std::move(faults), *plugin, history.get(), proxy_api);
  const auto origin = Clock::now();
  if (load) load->start(origin);
  bool ok = false;
  try {
    ok = injector.run(origin, settle, signals);
  } catch (...) {
    // An error inside an action: nothing is left paused, killed or stressed behind us.
    injector.revert_all();
    if (load) load->stop();
    throw;
  }
  injector.report_status();
  Json load_json = load ? finish_load(*load, injector, f.csv) : Json(nullptr);
  if (history) history->close();
  std::fprintf(status_stream(g_json), "[inject] %s\n",
               ok ? "done: every fault injected and reverted"
                  : "done with problems (see FAILED or the signal above); every "
                    "fault that was active has been reverted");
  if (f.json) print_inject_json(ok, injector, std::move(load_json));
  return ok ? kExitOk : kExitCheckFailed;
}

}  // namespace

namespace {

void add_stress_flags(CLI::App* cmd, InjectFlags& f) {
  cmd->add_option("--memory-mib", f.memory_mib, "Allocate and touch this many MiB");
  add_duration_option(cmd, "--memory-after", f.memory_after, "Start of the memory stress")
      ->capture_default_str();
  add_duration_option(cmd, "--memory-for", f.memory_for, "Length of the memory stress");
  cmd->add_option("--disk-mib-per-s", f.disk_mib_per_s,
                  "Write and fsync this many MiB per second into the node's data directory");
  add_duration_option(cmd, "--disk-after", f.disk_after, "Start of the disk stress")
      ->capture_default_str();
  add_duration_option(cmd, "--disk-for", f.disk_for, "Length of the disk stress");
  cmd->add_option("--cpu-workers", f.cpu_workers, "Busy threads of the CPU stress");
  add_duration_option(cmd, "--cpu-after", f.cpu_after, "Start of the CPU stress")
      ->capture_default_str();
  add_duration_option(cmd, "--cpu-for", f.cpu_for, "Length of the CPU stress");
}

void add_toxic_flags(CLI::App* cmd, InjectFlags& f) {
  cmd->add_option("--toxic", f.toxic,
                  "Network fault on the proxy named --node: a Toxiproxy toxic type (latency, "
                  "bandwidth, timeout, reset_peer, slicer, limit_data, slow_close, packet_loss)");
  add_duration_option(cmd, "--toxic-after", f.toxic_after, "Start of the toxic")
      ->capture_default_str();
  add_duration_option(cmd, "--toxic-for", f.toxic_for, "Length of the toxic");
  cmd->add_option("--toxic-stream", f.toxic_stream, "downstream or upstream")
      ->capture_default_str();
  cmd->add_option("--toxic-attributes", f.toxic_attributes,
                  "The toxic's attributes as a JSON object, e.g. {\"latency\":500}")
      ->capture_default_str();
  cmd->add_option("--proxy-api", f.proxy_api,
                  "The Toxiproxy-compatible API network faults go to (bombarder proxy)")
      ->capture_default_str();
}

// --plugin, --exec-*, --node and the flags of each fault kind.
void add_fault_flags(CLI::App* cmd, InjectFlags& f) {
  cmd->add_option("--plugin", f.plugin, "process (the recorded local cluster) or exec")
      ->capture_default_str();
  for (const char* action : {"kill", "pause", "resume", "resurrect", "status"}) {
    cmd->add_option(std::string("--exec-") + action, f.exec[action],
                    std::string("exec plugin: the shell command that does '") + action +
                        "', {name} and {signal} substituted");
  }
  cmd->add_option("--node", f.node,
                  "The node of the flag faults: an id, node-<id>, leader or follower (process "
                  "plugin), or any name the exec templates understand");
  add_duration_option(cmd, "--kill-after", f.kill_after, "Kill --node this long after the start");
  add_duration_option(cmd, "--down-for", f.down_for,
                      "Resurrect it this long after the kill [default: when the run ends]");
  cmd->add_option("--signal", f.signal, "TERM or KILL")->capture_default_str();
  add_duration_option(cmd, "--pause-after", f.pause_after,
                      "SIGSTOP --node this long after the start");
  add_duration_option(cmd, "--pause-for", f.pause_for, "SIGCONT it this long after the pause");
  add_stress_flags(cmd, f);
  add_toxic_flags(cmd, f);
}

// The hidden `stress-helper` subcommand that runs a stress fault (stress_helper.h).
void add_stress_helper_command(CLI::App& app, int& exit_code) {
  auto h = std::make_shared<StressHelperFlags>();
  CLI::App* helper = app.add_subcommand("stress-helper", "internal: one stress fault");
  helper->group("");  // hidden: started by inject only
  helper->add_option("--kind", h->kind)->required();
  helper->add_option("--mib", h->mib);
  helper->add_option("--workers", h->workers);
  helper->add_option("--seconds", h->seconds)->required();
  helper->add_option("--dir", h->dir);
  // A stress that failed is the environment's refusal (exit 3), which the injector reports.
  helper->callback(
      [h, &exit_code] { exit_code = run_stress_helper(*h) ? kExitOk : kExitEnvironment; });
}

}  // namespace

void add_inject_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<InjectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inject",
      "Inject timed faults into named nodes and revert each at its end, and on Ctrl-C or "
      "error: kill (TERM or KILL) then resurrect, pause (SIGSTOP) then resume, memory, disk "
      "I/O and CPU stress (a helper process, ended at the fault's end). Faults come from flags "
      "(one node) or a --schedule file, JSON or TOML (docs/fault-kit.md). Durations: 250ms, 3s, "
      "1.5s, "
      "2m or seconds. With --load, a create every --interval goes to the nodes in turn; the "
      "summary sets the failures observed beside those the fault windows predict, and every "
      "request is written to --csv.");
  add_fault_flags(cmd, *f);
  cmd->add_option(
      "--schedule", f->schedule,
      "A file of timed faults: JSON, or TOML when it ends in .toml (docs/fault-kit.md)");
  add_duration_option(cmd, "--settle", f->settle,
                      "The run goes on this long after the last fault ends")
      ->capture_default_str();
  cmd->add_flag("--load", f->load, "Run a load generator alongside");
  cmd->add_option("--nodes", f->nodes, "Nodes the load goes to [default: the recorded cluster]")
      ->delimiter(',');
  add_duration_option(cmd, "--interval", f->interval, "One load request every INTERVAL")
      ->capture_default_str();
  add_duration_option(cmd, "--request-timeout", f->request_timeout, "Bound on each load request")
      ->capture_default_str();
  cmd->add_option("--csv", f->csv, "Where --load writes every request")->capture_default_str();
  cmd->add_option("--history", f->history,
                  "Record every fault action into this history file (docs/history.md)");
  cmd->add_flag("--json", f->json,
                "Print the actions, fault windows and load summary as JSON on stdout (the log "
                "lines go to stderr)");
  cmd->footer(
      "Exit codes: 0 every fault injected and reverted, 1 an action failed or the run was "
      "interrupted (active faults are reverted either way), 2 usage error, 3 environment.");
  cmd->callback([f, &exit_code] { exit_code = run_inject(*f); });
  add_stress_helper_command(app, exit_code);
}

}  // namespace bombarder
