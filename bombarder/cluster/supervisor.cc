#include "bombarder/cluster/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/output.h"
#include "bombarder/base/process.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/base/text.h"
#include "bombarder/cluster/node_restart.h"

namespace bombarder {

namespace {

std::chrono::milliseconds ms_since(Supervisor::Clock::time_point then,
                                   Supervisor::Clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then);
}

}  // namespace

std::chrono::milliseconds restart_delay(const SuperviseSpec& spec, int restarts_in_loop) {
  if (restarts_in_loop <= 0) return std::chrono::milliseconds(0);
  auto delay = spec.backoff_min;
  // Doubling stops at the cap; the bound on the loop keeps the shift finite for any count.
  for (int i = 1; i < restarts_in_loop && delay < spec.backoff_max; ++i) delay *= 2;
  return std::min(delay, spec.backoff_max);
}

Supervisor::Supervisor(SuperviseSpec spec, std::function<void(const std::string&)> log)
    : spec_(spec), log_(std::move(log)) {}

bool Supervisor::round(Clock::time_point now) {
  std::optional<ClusterRecord> record;
  try {
    record = load_cluster_record();
  } catch (const Error& e) {
    log_(std::string("cannot read the cluster record: ") + e.what() + "; retrying");
    return true;
  }
  if (!record) return false;
  const auto timeout =
      std::clamp(spec_.poll, std::chrono::milliseconds(200), std::chrono::milliseconds(2000));
  const std::vector<ApiResponse> beats =
      client_.get_all(record->endpoints(), "/_raft/health", timeout);
  const Clock::time_point after = Clock::now();  // the requests took up to `timeout`
  now = std::max(now, after);
  for (size_t i = 0; i < record->nodes.size(); ++i) {
    const NodeRecord& node = record->nodes[i];
    auto [it, fresh] = watches_.try_emplace(node.id);
    Watch& watch = it->second;
    if (fresh || (watch.pid != node.pid && !watch.dead)) {
      // New to us, or restarted by someone else: its heartbeat gets a full timeout to appear.
      watch.pid = node.pid;
      watch.last_heartbeat = now;
    }
    if (beats[i].status == 200) {
      watch.last_heartbeat = now;
      if (watch.restarts_in_loop > 0 && ms_since(watch.restarted_at, now) >= spec_.stable_after) {
        log_("node " + std::to_string(node.id) + " has been healthy for " +
             format_seconds(spec_.stable_after) + " since its restart: crash-loop backoff reset");
        watch.restarts_in_loop = 0;
      }
    }
    if (!watch.dead && ms_since(watch.last_heartbeat, now) > spec_.dead_after) {
      declare_dead(node, watch, now);
    }
    if (watch.dead && now >= watch.restart_at) restart(node, watch, now);
  }
  return true;
}

void Supervisor::declare_dead(const NodeRecord& node, Watch& watch, Clock::time_point now) {
  const auto delay = restart_delay(spec_, watch.restarts_in_loop);
  std::string why = "no heartbeat for " + format_seconds(ms_since(watch.last_heartbeat, now));
  if (!is_node_process(node.pid, node.node_port(), node.program())) {
    why += ", process gone";
  } else {
    // Alive but silent: hung or paused. It must end before a new one opens its data directory.
    const StopOutcome outcome = kill_process(node.pid);
    why += ", pid " + std::to_string(node.pid) + " " + to_string(outcome);
  }
  if (delay.count() > 0) {
    why += "; crash loop (" + std::to_string(watch.restarts_in_loop) + " restarts without " +
           format_seconds(spec_.stable_after) + " healthy): waiting " + format_seconds(delay);
  }
  log_("node " + std::to_string(node.id) + " is DEAD. Restarting... (" + why + ")");
  watch.dead = true;
  watch.restart_at = now + delay;
}

void Supervisor::restart(const NodeRecord& node, Watch& watch, Clock::time_point now) {
  // No wait for the node to be ready (node_restart.h): the next rounds watch its heartbeat.
  pid_t pid = 0;
  try {
    const Respawned respawned = respawn_recorded_node(node);
    pid = respawned.pid;
    if (!respawned.record_error.empty()) {
      log_("node " + std::to_string(node.id) + ": cannot record pid " + std::to_string(pid) +
           " in the cluster record: " + respawned.record_error);
    }
  } catch (const Error& e) {
    // Retried on a later round, backing off like a failed start.
    log_("node " + std::to_string(node.id) + " restart failed: " + e.what());
    ++watch.restarts_in_loop;
    watch.restart_at = now + restart_delay(spec_, watch.restarts_in_loop);
    return;
  }
  ++restarts_;
  ++watch.restarts_in_loop;
  watch.dead = false;
  watch.pid = pid;
  watch.last_heartbeat = now;
  watch.restarted_at = now;
  log_("node " + std::to_string(node.id) + " restarted: pid " + std::to_string(pid) + " on " +
       node.endpoint.to_string() + " (restarts in a row: " +
       std::to_string(watch.restarts_in_loop) + "; output " + node.output_path.string() + ")");
}

