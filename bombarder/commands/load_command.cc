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

#include "bombarder/base/command_line.h"
#include "bombarder/base/output.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/base/terminal.h"
#include "bombarder/base/text.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_tls.h"
#include "bombarder/client/node_url.h"
#include "bombarder/client/redis_sentinel.h"
#include "bombarder/client/store_adapter.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/commands/metrics_flags.h"
#include "bombarder/faults/chaos.h"
#include "bombarder/fleet/load_step.h"
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
  std::string system = "stress_node";
  std::string read_consistency = "linearizable";
  std::string read_from = "primary";  // redis
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
  // Whether --count, --duration, --seed were given: read from CLI11's options while they live
  // (note_given_flags), since an agent's step is parsed by an App that is gone when it runs.
  bool count_given = false;
  bool duration_given = false;
  bool seed_given = false;
  CLI::Option* count_option = nullptr;
  CLI::Option* duration_option = nullptr;
  CLI::Option* seed_option = nullptr;
  // An agent's load step: the history is always recorded (for its check steps), and the run
  // record names the step's command line rather than the agent's.
  bool record_history = false;
  std::vector<std::string> command_line;
};

void note_given_flags(LoadFlags& f) {
  f.count_given = f.count_option != nullptr && f.count_option->count() > 0;
  f.duration_given = f.duration_option != nullptr && f.duration_option->count() > 0;
  f.seed_given = f.seed_option != nullptr && f.seed_option->count() > 0;
  f.count_option = f.duration_option = f.seed_option = nullptr;
}

