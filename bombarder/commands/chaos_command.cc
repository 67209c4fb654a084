// `bombarder chaos` (issue 7 "Chaos monkey"): the storm's ChaosMonkey (chaos.h) as a standalone
// command. Every --interval it kills a random eligible node of the recorded cluster (never an
// --exclude'd id), keeps it down for --downtime and restarts it; SIGUSR1 on the monkey kills one
// at once. Every action is printed with a UTC timestamp and, with --history, recorded as a fault.
// The monkey is not a node, so "never itself" holds by construction: it only signals PIDs that
// cluster.json names and that are stress_node processes.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>

#include "bombarder/base/output.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/faults/chaos.h"
#include "bombarder/faults/fault_schedule.h"
#include "bombarder/history/history.h"

namespace bombarder {

using Json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

struct ChaosFlags {
  std::string config;
  std::string interval = "10s";
  std::string downtime = "2s";
  std::string signal = "KILL";
  std::string target = "any";
  std::vector<uint64_t> exclude;
  std::string enabled = "true";
  std::string duration;  // "" = until a signal
  std::string history;
  uint64_t seed = 0;
  CLI::App* cmd = nullptr;
};

bool given(const ChaosFlags& f, const char* flag) { return f.cmd->count(flag) > 0; }

// The config file's values for what the command line does not give.
void apply_config(ChaosFlags& f) {
  if (f.config.empty()) return;
  std::ifstream in(f.config);
  if (!in) invalid_input("--config: cannot read " + f.config);
  const Json c = Json::parse(in, nullptr, false);
  if (!c.is_object()) invalid_input("--config: " + f.config + " is not a JSON object");
  try {
    for (const auto& [key, value] : c.items()) {
      if (key == "enabled") {
        if (!given(f, "--enabled")) f.enabled = value.get<bool>() ? "true" : "false";
      } else if (key == "interval" || key == "downtime") {
        std::string& slot = key == "interval" ? f.interval : f.downtime;
        if (!given(f, ("--" + key).c_str())) {
          slot = value.is_number() ? std::to_string(value.get<double>()) : value.get<std::string>();
        }
      } else if (key == "exclude") {
        if (!given(f, "--exclude")) f.exclude = value.get<std::vector<uint64_t>>();
      } else if (key == "signal" || key == "target") {
        std::string& slot = key == "signal" ? f.signal : f.target;
        if (!given(f, ("--" + key).c_str())) slot = value.get<std::string>();
      } else {
        invalid_input("--config: unknown member \"" + key + "\" in " + f.config +
                      " (enabled, interval, downtime, exclude, signal, target)");
      }
    }
  } catch (const Json::exception& e) {
    invalid_input("--config: " + f.config + ": " + e.what());
  }
}

ChaosSpec build_spec(const ChaosFlags& f) {
  ChaosSpec spec;
  spec.kill_interval = parse_duration(f.interval, "--interval");
  if (spec.kill_interval.count() < 100) invalid_input("--interval must be at least 100ms");
  spec.downtime = parse_duration(f.downtime, "--downtime");
  if (f.signal == "KILL") {
    spec.signal = ChaosSpec::Signal::kKill;
  } else if (f.signal == "TERM") {
    spec.signal = ChaosSpec::Signal::kTerm;
  } else if (f.signal == "random") {
    spec.signal = ChaosSpec::Signal::kRandom;
  } else {
    invalid_input("--signal must be KILL, TERM or random, not '" + f.signal + "'");
  }
  if (f.target == "any") {
    spec.target = ChaosSpec::Target::kAny;
  } else if (f.target == "leader") {
    spec.target = ChaosSpec::Target::kLeader;
  } else if (f.target == "follower") {
    spec.target = ChaosSpec::Target::kFollower;
  } else {
    invalid_input("--target must be any, leader or follower, not '" + f.target + "'");
  }
  if (f.enabled != "true" && f.enabled != "false") {
    invalid_input("--enabled must be true or false, not '" + f.enabled + "'");
  }
  spec.scheduled = f.enabled == "true";
  spec.exclude = f.exclude;
  spec.seed = f.seed;
  return spec;
}

// The recorded cluster, with at least one node the --exclude list leaves; `eligible` counts them.
ClusterRecord chaos_cluster(const ChaosSpec& spec, size_t& eligible) {
  std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) {
    environment_failure("no cluster recorded in " + cluster_record_path().string() +
                        "; start one with `bombarder cluster start`");
  }
  eligible = 0;
  for (const NodeRecord& n : record->nodes) {
    if (std::find(spec.exclude.begin(), spec.exclude.end(), n.id) == spec.exclude.end()) {
      ++eligible;
    }
  }
  if (eligible == 0) invalid_input("--exclude leaves no node to kill");
  return std::move(*record);
}