// ---------------------------------------------------------------------------------------------
// bombarder supervise

namespace {

constexpr auto kRegisterTimeout = std::chrono::seconds(10);
constexpr auto kStopGrace = std::chrono::seconds(5);

std::chrono::milliseconds ms_flag(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

void say(const std::string& line) { stamped_status_line(false, line); }

// Registers this process as the cluster's supervisor; refuses a second live one.
ClusterRecord register_supervisor(const std::string& output_path) {
  std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) {
    environment_failure("no cluster recorded in " + cluster_record_path().string() +
                        "; start one with `bombarder cluster start`");
  }
  if (record->supervisor && record->supervisor->pid != ::getpid() &&
      is_supervisor_process(record->supervisor->pid)) {
    environment_failure("the cluster already has a supervisor (pid " +
                        std::to_string(record->supervisor->pid) + ")");
  }
  record->supervisor = SupervisorRecord{::getpid(), output_path};
  save_cluster_record(*record);
  return *record;
}

void deregister_supervisor() {
  try {
    std::optional<ClusterRecord> record = load_cluster_record();
    if (!record || !record->supervisor || record->supervisor->pid != ::getpid()) return;
    record->supervisor.reset();
    save_cluster_record(*record);
  } catch (const Error&) {
    // The record went bad meanwhile: nothing of ours left to remove from it.
  }
}

}  // namespace

void start_background_supervisor(bool json) {
  const std::filesystem::path log = data_root() / "supervisor.log";
  const std::vector<std::string> argv = {(executable_dir() / "bombarder").string(), "supervise",
                                         "--log", log.string()};
  const pid_t pid = spawn_detached(argv, log);
  const auto deadline = Supervisor::Clock::now() + kRegisterTimeout;
  while (Supervisor::Clock::now() < deadline) {
    const std::optional<ClusterRecord> record = load_cluster_record();
    if (record && record->supervisor && record->supervisor->pid == pid) {
      std::fprintf(json ? stderr : stdout, "supervisor: pid %d, log %s\n", static_cast<int>(pid),
                   log.c_str());
      return;
    }
    if (!process_alive(pid)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll, bounded by deadline
  }
  (void)kill_process(pid);
  environment_failure("the supervisor did not start; see " + log.string());
}

std::string stop_recorded_supervisor(const ClusterRecord& record) {
  if (!record.supervisor) return "";
  const pid_t pid = record.supervisor->pid;
  if (!is_supervisor_process(pid)) {
    return "supervisor pid " + std::to_string(pid) + ": not running";
  }
  return "supervisor pid " + std::to_string(pid) + ": " + to_string(stop_process(pid, kStopGrace));
}

void run_supervise(const SuperviseFlags& f, const std::string& output_path) {
  if (!(f.dead_after_s > 0) || !(f.poll_s > 0) || !(f.backoff_min_s > 0) ||
      !(f.backoff_max_s >= f.backoff_min_s) || !(f.stable_after_s >= 0)) {
    invalid_input(
        "--dead-after, --poll and --backoff-min must be positive, --backoff-max at least "
        "--backoff-min");
  }
  if (f.poll_s >= f.dead_after_s) invalid_input("--poll must be shorter than --dead-after");
  SuperviseSpec spec;
  spec.dead_after = ms_flag(f.dead_after_s);
  spec.poll = ms_flag(f.poll_s);
  spec.backoff_min = ms_flag(f.backoff_min_s);
  spec.backoff_max = ms_flag(f.backoff_max_s);
  spec.stable_after = ms_flag(f.stable_after_s);

  if (!output_path.empty() && std::freopen(output_path.c_str(), "a", stdout) == nullptr) {
    environment_failure("cannot open the log " + output_path);
  }
  SignalWatch signals({SIGINT, SIGTERM, SIGHUP});
  const ClusterRecord record = register_supervisor(output_path);
  say("supervising " + std::to_string(record.nodes.size()) + " nodes (pid " +
      std::to_string(::getpid()) + "): dead after " + format_seconds(spec.dead_after) +
      " without a heartbeat, polling every " + format_seconds(spec.poll));
  Supervisor supervisor(spec, say);
  int signal = 0;
  bool record_gone = false;
  while (signal == 0) {
    const auto started = Supervisor::Clock::now();
    if (!supervisor.round(started)) {
      record_gone = true;
      break;
    }
    const auto spent = Supervisor::Clock::now() - started;
    signal = signals.wait(
        std::max(std::chrono::milliseconds(0),
                 spec.poll - std::chrono::duration_cast<std::chrono::milliseconds>(spent)));
  }
  if (record_gone) {
    say("the cluster record is gone (cluster stopped): supervisor exits");
  } else {
    say("signal " + std::to_string(signal) + ": supervisor exits; the nodes keep running");
    deregister_supervisor();
  }
  say("restarts: " + std::to_string(supervisor.restarts()));
}

}  // namespace bombarder
