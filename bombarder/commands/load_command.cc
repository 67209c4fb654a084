// flood, burst, mixed, storm [--chaos] (issue 4 "Load" and "Chaos"; the reference README's
// "Stress Tests" table gives the commands, flags and defaults).
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>

#include "bombarder/base/errors.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/base/terminal.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_tls.h"
#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/metrics_flags.h"
#include "bombarder/faults/chaos.h"
#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"
#include "bombarder/history/report.h"
#include "bombarder/history/run_record.h"
#include "bombarder/load/load_engine.h"
#include "bombarder/load/load_metrics.h"
#include "bombarder/load/load_report.h"
#include "bombarder/load/role_sampler.h"

namespace bombarder {

namespace {

using namespace std::chrono_literals;

enum class Command { kFlood, kBurst, kMixed, kStorm };

struct LoadFlags {
  Command command = Command::kFlood;
  std::string name;
  std::vector<std::string> nodes;
  uint64_t count = 100;
  double duration_s = 0;
  size_t concurrency = 10;
  size_t value_bytes = 64;
  double timeout_s = 5;
  double deadline_s = 30;
  double min_success = 100;
  size_t threads = 0;
  bool json = false;
  std::string csv;
  std::string history;
  bool check = false;
  double check_timeout_s = 60;
  std::string report;
  // burst
  uint64_t burst_size = 50;
  uint64_t bursts = 5;
  uint64_t pause_ms = 1000;
  // storm
  uint32_t read_pct = 30;
  uint32_t list_pct = 0;  // mixed, storm
  bool breaker = false;
  uint32_t breaker_failures = 5;
  double breaker_cooldown_s = 1;
  bool chaos = false;
  double kill_interval_s = 10;
  double downtime_s = 2;
  std::string kill_signal = "random";
  std::string kill_target = "any";
  uint64_t seed = 0;
  MetricsFlags metrics;
  CLI::Option* count_option = nullptr;
  CLI::Option* duration_option = nullptr;
  CLI::Option* seed_option = nullptr;
};

std::chrono::milliseconds seconds_flag(double seconds, const char* flag) {
  if (!(seconds > 0) || seconds > 86400) {
    usage_error(std::string(flag) + " must be a duration in (0s, 86400s]");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

void add_common_flags(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--nodes", f.nodes,
                  "Nodes to send load to, comma-separated URLs "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]")
      ->delimiter(',');
  f.count_option = cmd->add_option("--count", f.count, "Requests to send")->capture_default_str();
  f.duration_option =
      add_seconds_option(cmd, "--duration", f.duration_s, "Run this long instead of a --count");
  f.count_option->excludes(f.duration_option);
  cmd->add_option("--concurrency", f.concurrency, "Requests in flight at once")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--value-bytes", f.value_bytes, "Size of each written value")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  add_seconds_option(cmd, "--timeout", f.timeout_s, "How long one attempt may take")
      ->capture_default_str();
  add_seconds_option(cmd, "--deadline", f.deadline_s,
                     "How long one request may take with its retries; past it the request fails "
                     "(a write as 'outcome unknown' if an attempt may have reached the log)")
      ->capture_default_str();
  cmd->add_option("--min-success", f.min_success,
                  "Exit 1 when the success percentage falls below this")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--threads", f.threads, "Client I/O threads [default: min(cores, 4)]");
  cmd->add_flag("--json", f.json, "Print the summary as JSON");
  cmd->add_option("--csv", f.csv,
                  "Write one row per request to this file: time_unix_s, node, operation, "
                  "status, latency_ms, attempts, outcome");
  cmd->add_flag("--circuit-breaker", f.breaker,
                "Per-node circuit breakers: after --breaker-failures consecutive failed attempts "
                "(transport error, timeout, 5xx) a node gets no attempts for --breaker-cooldown "
                "seconds, then one probe; the summary shows each breaker's transitions");
  cmd->add_option("--breaker-failures", f.breaker_failures,
                  "Consecutive failed attempts that open a node's breaker")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  add_seconds_option(cmd, "--breaker-cooldown", f.breaker_cooldown_s,
                     "How long an open breaker refuses attempts before its half-open probe")
      ->capture_default_str();
  cmd->add_option("--history", f.history,
                  "Record every operation and fault to this file, one JSON object per line "
                  "(docs/history.md)");
  cmd->add_flag("--check", f.check,
                "After the load, check that the recorded history is linearizable (recorded to "
                "the run's history.jsonl unless --history is given); exit 1 unless it is");
  add_seconds_option(cmd, "--check-timeout", f.check_timeout_s,
                     "How long the --check search may take; past it the verdict is unknown")
      ->capture_default_str();
  cmd->add_option("--report", f.report,
                  "After the load, write an HTML report of the run to this file (records the "
                  "history like --check; includes the checker's verdict; docs/report.md)");
  add_metrics_flags(cmd, f.metrics);
}

// Who each load node is, for the role lines: the id it gave in the first survey, else the
// recorded cluster's, else its position in --nodes.
std::vector<RoleSampler::Node> sampler_nodes(const ClusterView& view,
                                             const std::optional<ClusterRecord>& record) {
  std::vector<RoleSampler::Node> nodes;
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    RoleSampler::Node node{i, view.nodes[i].endpoint};
    if (view.nodes[i].status) {
      node.id = view.nodes[i].status->node_id;
    } else if (const NodeRecord* recorded = record ? record->find(node.endpoint) : nullptr) {
      node.id = recorded->id;
    }
    nodes.push_back(node);
  }
  return nodes;
}

void add_list_pct_flag(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--list-pct", f.list_pct,
                  "Percentage of key lookups (GET /api/kv?key=K of a key this run created), taken "
                  "proportionally from the other operations")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
}

struct Output {
  std::mutex mutex;
  bool progress = false;
};

int run_load_command(const LoadFlags& f) {
  std::vector<common::Endpoint> nodes =
      f.nodes.empty() ? default_nodes() : parse_node_list(f.nodes);
  check_metrics_flags(f.metrics);
  const auto attempt_timeout = seconds_flag(f.timeout_s, "--timeout");
  const auto deadline = seconds_flag(f.deadline_s, "--deadline");
  std::optional<std::chrono::milliseconds> duration;
  if (*f.duration_option) duration = seconds_flag(f.duration_s, "--duration");
  if (!duration && f.count == 0) usage_error("--count must be at least 1");

  ChaosSpec chaos_spec;
  if (f.kill_signal == "kill") {
    chaos_spec.signal = ChaosSpec::Signal::kKill;
  } else if (f.kill_signal == "term") {
    chaos_spec.signal = ChaosSpec::Signal::kTerm;
  } else if (f.kill_signal != "random") {
    usage_error("--kill-signal must be kill, term or random, not '" + f.kill_signal + "'");
  }
  if (f.kill_target == "leader") {
    chaos_spec.target = ChaosSpec::Target::kLeader;
  } else if (f.kill_target == "follower") {
    chaos_spec.target = ChaosSpec::Target::kFollower;
  } else if (f.kill_target != "any") {
    usage_error("--kill-target must be any, leader or follower, not '" + f.kill_target + "'");
  }

  // Chaos needs the processes, not just the addresses: the recorded cluster.
  std::optional<ClusterRecord> record;
  if (f.chaos) {
    record = load_cluster_record();
    if (!record) {
      environment_error(
          "--chaos kills and restarts the nodes of a cluster started by "
          "`bombarder cluster start`; there is no " +
          cluster_record_path().string());
    }
    for (const auto& node : nodes) {
      if (record->find(node) == nullptr) {
        usage_error("--chaos: " + node.to_string() + " is not a node of the recorded cluster");
      }
    }
    chaos_spec.kill_interval = seconds_flag(f.kill_interval_s, "--kill-interval");
    chaos_spec.downtime = seconds_flag(f.downtime_s, "--downtime");
    // Without an explicit size, a chaos storm lasts three kill intervals so that kills happen.
    if (!duration && !*f.count_option) {
      duration = 3 * chaos_spec.kill_interval + chaos_spec.downtime;
    }
  }
  const uint64_t seed =
      (f.seed_option != nullptr && *f.seed_option) ? f.seed : std::random_device{}();
  chaos_spec.seed = seed;

  if (!f.report.empty()) {
    // Refuse an unwritable report before the load, not after it; a file made only to find that
    // out goes again, so a run that fails later leaves no empty report behind.
    std::error_code ignored;
    const bool existed = std::filesystem::exists(f.report, ignored);
    if (!std::ofstream(f.report, std::ios::app)) {
      environment_error("cannot write the report " + f.report + ": " + std::strerror(errno));
    }
    if (!existed) std::filesystem::remove(f.report, ignored);
  }
  ApiClient client;
  const bool wants_leader = f.command != Command::kStorm;
  ClusterView view = survey(client, nodes);
  if (view.reachable() > 0 && wants_leader && !view.leader) {
    view = wait_for_leader(client, nodes, 10s);  // an election may be under way
  }
  if (view.reachable() == 0) {
    std::string why = view.nodes.empty() ? "" : view.nodes[0].error;
    environment_error("no node answers /status (" + node_url(nodes[0]) + ": " + why +
                      "); is a cluster running? (`bombarder cluster start`)");
  }
  size_t leader = 0;
  if (wants_leader) {
    if (!view.leader) environment_error("no leader elected among the given nodes within 10 s");
    leader = *view.leader;
  }

  const auto check_timeout = seconds_flag(f.check_timeout_s, "--check-timeout");
  // Bound before anything is recorded: a taken port ends the command with nothing left behind.
  LoadMetrics metrics(f.name);
  const std::unique_ptr<MetricsServer> metrics_server =
      start_metrics_server(f.metrics, metrics, nullptr);
  RunRecord run = begin_run_record(f.name);
  std::unique_ptr<HistoryWriter> history;
  if (!f.history.empty() || f.check || !f.report.empty()) {
    history = std::make_unique<HistoryWriter>(f.history.empty() ? run.dir / "history.jsonl"
                                                                : std::filesystem::path(f.history));
  }
  LoadSpec spec;
  spec.name = f.name;
  spec.nodes = nodes;
  spec.tls = node_tls_context();
  spec.leader = leader;
  spec.count = duration ? 0 : f.count;
  spec.duration = duration.value_or(0ms);
  spec.concurrency = f.concurrency;
  spec.value_bytes = f.value_bytes;
  spec.attempt_timeout = attempt_timeout;
  spec.deadline = deadline;
  spec.threads = f.threads;
  spec.csv_path = f.csv;
  spec.history = history.get();
  if (f.breaker) {
    spec.breaker = BreakerOptions{f.breaker_failures,
                                  seconds_flag(f.breaker_cooldown_s, "--breaker-cooldown")};
  }
  spec.key_prefix = f.name + "-" + run.id;
  spec.idempotency_prefix = run.id + "-";
  switch (f.command) {
    case Command::kFlood:
    case Command::kBurst:
      spec.mix = OpMix::creates_only();
      spec.targeting = Targeting::kLeader;
      break;
    case Command::kMixed:
      spec.mix = OpMix::mixed().with_lists(f.list_pct);
      spec.targeting = Targeting::kLeader;
      break;
    case Command::kStorm:
      spec.mix = OpMix::storm(f.read_pct).with_lists(f.list_pct);
      spec.targeting = Targeting::kRandomNode;
      break;
  }

  Output output;
  output.progress = !f.json && stderr_is_terminal();
  // Ctrl-C during the load ends it gracefully (the summary, record and check still follow);
  // outside the load and the metrics linger it keeps its default meaning.
  std::optional<SignalWatch> signals;
  signals.emplace(std::initializer_list<int>{SIGINT});
  spec.stop_requested = [] { return SignalWatch::flag().load(); };
  if (output.progress) {
    spec.on_progress = [&output, &f](const LoadProgress& p) {
      std::lock_guard lock(output.mutex);
      draw_progress(stderr, f.name, p);
    };
  }

  RunHeader header;
  header.command = f.name;
  header.concurrency = f.concurrency;
  header.min_success_pct = f.min_success;
  header.target = wants_leader ? std::to_string(nodes.size()) + " nodes, to the leader " +
                                     nodes[leader].to_string()
                               : "random ops on " + std::to_string(nodes.size()) + " nodes";
  if (!f.json) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f s",
                  static_cast<double>(spec.duration.count()) / 1000.0);
    std::string plan = duration ? std::string(seconds) : std::to_string(f.count) + " requests";
    if (f.command == Command::kBurst) {
      plan = std::to_string(f.bursts) + " bursts of " + std::to_string(f.burst_size) + ", pause " +
             std::to_string(f.pause_ms) + " ms";
    }
    std::printf("%s: %s, %s, concurrency %zu, run %s\n", f.name.c_str(), header.target.c_str(),
                plan.c_str(), f.concurrency, run.id.c_str());
    if (f.chaos) {
      std::printf("chaos: every %.1f s kill a %s node (%s), restart after %.1f s, seed %llu\n",
                  f.kill_interval_s, f.kill_target.c_str(), f.kill_signal.c_str(), f.downtime_s,
                  static_cast<unsigned long long>(seed));
    }
    std::fflush(stdout);
  }
  if (metrics_server) {
    std::fprintf(f.json ? stderr : stdout, "metrics: %s\n", metrics_server->url().c_str());
    std::fflush(f.json ? stderr : stdout);
    spec.metrics = &metrics;
  }

  std::unique_ptr<RoleSampler> roles;
  if (history) {
    roles = std::make_unique<RoleSampler>(sampler_nodes(view, record), *history);
    roles->start();
  }
  std::unique_ptr<ChaosMonkey> monkey;
  if (f.chaos) {
    monkey = std::make_unique<ChaosMonkey>(*record, chaos_spec, [&](const ChaosEvent& e) {
      if (history) history->fault(e.action, e.node_id, e.address, e.detail);
      if (f.json) return;
      std::lock_guard lock(output.mutex);
      if (output.progress) clear_progress(stderr);
      std::fprintf(stderr, "[chaos t=%.2fs] %s node %llu (%s): %s\n", e.at_s, e.action.c_str(),
                   static_cast<unsigned long long>(e.node_id), e.address.c_str(), e.detail.c_str());
    });
    monkey->start();
  }

  LoadResult result;
  std::string burst_lines;
  if (f.command == Command::kBurst) {
    for (uint64_t b = 0; b < f.bursts && !signals->interrupted(); ++b) {
      if (b > 0) {
        // The pause is the point of a burst test: idle time between batches.
        for (uint64_t waited = 0; waited < f.pause_ms && !signals->interrupted(); waited += 10) {
          std::this_thread::sleep_for(10ms);
        }
      }
      LoadSpec one = spec;
      one.count = f.burst_size;
      one.duration = 0ms;
      one.concurrency = std::min<size_t>(f.concurrency, f.burst_size);
      one.key_prefix = spec.key_prefix + "-b" + std::to_string(b);
      one.idempotency_prefix = spec.idempotency_prefix + "b" + std::to_string(b) + "-";
      if (b > 0) one.csv_path.clear();  // one CSV per run: see below
      LoadResult part = run_load(one);
      char line[160];
      std::snprintf(
          line, sizeof line, "    burst %llu/%llu: %llu ok, %llu failed in %.3f s (%.0f req/s)\n",
          static_cast<unsigned long long>(b + 1), static_cast<unsigned long long>(f.bursts),
          static_cast<unsigned long long>(part.succeeded),
          static_cast<unsigned long long>(part.failed),
          std::chrono::duration<double>(part.elapsed).count(), part.throughput());
      burst_lines += line;
      result.elapsed += part.elapsed;
      merge_results(result, std::move(part));
    }
  } else {
    result = run_load(spec);
  }
  std::vector<ChaosEvent> events;
  bool restarts_ok = true;
  if (monkey) {
    events = monkey->stop();
    restarts_ok = monkey->all_restarted();
  }
  if (roles) roles->stop();  // after the monkey: the last sample sees the restarted node
  const bool interrupted = signals->interrupted();
  signals.reset();
  if (output.progress) clear_progress(stderr);
  std::optional<CheckResult> check;
  std::string check_text;       // human
  std::string check_json_text;  // for the summary
  std::filesystem::path history_path;
  if (history) {
    history_path = history->path();
    history->close();
  }
  History recorded;
  std::optional<CheckResult> report_check;  // the verdict shown in the report
  if (f.check || !f.report.empty()) recorded = load_history(history_path);
  if (f.check) {
    if (!f.json) {
      std::printf("checking the history %s ...\n", history_path.c_str());
      std::fflush(stdout);
    }
    CheckOptions options;
    options.timeout = check_timeout;
    check = check_history(recorded, options);
    check_json_text = check_json(recorded, *check);
    if (!f.json) check_text = describe_check(recorded, *check);
    report_check = check;
  } else if (!f.report.empty()) {
    CheckOptions options;
    options.timeout = check_timeout;
    report_check = check_history(recorded, options);
  }

  run.acked = std::move(result.acked);
  run.summary = json_summary(header, result, events);
  run.summary["run_id"] = run.id;
  run.summary["seed"] = seed;
  run.summary["nodes"] = Json::array();
  for (const auto& node : nodes) run.summary["nodes"].push_back(node.to_string());
  run.summary["acked_ids"] = run.acked.size();
  if (history) run.summary["history"] = history_path.string();
  if (check) run.summary["check"] = Json::parse(check_json_text);
  if (!f.report.empty()) run.summary["report"] = f.report;
  save_run_record(run);
  if (!f.report.empty()) {
    ReportOptions options;
    options.source = history_path.string();
    write_report_file(f.report, render_report(recorded, run.summary, report_check, options));
  }

  const bool passed = result.success_pct() >= f.min_success && !result.interrupted && restarts_ok &&
                      (!check || check->verdict == Verdict::kOk);
  if (f.json) {
    Json out = run.summary;
    out["passed"] = passed;
    out["record"] = run.dir.string();
    std::cout << out.dump(2) << std::endl;
  } else {
    std::cout << human_summary(header, result, events);
    if (!burst_lines.empty()) std::cout << "  bursts:\n" << burst_lines;
    if (f.chaos && events.empty()) {
      std::cout << "  note: the run ended before the first kill; use --duration for longer runs\n";
    }
    if (!restarts_ok) std::cout << "  a node the chaos stopped did not come back (see above)\n";
    std::cout << "  record      " << run.dir.string() << " (" << run.acked.size()
              << " acknowledged ids; `bombarder verify` checks them)\n";
    if (history) std::cout << "  history     " << history_path.string() << "\n";
    if (!f.report.empty()) {
      std::cout << "  report      " << f.report << " (verdict " << to_string(report_check->verdict)
                << (check ? "" : "; only --check makes the run fail on it") << ")\n";
    }
    if (check) {
      std::cout << "  linearizability check (`bombarder check " << history_path.string() << "`):\n";
      size_t from = 0;
      while (from < check_text.size()) {
        const size_t to = check_text.find('\n', from);
        std::cout << "    " << check_text.substr(from, to - from) << "\n";
        if (to == std::string::npos) break;
        from = to + 1;
      }
      if (check->verdict != Verdict::kOk) {
        std::cout << "  result      FAIL (the history is "
                  << (check->verdict == Verdict::kViolation ? "not linearizable"
                                                            : "not proven linearizable in time")
                  << ")\n";
      }
    }
  }
  std::cout.flush();
  if (metrics_server && !interrupted) {  // the Ctrl-C that ended the load ends the linger too
    signals.emplace(std::initializer_list<int>{SIGINT});
    linger_metrics(f.metrics, metrics_server.get(), SignalWatch::flag());
  }
  return passed ? kExitOk : kExitCheckFailed;
}