std::chrono::milliseconds seconds_flag(double seconds, const char* flag) {
  if (!(seconds > 0) || seconds > 86400) {
    invalid_input(std::string(flag) + " must be a duration in (0s, 86400s]");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// --system and --read-consistency: which store's adapter the load speaks through.
void add_system_flags(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--system", f.system,
                  "The store the nodes are: stress_node, etcd (its v3 JSON gateway; the key "
                  "is the id) or redis (a primary and replicas over RESP; writes to the primary, "
                  "the one the recorded cluster's sentinels name when it has them: cluster "
                  "start --sentinel); see docs/other-stores.md")
      ->capture_default_str();
  cmd->add_option("--read-consistency", f.read_consistency,
                  "etcd reads: linearizable (through the leader's quorum) or serializable (the "
                  "member's own state, possibly stale)")
      ->capture_default_str();
  cmd->add_option("--read-from", f.read_from,
                  "redis reads: primary, or replica (a random replica; replication is "
                  "asynchronous, so they may be stale)")
      ->capture_default_str();
}

void add_common_flags(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--nodes", f.nodes,
                  "Nodes to send load to, comma-separated URLs "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]")
      ->delimiter(',');
  add_system_flags(cmd, f);
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

// What the flags ask for, checked: every usage error is raised here, before any request.
struct LoadPlan {
  std::vector<common::Endpoint> nodes;
  std::chrono::milliseconds attempt_timeout{0};
  std::chrono::milliseconds deadline{0};
  std::optional<std::chrono::milliseconds> duration;  // unset: --count requests
  std::chrono::milliseconds check_timeout{0};
  std::shared_ptr<const StoreAdapter> store;  // --system, --read-consistency
  ChaosSpec chaos;                            // with --chaos
  std::optional<ClusterRecord> record;        // with --chaos: the processes to kill
  uint64_t seed = 0;
  bool wants_leader = true;  // every command but storm targets the leader
};

ChaosSpec chaos_choices(const LoadFlags& f) {
  ChaosSpec chaos;
  if (f.kill_signal == "kill") {
    chaos.signal = ChaosSpec::Signal::kKill;
  } else if (f.kill_signal == "term") {
    chaos.signal = ChaosSpec::Signal::kTerm;
  } else if (f.kill_signal != "random") {
    invalid_input("--kill-signal must be kill, term or random, not '" + f.kill_signal + "'");
  }
  if (f.kill_target == "leader") {
    chaos.target = ChaosSpec::Target::kLeader;
  } else if (f.kill_target == "follower") {
    chaos.target = ChaosSpec::Target::kFollower;
  } else if (f.kill_target != "any") {
    invalid_input("--kill-target must be any, leader or follower, not '" + f.kill_target + "'");
  }
  return chaos;
}

// Chaos needs the processes, not just the addresses: the recorded cluster.
void plan_chaos(const LoadFlags& f, LoadPlan& plan) {
  plan.record = load_cluster_record();
  if (!plan.record) {
    environment_failure(
        "--chaos kills and restarts the nodes of a cluster started by "
        "`bombarder cluster start`; there is no " +
        cluster_record_path().string());
  }
  if (plan.record->system != plan.store->system()) {
    invalid_input(std::string("--chaos: the recorded cluster is ") +
                  to_string(plan.record->system) + ", not " + to_string(plan.store->system()));
  }
  for (const auto& node : plan.nodes) {
    if (plan.record->find(node) == nullptr) {
      invalid_input("--chaos: " + node.to_string() + " is not a node of the recorded cluster");
    }
  }
  plan.chaos.kill_interval = seconds_flag(f.kill_interval_s, "--kill-interval");
  plan.chaos.downtime = seconds_flag(f.downtime_s, "--downtime");
  // Without an explicit size, a chaos storm lasts three kill intervals so that kills happen.
  if (!plan.duration && !f.count_given) {
    plan.duration = 3 * plan.chaos.kill_interval + plan.chaos.downtime;
  }
}

// Refuses an unwritable report before the load, not after it; a file made only to find that
// out goes again, so a run that fails later leaves no empty report behind.
void check_report_writable(const std::string& report) {
  std::error_code ignored;
  const bool existed = std::filesystem::exists(report, ignored);
  if (!std::ofstream(report, std::ios::app)) {
    environment_failure("cannot write the report " + report + ": " + std::strerror(errno));
  }
  if (!existed) std::filesystem::remove(report, ignored);
}

std::shared_ptr<const StoreAdapter> store_from_flags(const LoadFlags& f) {
  const StoreSystem system = parse_store_system(f.system);
  if (f.read_consistency != "linearizable" && f.read_consistency != "serializable") {
    invalid_input("--read-consistency must be linearizable or serializable, not '" +
                  f.read_consistency + "'");
  }
  const bool serializable = f.read_consistency == "serializable";
  if (serializable && system != StoreSystem::kEtcd) {
    invalid_input("--read-consistency serializable is for --system etcd");
  }
  if (f.read_from != "primary" && f.read_from != "replica") {
    invalid_input("--read-from must be primary or replica, not '" + f.read_from + "'");
  }
  if (f.read_from == "replica" && system != StoreSystem::kRedis) {
    invalid_input("--read-from replica is for --system redis");
  }
  return make_store_adapter(system, serializable || f.read_from == "replica");
}

LoadPlan plan_from_flags(const LoadFlags& f) {
  LoadPlan plan;
  plan.nodes = f.nodes.empty() ? default_nodes() : parse_node_list(f.nodes);
  check_metrics_flags(f.metrics);
  plan.store = store_from_flags(f);
  plan.attempt_timeout = seconds_flag(f.timeout_s, "--timeout");
  plan.deadline = seconds_flag(f.deadline_s, "--deadline");
  if (f.duration_given) plan.duration = seconds_flag(f.duration_s, "--duration");
  if (!plan.duration && f.count == 0) invalid_input("--count must be at least 1");
  plan.chaos = chaos_choices(f);
  if (f.chaos) plan_chaos(f, plan);
  plan.seed = f.seed_given ? f.seed : std::random_device{}();
  plan.chaos.seed = plan.seed;
  if (!f.report.empty()) check_report_writable(f.report);
  // Redis's replicas refuse writes: every Redis load sends its writes to the primary.
  plan.wants_leader = f.command != Command::kStorm || plan.store->system() == StoreSystem::kRedis;
  plan.check_timeout = seconds_flag(f.check_timeout_s, "--check-timeout");
  return plan;
}

// The first survey of the load nodes, and the leader's index when the command targets it.
struct Targets {
  ClusterView view;
  size_t leader = 0;
};

Targets discover_targets(const LoadPlan& plan) {
  ApiClient client;
  Targets targets;
  const StoreAdapter& store = *plan.store;
  targets.view = survey(store, client, plan.nodes);
  if (targets.view.reachable() > 0 && plan.wants_leader && !targets.view.leader) {
    targets.view = wait_for_leader(store, client, plan.nodes, 10s);  // an election may be under way
  }
  if (targets.view.reachable() == 0) {
    std::string why = targets.view.nodes.empty() ? "" : targets.view.nodes[0].error;
    if (store.system() == StoreSystem::kEtcd) {
      environment_failure("no etcd member answers /v3/maintenance/status (" +
                          node_url(plan.nodes[0]) + ": " + why +
                          "); is an etcd cluster running? (`bombarder cluster start --system "
                          "etcd`)");
    }
    if (store.system() == StoreSystem::kRedis) {
      environment_failure("no Redis node answers INFO replication (" + plan.nodes[0].to_string() +
                          ": " + why +
                          "); is a Redis primary running? (`bombarder cluster start --system "
                          "redis`)");
    }
    environment_failure("no node answers /status (" + node_url(plan.nodes[0]) + ": " + why +
                        "); is a cluster running? (`bombarder cluster start`)");
  }
  if (plan.wants_leader) {
    if (!targets.view.leader) {
      environment_failure("no leader elected among the given nodes within 10 s");
    }
    targets.leader = *targets.view.leader;
  }
  return targets;
}

// With the recorded cluster's Redis Sentinels (cluster start --system redis --sentinel): a
// watcher of the primary they name, for the engine's leader_now, and that primary as the load's
// first leader. Not a survey's answer: an old primary restarted after a failover says it is a
// primary until Sentinel demotes it, and writes sent there are lost. nullptr without sentinels.
std::unique_ptr<SentinelWatch> watch_sentinels(const LoadPlan& plan, Targets& targets) {
  if (plan.store->system() != StoreSystem::kRedis) return nullptr;
  const std::optional<ClusterRecord> record = load_cluster_record();
  if (!record || record->sentinels.empty()) return nullptr;
  // The sentinels name a node by its own listening address, also behind the fault proxy.
  std::vector<common::Endpoint> own;
  for (const common::Endpoint& node : plan.nodes) {
    const NodeRecord* recorded = record->find(node);
    own.push_back(recorded != nullptr ? common::Endpoint{node.host, recorded->node_port()} : node);
  }
  const auto named = sentinels_primary(record->sentinel_endpoints(), kSentinelMasterName, 1s);
  for (size_t i = 0; named && i < own.size(); ++i) {
    if (own[i] == *named) targets.leader = i;
  }
  return std::make_unique<SentinelWatch>(record->sentinel_endpoints(), kSentinelMasterName,
                                         std::move(own));
}

LoadSpec load_spec(const LoadFlags& f, const LoadPlan& plan, size_t leader, const RunRecord& run,
                   HistoryWriter* history) {
  LoadSpec spec;
  spec.name = f.name;
  spec.nodes = plan.nodes;
  spec.store = plan.store;
  // Node TLS is stress_node's (cluster start --tls); etcd members serve plain HTTP here.
  if (plan.store->system() == StoreSystem::kStressNode) spec.tls = node_tls_context();
  spec.leader = leader;
  spec.count = plan.duration ? 0 : f.count;
  spec.duration = plan.duration.value_or(0ms);
  spec.concurrency = f.concurrency;
  spec.value_bytes = f.value_bytes;
  spec.attempt_timeout = plan.attempt_timeout;
  spec.deadline = plan.deadline;
  spec.threads = f.threads;
  spec.csv_path = f.csv;
  spec.history = history;
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
  if (plan.store->system() == StoreSystem::kRedis) {
    spec.targeting =
        f.read_from == "replica" ? Targeting::kLeaderWritesFollowerReads : Targeting::kLeader;
  }
  return spec;
}

RunHeader run_header(const LoadFlags& f, const LoadPlan& plan, size_t leader) {
  RunHeader header;
  header.command = f.name;
  header.concurrency = f.concurrency;
  header.min_success_pct = f.min_success;
  const bool etcd = plan.store->system() == StoreSystem::kEtcd;
  const bool redis = plan.store->system() == StoreSystem::kRedis;
  const std::string count = std::to_string(plan.nodes.size()) + (etcd    ? " etcd members"
                                                                 : redis ? " Redis nodes"
                                                                         : " nodes");
  header.target = plan.wants_leader ? count + ", to the leader " + plan.nodes[leader].to_string()
                                    : "random ops on " + count;
  if (etcd && f.read_consistency == "serializable") header.target += ", serializable reads";
  if (redis && f.read_from == "replica") header.target += ", reads from replicas";
  return header;
}

// The human plan lines on stdout: what runs against what, and the chaos choices with the seed.
void print_plan(const LoadFlags& f, const LoadPlan& plan, const LoadSpec& spec,
                const RunHeader& header, const RunRecord& run) {
  std::string what =
      plan.duration ? format_seconds(spec.duration) : std::to_string(f.count) + " requests";
  if (f.command == Command::kBurst) {
    what = std::to_string(f.bursts) + " bursts of " + std::to_string(f.burst_size) + ", pause " +
           std::to_string(f.pause_ms) + " ms";
  }
  std::printf("%s: %s, %s, concurrency %zu, run %s\n", f.name.c_str(), header.target.c_str(),
              what.c_str(), f.concurrency, run.id.c_str());
  if (f.chaos) {
    std::printf("chaos: every %.1f s kill a %s node (%s), restart after %.1f s, seed %llu\n",
                f.kill_interval_s, f.kill_target.c_str(), f.kill_signal.c_str(), f.downtime_s,
                static_cast<unsigned long long>(plan.seed));
  }
  std::fflush(stdout);
}

// The burst command: --bursts runs of --size creates, --pause apart; `lines` gets one line each.
LoadResult run_bursts(const LoadFlags& f, const LoadSpec& spec, std::string& lines) {
  LoadResult result;
  const auto stopped = [&spec] { return spec.stop_requested && spec.stop_requested(); };
  for (uint64_t b = 0; b < f.bursts && !stopped(); ++b) {
    if (b > 0) {
      // The pause is the point of a burst test: idle time between batches.
      for (uint64_t waited = 0; waited < f.pause_ms && !stopped(); waited += 10) {
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
    std::snprintf(line, sizeof line,
                  "    burst %llu/%llu: %llu ok, %llu failed in %.3f s (%.0f req/s)\n",
                  static_cast<unsigned long long>(b + 1), static_cast<unsigned long long>(f.bursts),
                  static_cast<unsigned long long>(part.succeeded),
                  static_cast<unsigned long long>(part.failed),
                  std::chrono::duration<double>(part.elapsed).count(), part.throughput());
    lines += line;
    result.elapsed += part.elapsed;
    merge_results(result, std::move(part));
  }
  return result;
}

// What the load ran with and what ran beside it (roles, chaos), until finish().
class LoadSession {
 public:
  LoadSession(const LoadFlags& f, const LoadPlan& plan, const Targets& targets,
              HistoryWriter* history, Output& output)
      : history_(history) {
    // The role lines: stress_node's /_raft/health, other stores' through their adapter.
    if (history_ != nullptr) {
      const bool stress_node = plan.store->system() == StoreSystem::kStressNode;
      roles_ = std::make_unique<RoleSampler>(
          sampler_nodes(targets.view, plan.record), *history_, std::chrono::milliseconds(200),
          std::chrono::milliseconds(500), stress_node ? nullptr : plan.store.get());
      roles_->start();
    }
    if (f.chaos) {
      monkey_ = std::make_unique<ChaosMonkey>(
          *plan.record, plan.chaos, [this, &f, &output](const ChaosEvent& e) {
            if (history_ != nullptr) history_->fault(e.action, e.node_id, e.address, e.detail);
            if (f.json) return;
            std::lock_guard lock(output.mutex);
            if (output.progress) clear_progress(stderr);
            std::fprintf(stderr, "[chaos t=%.2fs] %s node %llu (%s): %s\n", e.at_s,
                         e.action.c_str(), static_cast<unsigned long long>(e.node_id),
                         e.address.c_str(), e.detail.c_str());
          });
      monkey_->start();
    }
  }

  // Stops the monkey, then the sampler (its last sample sees the restarted node).
  void finish() {
    if (monkey_) {
      events_ = monkey_->stop();
      restarts_ok_ = monkey_->all_restarted();
    }
    if (roles_) roles_->stop();
  }

  [[nodiscard]] const std::vector<ChaosEvent>& events() const { return events_; }
  [[nodiscard]] bool restarts_ok() const { return restarts_ok_; }

 private:
  HistoryWriter* history_;
  std::unique_ptr<RoleSampler> roles_;
  std::unique_ptr<ChaosMonkey> monkey_;
  std::vector<ChaosEvent> events_;
  bool restarts_ok_ = true;
};

// After the load: the history checked (--check, and for the report's verdict).
struct PostRun {
  std::filesystem::path history_path;
  History recorded;
  std::optional<CheckResult> check;         // --check
  std::optional<CheckResult> report_check;  // the verdict shown in the report
  std::string check_text;                   // human
  std::string check_json_text;              // for the summary
};

PostRun check_after_run(const LoadFlags& f, const LoadPlan& plan,
                        std::unique_ptr<HistoryWriter>& history) {
  PostRun post;
  if (history) {
    post.history_path = history->path();
    history->close();
  }
  if (f.check || !f.report.empty()) post.recorded = load_history(post.history_path);
  CheckOptions options;
  options.timeout = plan.check_timeout;
  if (f.check) {
    if (!f.json) {
      std::printf("checking the history %s ...\n", post.history_path.c_str());
      std::fflush(stdout);
    }
    post.check = check_history(post.recorded, options);
    post.check_json_text = check_json(post.recorded, *post.check);
    if (!f.json) post.check_text = describe_check(post.recorded, *post.check);
    post.report_check = post.check;
  } else if (!f.report.empty()) {
    post.report_check = check_history(post.recorded, options);
  }
  return post;
}

// Saves runs/<id>/ (summary and acknowledged ids) and writes the --report.
void save_run(const LoadFlags& f, const LoadPlan& plan, const RunHeader& header, LoadResult& result,
              const LoadSession& session, bool has_history, const PostRun& post, RunRecord& run) {
  run.acked = std::move(result.acked);
  run.summary = json_summary(header, result, session.events());
  run.summary["run_id"] = run.id;
  if (plan.store->system() != StoreSystem::kStressNode) {
    run.summary["system"] = to_string(plan.store->system());
  }
  if (f.read_consistency != "linearizable") run.summary["read_consistency"] = f.read_consistency;
  run.summary["seed"] = plan.seed;
  // For `bombarder compare`, and to repeat the run.
  const std::vector<std::string>& command_line =
      f.command_line.empty() ? recorded_command_line() : f.command_line;
  if (!command_line.empty()) run.summary["command_line"] = command_line;
  run.summary["nodes"] = Json::array();
  for (const auto& node : plan.nodes) run.summary["nodes"].push_back(node.to_string());
  run.summary["acked_ids"] = run.acked.size();
  if (has_history) run.summary["history"] = post.history_path.string();
  if (post.check) run.summary["check"] = Json::parse(post.check_json_text);
  if (!f.report.empty()) run.summary["report"] = f.report;
  save_run_record(run);
  if (!f.report.empty()) {
    ReportOptions options;
    options.source = post.history_path.string();
    write_report_file(f.report,
                      render_report(post.recorded, run.summary, post.report_check, options));
  }
}

void print_check(const PostRun& post) {
  std::cout << "  linearizability check (`bombarder check " << post.history_path.string()
            << "`):\n";
  size_t from = 0;
  while (from < post.check_text.size()) {
    const size_t to = post.check_text.find('\n', from);
    std::cout << "    " << post.check_text.substr(from, to - from) << "\n";
    if (to == std::string::npos) break;
    from = to + 1;
  }
  if (post.check->verdict != Verdict::kOk) {
    std::cout << "  result      FAIL (the history is "
              << (post.check->verdict == Verdict::kViolation ? "not linearizable"
                                                             : "not proven linearizable in time")
              << ")\n";
  }
}

// How a load runs, apart from its flags: on the command line (Ctrl-C, the terminal, the metrics
// endpoint) or as an agent's load step (the run's abort, its progress events).
struct LoadDriver {
  std::function<bool()> stop_requested;
  std::function<void(const LoadProgress&)> on_progress;
  // The primary the recorded Redis Sentinels name (watch_sentinels), else none.
  std::function<std::optional<size_t>()> leader_now;
  LoadMetrics* metrics = nullptr;
  Output* output = nullptr;
  // Before the load starts (the plan lines), and as soon as it has ended (before the check).
  std::function<void(const LoadSpec&, const RunHeader&, const RunRecord&)> on_start;
  std::function<void()> on_load_end;
};

// A finished load: what was run, what it did, what was recorded and checked.
struct LoadRun {
  RunRecord run;
  RunHeader header;
  LoadResult result;
  std::string burst_lines;
  std::vector<ChaosEvent> chaos_events;
  bool restarts_ok = true;
  bool has_history = false;
  PostRun post;
  bool passed = false;
};

void print_human_result(const LoadFlags& f, const LoadRun& r) {
  std::cout << human_summary(r.header, r.result, r.chaos_events);
  if (!r.burst_lines.empty()) std::cout << "  bursts:\n" << r.burst_lines;
  if (f.chaos && r.chaos_events.empty()) {
    std::cout << "  note: the run ended before the first kill; use --duration for longer runs\n";
  }
  if (!r.restarts_ok) {
    std::cout << "  a node the chaos stopped did not come back (see above)\n";
  }
  std::cout << "  record      " << r.run.dir.string() << " (" << r.run.acked.size()
            << " acknowledged ids; `bombarder verify` checks them)\n";
  if (r.has_history) std::cout << "  history     " << r.post.history_path.string() << "\n";
  if (!f.report.empty()) {
    std::cout << "  report      " << f.report << " (verdict "
              << to_string(r.post.report_check->verdict)
              << (r.post.check ? "" : "; only --check makes the run fail on it") << ")\n";
  }
  if (r.post.check) print_check(r.post);
}

void print_load_run(const LoadFlags& f, const LoadRun& r) {
  if (f.json) {
    Json out = r.run.summary;
    out["passed"] = r.passed;
    out["record"] = r.run.dir.string();
    std::cout << out.dump(2) << std::endl;
  } else {
    print_human_result(f, r);
    std::cout.flush();
  }
}

// --history, else the run's history.jsonl when --check or --report need one; else none.
std::unique_ptr<HistoryWriter> open_history(const LoadFlags& f, const RunRecord& run) {
  if (f.history.empty() && !f.check && f.report.empty() && !f.record_history) return nullptr;
  return std::make_unique<HistoryWriter>(f.history.empty() ? run.dir / "history.jsonl"
                                                           : std::filesystem::path(f.history));
}

// The load itself, shared by the commands and the agent's load steps: the run record, the load
// (bursts or one run) with the role sampler and chaos beside it, the check, the record saved.
LoadRun execute_load(const LoadFlags& f, const LoadPlan& plan, const Targets& targets,
                     const LoadDriver& driver) {
  LoadRun r;
  r.run = begin_run_record(f.name);
  std::unique_ptr<HistoryWriter> history = open_history(f, r.run);
  r.has_history = history != nullptr;
  LoadSpec spec = load_spec(f, plan, targets.leader, r.run, history.get());
  spec.stop_requested = driver.stop_requested;
  spec.on_progress = driver.on_progress;
  if (driver.leader_now) spec.leader_now = driver.leader_now;
  spec.metrics = driver.metrics;
  r.header = run_header(f, plan, targets.leader);
  if (driver.on_start) driver.on_start(spec, r.header, r.run);

  LoadSession session(f, plan, targets, history.get(), *driver.output);
  r.result = f.command == Command::kBurst ? run_bursts(f, spec, r.burst_lines) : run_load(spec);
  session.finish();
  r.chaos_events = session.events();
  r.restarts_ok = session.restarts_ok();
  if (driver.on_load_end) driver.on_load_end();
  r.post = check_after_run(f, plan, history);
  save_run(f, plan, r.header, r.result, session, r.has_history, r.post, r.run);
  r.passed = r.result.success_pct() >= f.min_success && !r.result.interrupted && r.restarts_ok &&
             (!r.post.check || r.post.check->verdict == Verdict::kOk);
  return r;
}

int run_load_command(const LoadFlags& f) {
  const LoadPlan plan = plan_from_flags(f);
  Targets targets = discover_targets(plan);
  const std::unique_ptr<SentinelWatch> sentinels = watch_sentinels(plan, targets);
  // Bound before anything is recorded: a taken port ends the command with nothing left behind.
  LoadMetrics metrics(f.name);
  const std::unique_ptr<MetricsServer> metrics_server =
      start_metrics_server(f.metrics, metrics, nullptr);
  Output output;
  output.progress = !f.json && stderr_is_terminal();
  // Ctrl-C during the load ends it gracefully (the summary, record and check still follow);
  // outside the load and the metrics linger it keeps its default meaning.
  std::optional<SignalWatch> signals;
  signals.emplace(std::initializer_list<int>{SIGINT});
  bool interrupted = false;
  LoadDriver driver;
  driver.output = &output;
  driver.stop_requested = [] { return SignalWatch::flag().load(); };
  if (sentinels) driver.leader_now = [&sentinels] { return sentinels->primary(); };
  if (output.progress) {
    driver.on_progress = [&output, &f](const LoadProgress& p) {
      std::lock_guard lock(output.mutex);
      draw_progress(stderr, f.name, p);
    };
  }
  driver.on_start = [&](const LoadSpec& spec, const RunHeader& header, const RunRecord& run) {
    if (!f.json) print_plan(f, plan, spec, header, run);
    if (metrics_server) status_line(f.json, "metrics: " + metrics_server->url());
  };
  if (metrics_server) driver.metrics = &metrics;
  driver.on_load_end = [&] {
    interrupted = signals->interrupted();
    signals.reset();
    if (output.progress) clear_progress(stderr);
  };
  const LoadRun r = execute_load(f, plan, targets, driver);
  print_load_run(f, r);
  if (metrics_server && !interrupted) {  // the Ctrl-C that ended the load ends the linger too
    signals.emplace(std::initializer_list<int>{SIGINT});
    linger_metrics(f.metrics, metrics_server.get(), SignalWatch::flag());
  }
  return r.passed ? kExitOk : kExitCheckFailed;
}

// One load command as the command line and the agent's load steps know it.
struct CommandInfo {
  Command command;
  const char* name;
  const char* help;
};

constexpr CommandInfo kLoadCommands[] = {
    {Command::kFlood, "flood",
     "Rapid concurrent creates to the leader (discovered, following its moves)"},
    {Command::kBurst, "burst",
     "Batches of concurrent creates to the leader with pauses between them"},
    {Command::kMixed, "mixed",
     "A mix of creates, reads, updates and deletes (40/30/20/10) to the leader"},
    {Command::kStorm, "storm",
     "Random operations on random nodes; with --chaos, nodes are killed and restarted meanwhile"},
};

const CommandInfo* find_load_command(const std::string& name) {
  for (const CommandInfo& info : kLoadCommands) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

// The command's defaults (design.md §4: the reference README's table).
std::shared_ptr<LoadFlags> default_flags(const CommandInfo& info) {
  auto f = std::make_shared<LoadFlags>();
  f->command = info.command;
  f->name = info.name;
  if (info.command == Command::kBurst) f->concurrency = 50;
  if (info.command == Command::kStorm) {
    f->count = 500;
    f->concurrency = 50;
  }
  return f;
}

void add_burst_flags(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--size", f.burst_size, "Creates per burst")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--bursts", f.bursts, "Number of bursts")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--pause", f.pause_ms, "Milliseconds between bursts")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
}

void add_storm_flags(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--read-pct", f.read_pct,
                  "Percentage of reads; the other requests are 60% creates, 30% updates, "
                  "10% deletes")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  add_list_pct_flag(cmd, f);
  cmd->add_flag("--chaos", f.chaos,
                "Kill and restart random nodes of the recorded cluster during the storm");
  add_seconds_option(cmd, "--kill-interval", f.kill_interval_s, "Time between kills")
      ->capture_default_str();
  add_seconds_option(cmd, "--downtime", f.downtime_s,
                     "How long a killed node stays down before its restart")
      ->capture_default_str();
  cmd->add_option("--kill-signal", f.kill_signal, "kill (SIGKILL), term (SIGTERM) or random")
      ->capture_default_str();
  cmd->add_option("--kill-target", f.kill_target, "any, leader or follower")->capture_default_str();
  f.seed_option = cmd->add_option("--seed", f.seed, "Seed of the chaos choices (printed)");
}

// Every flag of the command: the common ones, then its own.
void add_load_flags(CLI::App* cmd, LoadFlags& f) {
  add_common_flags(cmd, f);
  switch (f.command) {
    case Command::kFlood: break;
    case Command::kBurst: add_burst_flags(cmd, f); break;
    case Command::kMixed: add_list_pct_flag(cmd, f); break;
    case Command::kStorm: add_storm_flags(cmd, f); break;
  }
}

// ---------------------------------------------------------------------------------------------
// Load steps of experiments (fleet/load_step.h): the same flags, parser and body on an agent.

// Flags a load step may not give, and why: the agent sets them or they would write on its machine.
struct RefusedFlag {
  const char* flag;
  const char* why;
};

constexpr RefusedFlag kAgentRefusedFlags[] = {
    {"--nodes", "the agent loads the cluster recorded in its own data root"},
    {"--system", "the agent's recorded cluster says which store it is"},
    {"--json", "the agent always takes the summary as JSON, into the step's result"},
    {"--csv", "it writes on the agent's machine; the step's result carries the summary"},
    {"--history", "the agent records every load step's history in its run record (check steps)"},
    {"--report", "it writes on the agent's machine; use --check, or a check step"},
    {"--metrics-port", "it serves on the agent's machine"},
    {"--metrics-host", "it serves on the agent's machine"},
    {"--metrics-linger", "it serves on the agent's machine"},
    {"--cacert", "the agent uses its cluster's own TLS (cluster start --tls)"},
    {"--cert", "the agent uses its cluster's own TLS (cluster start --tls)"},
    {"--key", "the agent uses its cluster's own TLS (cluster start --tls)"},
    {"--help", "a step runs, it does not print help"},
    {"-h", "a step runs, it does not print help"},
};

void refuse_agent_flags(const std::string& command, const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    for (const RefusedFlag& refused : kAgentRefusedFlags) {
      const std::string flag = refused.flag;
      if (arg == flag || arg.rfind(flag + "=", 0) == 0) {
        invalid_input(command + " " + flag + " is not taken in a load step: " + refused.why);
      }
    }
  }
}

// A step holds the agent's run: it must end on its own within bounds (load_step.h).
void check_step_bounds(const LoadFlags& f) {
  const double max_s = std::chrono::duration<double>(kLoadStepDurationMax).count();
  const std::string where = f.name + ": in a load step ";
  if (f.duration_given && f.duration_s > max_s) {
    invalid_input(where + "--duration is at most " + format_seconds(kLoadStepDurationMax));
  }
  if (f.chaos && !f.duration_given && !f.count_given &&
      3 * f.kill_interval_s + f.downtime_s > max_s) {
    invalid_input(where +
                  "a chaos storm without --duration lasts 3 x --kill-interval + "
                  "--downtime, at most " +
                  format_seconds(kLoadStepDurationMax));
  }
  const bool burst = f.command == Command::kBurst;
  if ((!burst && f.count > kLoadStepCountMax) ||
      (burst && f.bursts * f.burst_size > kLoadStepCountMax)) {
    invalid_input(where + "at most " + std::to_string(kLoadStepCountMax) + " requests");
  }
  if (burst && static_cast<double>(f.bursts) * static_cast<double>(f.pause_ms) > max_s * 1000) {
    invalid_input(where + "--bursts x --pause is at most " + format_seconds(kLoadStepDurationMax));
  }
  if (f.concurrency > kLoadStepConcurrencyMax) {
    invalid_input(where + "--concurrency is at most " + std::to_string(kLoadStepConcurrencyMax));
  }
  if (f.check_timeout_s > max_s) {
    invalid_input(where + "--check-timeout is at most " + format_seconds(kLoadStepDurationMax));
  }
}

// What plan_from_flags checks that needs no cluster: the orchestrator knows none.
void check_flag_values(const LoadFlags& f) {
  (void)seconds_flag(f.timeout_s, "--timeout");
  (void)seconds_flag(f.deadline_s, "--deadline");
  (void)seconds_flag(f.check_timeout_s, "--check-timeout");
  if (f.duration_given) (void)seconds_flag(f.duration_s, "--duration");
  if (!f.duration_given && f.count == 0) invalid_input("--count must be at least 1");
  (void)chaos_choices(f);
  if (f.chaos) {
    (void)seconds_flag(f.kill_interval_s, "--kill-interval");
    (void)seconds_flag(f.downtime_s, "--downtime");
  }
  if (f.breaker) (void)seconds_flag(f.breaker_cooldown_s, "--breaker-cooldown");
  if (f.read_consistency != "linearizable" && f.read_consistency != "serializable") {
    invalid_input("--read-consistency must be linearizable or serializable, not '" +
                  f.read_consistency + "'");
  }
  if (f.read_from != "primary" && f.read_from != "replica") {
    invalid_input("--read-from must be primary or replica, not '" + f.read_from + "'");
  }
}

// The step's flags through the command's own CLI11 definitions, without printing or exiting:
// every refusal is an Error(kInvalidInput) naming the command and the flag.
LoadFlags parse_step_flags(const LoadStep& step) {
  const CommandInfo* info = find_load_command(step.command);
  if (info == nullptr) {
    invalid_input("unknown load command '" + step.command + "': flood, burst, mixed or storm");
  }
  refuse_agent_flags(step.command, step.args);
  std::shared_ptr<LoadFlags> f = default_flags(*info);
  CLI::App app{"", info->name};
  add_load_flags(&app, *f);
  std::vector<std::string> reversed(step.args.rbegin(), step.args.rend());  // CLI11's order
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    invalid_input(step.command + ": " + e.what());
  }
  note_given_flags(*f);
  try {
    check_flag_values(*f);
  } catch (const Error& e) {
    invalid_input(step.command + ": " + e.what());
  }
  check_step_bounds(*f);
  return *f;
}