// The first line: what the monkey will do, its seed, and how to trigger a kill.
std::string chaos_plan_line(const ChaosFlags& f, const ChaosSpec& spec, size_t eligible) {
  std::string excluded;
  for (uint64_t id : spec.exclude) excluded += (excluded.empty() ? "" : ",") + std::to_string(id);
  return "pid " + std::to_string(::getpid()) + ": " +
         (spec.scheduled ? "a kill every " + format_seconds(spec.kill_interval)
                         : std::string("scheduled kills disabled")) +
         ", down for " + format_seconds(spec.downtime) + ", signal " + f.signal + ", target " +
         f.target + ", " + std::to_string(eligible) + " eligible node(s)" +
         (excluded.empty() ? "" : " (excluded: " + excluded + ")") + ", seed " +
         std::to_string(spec.seed) + " (--seed replays the victim choice); `kill -USR1 " +
         std::to_string(::getpid()) + "` kills one now";
}

// Until --duration passes or SIGINT/SIGTERM comes (returned; 0 for the duration); SIGUSR1
// triggers a kill meanwhile.
int run_until_stopped(ChaosMonkey& monkey, SignalWatch& signals, std::chrono::milliseconds duration,
                      const std::function<void(const std::string&)>& say) {
  const auto started = Clock::now();
  monkey.start();
  for (;;) {
    std::chrono::milliseconds wait{1000};
    if (duration.count() > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(started + duration - Clock::now());
      if (left.count() <= 0) return 0;
      wait = std::min(wait, left);
    }
    const int signal = signals.wait(wait);
    if (signal == SIGUSR1) {
      say("SIGUSR1: killing a node now");
      monkey.trigger();
    } else if (signal != 0) {
      return signal;
    }
  }
}

int run_chaos(ChaosFlags& f) {
  apply_config(f);
  const ChaosSpec spec = build_spec(f);
  // 0: until a signal.
  const std::chrono::milliseconds duration =
      f.duration.empty() ? std::chrono::milliseconds(0) : parse_duration(f.duration, "--duration");
  size_t eligible = 0;
  const ClusterRecord record = chaos_cluster(spec, eligible);
  std::unique_ptr<HistoryWriter> history;
  if (!f.history.empty()) history = std::make_unique<HistoryWriter>(f.history);
  std::mutex out_mutex;
  const std::function<void(const std::string&)> say = [&out_mutex](const std::string& line) {
    std::lock_guard lock(out_mutex);
    stamped_status_line(false, "[chaos] " + line);
  };
  SignalWatch signals({SIGINT, SIGTERM, SIGUSR1});
  say(chaos_plan_line(f, spec, eligible));
  ChaosMonkey monkey(record, spec, [&](const ChaosEvent& e) {
    char at[32];
    std::snprintf(at, sizeof at, "+%.2fs", e.at_s);
    say(std::string(at) + " " + e.action + " node " + std::to_string(e.node_id) + " (" + e.address +
        "): " + e.detail);
    if (history) history->fault(e.action, e.node_id, e.address, e.detail);
  });
  const int stop_signal = run_until_stopped(monkey, signals, duration, say);
  say(stop_signal != 0 ? "signal " + std::to_string(stop_signal) + ": stopping"
                       : "duration reached: stopping");
  const std::vector<ChaosEvent> events = monkey.stop();
  size_t kills = 0;
  for (const ChaosEvent& e : events) kills += e.action == "sigkill" || e.action == "sigterm";
  say(std::to_string(kills) + " kill(s), every node " +
      (monkey.all_restarted() ? "restarted and serving" : "NOT restarted (see above)"));
  if (history) history->close();
  return monkey.all_restarted() ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_chaos_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ChaosFlags>();
  CLI::App* cmd = app.add_subcommand(
      "chaos",
      "A chaos monkey for the recorded cluster: every --interval it kills a random eligible "
      "node (never an --exclude'd id), keeps it down for --downtime and restarts it with its "
      "recorded command line; one node is down at a time. `kill -USR1 <pid>` kills one at "
      "once, also when scheduled kills are disabled (--enabled false). Every action is "
      "printed with a UTC timestamp; --history records them. Runs until Ctrl-C/SIGTERM or "
      "--duration; a node that is down then is restarted first.");
  f->cmd = cmd;
  cmd->add_option("--config", f->config,
                  "JSON file with enabled, interval, downtime, exclude, signal, target; flags "
                  "given on the command line win");
  add_duration_option(cmd, "--interval", f->interval, "Time between kills")->capture_default_str();
  add_duration_option(cmd, "--downtime", f->downtime, "How long a victim stays down")
      ->capture_default_str();
  cmd->add_option("--signal", f->signal, "KILL, TERM or random")->capture_default_str();
  cmd->add_option("--target", f->target, "any, leader or follower")->capture_default_str();
  cmd->add_option("--exclude", f->exclude, "Node ids never killed, comma-separated")
      ->delimiter(',');
  cmd->add_option("--enabled", f->enabled, "true or false: kill on the schedule")
      ->capture_default_str();
  add_duration_option(cmd, "--duration", f->duration,
                      "Stop after this long [default: until a signal]");
  cmd->add_option("--history", f->history, "Record every action into this history file");
  cmd->add_option("--seed", f->seed, "Seed of the victim choice")->capture_default_str();
  cmd->footer(
      "Exit codes: 0 stopped and every victim restarted, 1 a victim was not restarted, 2 usage "
      "error, 3 no cluster recorded.");
  cmd->callback([f, &exit_code] { exit_code = run_chaos(*f); });
}

}  // namespace bombarder