CLI::App* add_load_command(CLI::App& app, int& exit_code, Command command, const char* name,
                           const char* help, std::shared_ptr<LoadFlags> flags) {
  flags->command = command;
  flags->name = name;
  CLI::App* cmd = app.add_subcommand(name, help);
  add_common_flags(cmd, *flags);
  cmd->callback([flags, &exit_code] { exit_code = run_load_command(*flags); });
  return cmd;
}

}  // namespace

void add_load_commands(CLI::App& app, int& exit_code) {
  add_load_command(app, exit_code, Command::kFlood, "flood",
                   "Rapid concurrent creates to the leader (discovered, following its moves)",
                   std::make_shared<LoadFlags>());

  auto burst = std::make_shared<LoadFlags>();
  burst->concurrency = 50;
  CLI::App* burst_cmd = add_load_command(
      app, exit_code, Command::kBurst, "burst",
      "Batches of concurrent creates to the leader with pauses between them", burst);
  burst_cmd->add_option("--size", burst->burst_size, "Creates per burst")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  burst_cmd->add_option("--bursts", burst->bursts, "Number of bursts")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  burst_cmd->add_option("--pause", burst->pause_ms, "Milliseconds between bursts")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();

  auto mixed = std::make_shared<LoadFlags>();
  CLI::App* mixed_cmd = add_load_command(
      app, exit_code, Command::kMixed, "mixed",
      "A mix of creates, reads, updates and deletes (40/30/20/10) to the leader", mixed);
  add_list_pct_flag(mixed_cmd, *mixed);

  auto storm = std::make_shared<LoadFlags>();
  storm->count = 500;
  storm->concurrency = 50;
  CLI::App* storm_cmd = add_load_command(
      app, exit_code, Command::kStorm, "storm",
      "Random operations on random nodes; with --chaos, nodes are killed and restarted meanwhile",
      storm);
  storm_cmd
      ->add_option("--read-pct", storm->read_pct,
                   "Percentage of reads; the other requests are 60% creates, 30% updates, "
                   "10% deletes")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  add_list_pct_flag(storm_cmd, *storm);
  storm_cmd->add_flag("--chaos", storm->chaos,
                      "Kill and restart random nodes of the recorded cluster during the storm");
  add_seconds_option(storm_cmd, "--kill-interval", storm->kill_interval_s, "Time between kills")
      ->capture_default_str();
  add_seconds_option(storm_cmd, "--downtime", storm->downtime_s,
                     "How long a killed node stays down before its restart")
      ->capture_default_str();
  storm_cmd
      ->add_option("--kill-signal", storm->kill_signal, "kill (SIGKILL), term (SIGTERM) or random")
      ->capture_default_str();
  storm_cmd->add_option("--kill-target", storm->kill_target, "any, leader or follower")
      ->capture_default_str();
  storm->seed_option =
      storm_cmd->add_option("--seed", storm->seed, "Seed of the chaos choices (printed)");
}

}  // namespace bombarder