LoadStepOutcome run_load_step(const LoadStep& step, const LoadStepContext& context) {
  LoadFlags f = parse_step_flags(step);
  for (const common::Endpoint& node : context.nodes) f.nodes.push_back(node.to_string());
  f.system = context.system;
  f.json = true;  // no human lines: the agent's stdout is its log
  f.record_history = true;
  f.command_line = {"bombarder", step.command};
  f.command_line.insert(f.command_line.end(), step.args.begin(), step.args.end());
  const LoadPlan plan = plan_from_flags(f);
  Targets targets = discover_targets(plan);
  const std::unique_ptr<SentinelWatch> sentinels = watch_sentinels(plan, targets);
  Output output;
  LoadDriver driver;
  driver.output = &output;
  driver.stop_requested = context.stop_requested;
  if (sentinels) driver.leader_now = [&sentinels] { return sentinels->primary(); };
  if (context.on_progress) {
    driver.on_progress = [&context](const LoadProgress& p) {
      context.on_progress(p.completed, p.succeeded, p.failed);
    };
  }
  const LoadRun r = execute_load(f, plan, targets, driver);
  LoadStepOutcome out;
  out.summary = r.run.summary;
  out.summary["passed"] = r.passed;
  out.passed = r.passed;
  out.history = r.post.history_path;
  return out;
}

}  // namespace

void add_load_commands(CLI::App& app, int& exit_code) {
  for (const CommandInfo& info : kLoadCommands) {
    std::shared_ptr<LoadFlags> flags = default_flags(info);
    CLI::App* cmd = app.add_subcommand(info.name, info.help);
    add_load_flags(cmd, *flags);
    cmd->callback([flags, &exit_code] {
      note_given_flags(*flags);
      exit_code = run_load_command(*flags);
    });
  }
}

void install_load_steps() {
  install_load_commands(
      {[](const LoadStep& step) { (void)parse_step_flags(step); }, run_load_step});
}

}  // namespace bombarder
