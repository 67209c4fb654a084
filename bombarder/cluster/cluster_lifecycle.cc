#include "bombarder/cluster/cluster_lifecycle.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/output.h"
#include "bombarder/base/process.h"
#include "bombarder/base/text.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/store_adapter.h"
#include "bombarder/cluster/cluster_proxies.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/cluster_secrets.h"
#include "bombarder/cluster/cluster_tls.h"
#include "bombarder/cluster/etcd_members.h"
#include "bombarder/cluster/redis_members.h"
#include "bombarder/cluster/redis_sentinels.h"
#include "bombarder/cluster/supervisor.h"

namespace bombarder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kLogTailLines = 12;
// How long the nodes of a failed start get to stop before SIGKILL.
constexpr auto kAbortGrace = 5s;
// stress_node's --election-ticks default, against which --heartbeat-ticks is checked when
// --election-ticks is not given (stress_node/src/options.h).
constexpr int kNodeDefaultElectionTicks = 6;

// "1", "0.5", "2.25": the shortest text that the node reads back as the same ratio.
std::string format_ratio(double ratio) { return printf_text("%g", ratio); }

std::chrono::milliseconds seconds_flag(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// The consecutive ports from --port the cluster takes.
int ports_taken(const StartFlags& f) {
  const ProxiedLayout layout(f.port, f.nodes);
  if (f.system == StoreSystem::kEtcd) {
    return f.proxied ? layout.etcd_ports_used() : 2 * f.nodes;  // client and peer ports
  }
  return (f.proxied ? layout.ports_used() : f.nodes) + f.sentinels;
}

void validate(const StartFlags& f) {
  if (f.nodes < 1 || f.nodes > static_cast<int>(kClusterNodesMax)) {
    invalid_input("--nodes must be between 1 and " + std::to_string(kClusterNodesMax) + ", not " +
                  std::to_string(f.nodes));
  }
  const int ports = ports_taken(f);
  if (f.port < 1 || f.port + ports - 1 > 65535) {
    invalid_input("--port " + std::to_string(f.port) + " with " + std::to_string(f.nodes) +
                  " nodes" + (f.proxied ? " (proxied: " + std::to_string(ports) + " ports)" : "") +
                  " leaves the port range 1..65535");
  }
  std::string why;
  if (!common::Endpoint::parse(f.host + ":1", "127.0.0.1", &why)) {
    invalid_input("--host '" + f.host + "' is not a host: " + why);
  }
  if (f.tick_ms && (*f.tick_ms < 1 || *f.tick_ms > 10000))
    invalid_input("--tick-ms must be 1..10000");
  if (f.election_ticks && (*f.election_ticks < 3 || *f.election_ticks > 10000)) {
    invalid_input("--election-ticks must be 3..10000");
  }
  // The node refuses a heartbeat over half the election timeout; say so before starting any.
  const int election_ticks = f.election_ticks.value_or(kNodeDefaultElectionTicks);
  if (f.heartbeat_ticks && (*f.heartbeat_ticks < 1 || *f.heartbeat_ticks * 2 > election_ticks)) {
    invalid_input("--heartbeat-ticks must be 1.." + std::to_string(election_ticks / 2) +
                  " (at most half of the election ticks, " + std::to_string(election_ticks) + ")");
  }
  if (f.snapshot_threshold && *f.snapshot_threshold < 1) {
    invalid_input("--snapshot-threshold must be at least 1");
  }
  if (f.snapshot_state_ratio &&
      !(*f.snapshot_state_ratio >= 0 && *f.snapshot_state_ratio <= 1000)) {
    invalid_input("--snapshot-state-ratio must be 0..1000");
  }
  if (f.commit_timeout_ms && (*f.commit_timeout_ms < 100 || *f.commit_timeout_ms > 600000)) {
    invalid_input("--commit-timeout-ms must be 100..600000");
  }
  if (!(f.timeout_s > 0)) invalid_input("--timeout must be positive");
  if (f.system == StoreSystem::kEtcd) check_etcd_start_flags(f);
  if (f.system == StoreSystem::kRedis) check_redis_start_flags(f);
  check_sentinel_flags(f);
}

fs::path find_node_binary(const StartFlags& f) {
  if (f.system == StoreSystem::kEtcd) return find_etcd_binary(f.node_bin);
  if (f.system == StoreSystem::kRedis) return find_redis_binary(f.node_bin);
  const fs::path path =
      f.node_bin.empty() ? executable_dir() / "stress_node" : fs::absolute(f.node_bin);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || ::access(path.c_str(), X_OK) != 0) {
    environment_failure("no executable stress_node at " + path.string() +
                        (f.node_bin.empty() ? " (build it, or pass --node-bin PATH)" : ""));
  }
  return path;
}

// Refuses when a recorded cluster still runs. Returns the node count of a stale record (one
// whose nodes all ended), which the new record replaces, or 0 when there is no record.
size_t check_no_running_cluster() {
  const std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) return 0;
  std::string alive;
  for (const NodeRecord& node : record->nodes) {
    if (!is_node_process(node.pid, node.node_port(), node.program())) continue;
    alive += (alive.empty() ? "" : ", ") + node.endpoint.to_string();
  }
  if (record->proxy && is_proxy_process(record->proxy->pid, record->proxy->api.port)) {
    alive += (alive.empty() ? "fault proxy " : ", fault proxy ") + record->proxy->api.to_string();
  }
  for (const SentinelRecord& s : record->sentinels) {
    if (!is_sentinel_process(s.pid, s.endpoint.port)) continue;
    alive += (alive.empty() ? "sentinel " : ", sentinel ") + s.endpoint.to_string();
  }
  if (!alive.empty()) {
    environment_failure("a cluster is already running (" + cluster_record_path().string() + ": " +
                        alive + "): stop it with `bombarder cluster stop`");
  }
  return std::max<size_t>(record->nodes.size(), 1);
}

void check_ports_free(const StartFlags& f) {
  std::vector<int> taken;
  for (int i = 0; i < ports_taken(f); ++i) {
    if (port_in_use(f.host, static_cast<uint16_t>(f.port + i))) taken.push_back(f.port + i);
  }
  if (taken.empty()) return;
  std::string list;
  for (int port : taken) list += (list.empty() ? "" : ", ") + std::to_string(port);
  environment_failure((taken.size() == 1 ? "port " + list + " on " + f.host + " is"
                                         : "ports " + list + " on " + f.host + " are") +
                      " in use; stop what listens there or choose another --port");
}

std::string tail_of(const fs::path& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "    " + all[i] + "\n";
  }
  return out;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Stops every node (and sentinel) of a start that failed and forgets the record.
void abort_start(const ClusterRecord& record) {
  (void)stop_sentinels(record, kAbortGrace);
  std::vector<std::future<StopOutcome>> stops;
  for (const NodeRecord& node : record.nodes) {
    stops.push_back(std::async(std::launch::async, [&node] {
      return is_node_process(node.pid, node.node_port(), node.program())
                 ? stop_process(node.pid, kAbortGrace)
                 : StopOutcome::kNotRunning;
    }));
  }
  for (auto& stop : stops) (void)stop.get();
  if (record.proxy && is_proxy_process(record.proxy->pid, record.proxy->api.port)) {
    (void)stop_process(record.proxy->pid, kAbortGrace);
  }
  remove_cluster_record();
}

[[noreturn]] void fail_early_exit(const ClusterRecord& record, const NodeRecord& node,
                                  int wait_status) {
  std::fprintf(stderr, "node %llu (%s) ended during startup (%s)\n",
               static_cast<unsigned long long>(node.id), node.endpoint.to_string().c_str(),
               describe_wait_status(wait_status).c_str());
  for (const fs::path& log : {node.output_path, node.data_dir / "node.log"}) {
    const std::string tail = tail_of(log, kLogTailLines);
    if (!tail.empty()) std::fprintf(stderr, "  last lines of %s:\n%s", log.c_str(), tail.c_str());
  }
  abort_start(record);
  environment_failure("node " + std::to_string(node.id) + " (" + node.endpoint.to_string() +
                      ") ended during startup (" + describe_wait_status(wait_status) +
                      "); the other nodes were stopped, see " + node.output_path.string());
}

// True when every node serves /status and all of them name the same leader, which says it leads.
bool cluster_ready(const ClusterView& view, std::string* why) {
  for (const ClusterView::Node& node : view.nodes) {
    if (!node.status) {
      *why = node.endpoint.to_string() + " does not answer /status (" + node.error + ")";
      return false;
    }
  }
  if (!view.leader) {
    *why = "no leader elected";
    return false;
  }
  // By id: a node names the leader by its own address for it, which with --proxied is its link
  // proxy to the leader, different on every node.
  const uint64_t leader_id = view.nodes[*view.leader].status->node_id;
  for (const ClusterView::Node& node : view.nodes) {
    if (node.status->leader_id != leader_id) {
      *why =
          node.endpoint.to_string() + " does not know the leader " + view.leader_address + " yet";
      return false;
    }
  }
  return true;
}

// Polls until the cluster is ready; a node that ends meanwhile aborts the start.
ClusterView wait_ready(const StartFlags& f, const ClusterRecord& record) {
  ApiClient client;
  const auto store = make_store_adapter(f.system, false);
  const auto deadline = Clock::now() + seconds_flag(f.timeout_s);
  std::string why;
  while (true) {
    for (const NodeRecord& node : record.nodes) {
      int status = 0;
      if (::waitpid(node.pid, &status, WNOHANG) == node.pid) fail_early_exit(record, node, status);
    }
    ClusterView view = survey(*store, client, record.endpoints(), 500ms);
    if (cluster_ready(view, &why)) return view;
    if (Clock::now() >= deadline) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g", f.timeout_s);
      environment_failure(
          "the cluster is not ready after " + std::string(seconds) + " s: " + why +
          "; the nodes keep running (see `bombarder cluster status`, stop them with "
          "`bombarder cluster stop`)");
    }
    std::this_thread::sleep_for(50ms);  // poll interval, bounded by the deadline above
  }
}

}  // namespace

std::vector<std::string> node_command_line(const StartFlags& f, const std::string& node_binary,
                                           uint64_t id, const std::string& data_dir) {
  const ProxiedLayout layout(f.port, f.nodes);
  const int self = static_cast<int>(id);
  std::string peers;
  for (int other = 0; other < f.nodes; ++other) {
    if (other == self) continue;
    if (!peers.empty()) peers += ",";
    const int port = f.proxied ? layout.link_port(self, other) : f.port + other;
    peers += std::to_string(other) + "@" + f.host + ":" + std::to_string(port);
  }
  const int own_port = f.proxied ? layout.node_port(self) : f.port + self;
  std::vector<std::string> argv = {node_binary,
                                   "--node-id",
                                   std::to_string(id),
                                   "--host",
                                   f.host,
                                   "--port",
                                   std::to_string(own_port),
                                   "--data-dir",
                                   data_dir,
                                   "--log-level",
                                   f.log_level};
  if (!peers.empty()) argv.insert(argv.end(), {"--peers", peers});
  if (f.tick_ms) argv.insert(argv.end(), {"--tick-ms", std::to_string(*f.tick_ms)});
  if (f.election_ticks) {
    argv.insert(argv.end(), {"--election-ticks", std::to_string(*f.election_ticks)});
  }
  if (f.heartbeat_ticks) {
    argv.insert(argv.end(), {"--heartbeat-ticks", std::to_string(*f.heartbeat_ticks)});
  }
  if (f.snapshot_threshold) {
    argv.insert(argv.end(), {"--snapshot-threshold", std::to_string(*f.snapshot_threshold)});
  }
  if (f.snapshot_state_ratio) {
    argv.insert(argv.end(), {"--snapshot-state-ratio", format_ratio(*f.snapshot_state_ratio)});
  }
  if (f.commit_timeout_ms) {
    argv.insert(argv.end(), {"--commit-timeout-ms", std::to_string(*f.commit_timeout_ms)});
  }
  if (f.watchdog_ms) argv.insert(argv.end(), {"--watchdog-ms", std::to_string(*f.watchdog_ms)});
  if (f.debug_endpoints) argv.push_back("--debug-endpoints");
  if (f.peer_transport) argv.insert(argv.end(), {"--peer-transport", *f.peer_transport});
  if (f.tls) {
    const fs::path dir = cluster_tls_dir();
    const std::string name = "node-" + std::to_string(id);
    argv.insert(argv.end(),
                {"--tls-cert", (dir / (name + ".crt")).string(), "--tls-key",
                 (dir / (name + ".key")).string(), "--tls-ca", (dir / "ca.crt").string()});
  }
  if (!f.cluster_secret_file.empty()) {
    argv.insert(argv.end(), {"--cluster-secret-file", f.cluster_secret_file});
  } else if (f.insecure_peers) {
    argv.push_back("--insecure-peers");
  }
  if (!f.admin_token_file.empty()) {
    argv.insert(argv.end(), {"--admin-token-file", f.admin_token_file});
  }
  return argv;
}

fs::path cluster_tls_dir() { return data_root() / "tls"; }

fs::path find_store_program(const std::string& program, const std::string& node_bin,
                            const std::string& install_hint) {
  std::error_code ec;
  if (!node_bin.empty()) {
    const fs::path path = fs::absolute(node_bin);
    if (fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0) return path;
    environment_failure("no executable " + program + " at " + path.string());
  }
  const char* env = std::getenv("PATH");
  std::string dirs = env != nullptr ? env : "/usr/bin:/bin";
  size_t from = 0;
  while (from <= dirs.size()) {
    const size_t to = std::min(dirs.find(':', from), dirs.size());
    const fs::path path = fs::path(dirs.substr(from, to - from)) / program;
    if (to > from && fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0) {
      return path;
    }
    from = to + 1;
  }
  environment_failure("no " + program + " on PATH (" + install_hint + ")");
}

void refuse_stress_node_flags(const StartFlags& f, const std::string& system) {
  const auto refuse = [&system](const std::string& flag) {
    invalid_input(flag + " is a stress_node flag; `cluster start --system " + system +
                  "` does not take it");
  };
  if (f.tick_ms) refuse("--tick-ms");
  if (f.election_ticks) refuse("--election-ticks");
  if (f.heartbeat_ticks) refuse("--heartbeat-ticks");
  if (f.snapshot_threshold) refuse("--snapshot-threshold");
  if (f.snapshot_state_ratio) refuse("--snapshot-state-ratio");
  if (f.commit_timeout_ms) refuse("--commit-timeout-ms");
  if (f.watchdog_ms) refuse("--watchdog-ms");
  if (f.debug_endpoints) refuse("--debug-endpoints");
  if (f.tls) refuse("--tls");
  if (f.supervise) refuse("--supervise");
}

namespace {

// Every node's record and directory, ready before the first node starts, so that a failure
// here leaves no process. `reused[i]`: node i starts on existing data.
std::vector<NodeRecord> plan_nodes(const StartFlags& f, const fs::path& binary,
                                   std::vector<bool>& reused) {
  // Names this cluster's etcd members, so that no member of another cluster joins them.
  const std::string etcd_token =
      "bombarder-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  std::vector<NodeRecord> planned;
  for (int i = 0; i < f.nodes; ++i) {
    NodeRecord node;
    node.id = static_cast<uint64_t>(i);
    node.endpoint = {f.host, static_cast<uint16_t>(f.port + i)};  // = node<i>-client if proxied
    if (f.proxied) node.listen_port = ProxiedLayout(f.port, f.nodes).node_port(i);
    node.data_dir = data_root() / ("node-" + std::to_string(i));
    node.output_path = node.data_dir / "console.log";
    node.system = f.system;
    node.args = f.system == StoreSystem::kEtcd
                    ? etcd_command_line(f, binary.string(), node.id, node.data_dir, etcd_token)
                    : node_command_line(f, binary.string(), node.id, node.data_dir.string());
    if (f.system == StoreSystem::kRedis) {
      node.args = redis_command_line(f, binary.string(), node.id, node.data_dir);
    }
    std::error_code ec;
    if (f.fresh) {
      fs::remove_all(node.data_dir, ec);
      if (ec) environment_failure("cannot remove " + node.data_dir.string() + ": " + ec.message());
    }
    reused.push_back(f.system == StoreSystem::kEtcd
                         ? fs::exists(etcd_data_dir(node.data_dir) / "member", ec)
                         : fs::exists(node.data_dir / "db", ec));
    if (f.system == StoreSystem::kRedis) {
      // Redis wants its --dir to exist; its append-only files say it held data.
      reused.back() = fs::exists(redis_data_dir(node.data_dir) / "appendonlydir", ec);
      fs::create_directories(redis_data_dir(node.data_dir), ec);
    }
    fs::create_directories(node.data_dir, ec);
    if (ec) environment_failure("cannot create " + node.data_dir.string() + ": " + ec.message());
    planned.push_back(std::move(node));
  }
  return planned;
}

// The record before the nodes start: TLS files, secrets, and the fault proxy (started here).
ClusterRecord prepare_record(const StartFlags& f, const fs::path& binary,
                             const ClusterSecrets& secrets, size_t nodes) {
  ClusterRecord record;
  record.started_at = utc_timestamp_now();
  record.system = f.system;
  record.node_binary = binary;
  if (f.tls) {
    // New certificates per start: the CA is throw-away (its key is not kept), and every node
    // restarted from its recorded command line finds its files unchanged while this runs.
    const GeneratedTls tls = generate_cluster_tls(cluster_tls_dir(), nodes, f.host);
    record.tls = TlsRecord{tls.ca_file, tls.client_cert_file, tls.client_key_file};
  }
  record.cluster_secret_file = secrets.cluster_secret_file;
  record.admin_token_file = secrets.admin_token_file;
  if (f.proxied) {
    // Before the nodes, so that their first peer connections already find the links.
    record.proxy = start_cluster_proxy(ProxiedLayout(f.port, f.nodes), f.nodes, f.host, f.system,
                                       data_root() / "proxies.json", data_root() / "proxy.log",
                                       seconds_flag(f.timeout_s));
    save_cluster_record(record);
  }
  return record;
}

// Spawns every planned node, recording each at once so that `cluster stop` finds every node
// even if this command dies; on a failure, stops those started.
void spawn_nodes(std::vector<NodeRecord>& planned, ClusterRecord& record) {
  for (NodeRecord& node : planned) {
    try {
      node.pid = spawn_detached(node.args, node.output_path);
      record.nodes.push_back(std::move(node));
      save_cluster_record(record);
    } catch (const Error&) {
      abort_start(record);
      throw;
    }
  }
}

}  // namespace

StartedCluster start_cluster(const StartFlags& flags) {
  validate(flags);
  StartFlags f = flags;
  const fs::path binary = find_node_binary(f);
  const fs::path sentinel_binary = f.sentinels > 0 ? find_sentinel_binary() : fs::path();
  const size_t stale_nodes = check_no_running_cluster();
  check_ports_free(f);
  if (stale_nodes > 0) {
    status_line(f.json, "note: replacing the stale record " + cluster_record_path().string() +
                            " (none of its nodes runs)");
  }
  const auto started = Clock::now();
  // A fresh secret and admin token per cluster (the previous cluster's nodes are all stopped).
  ClusterSecrets secrets;
  if (!f.insecure_peers && f.system == StoreSystem::kStressNode) {
    secrets = create_cluster_secrets(data_root());
    f.cluster_secret_file = secrets.cluster_secret_file.string();
    f.admin_token_file = secrets.admin_token_file.string();
  }
  StartedCluster out;
  std::vector<NodeRecord> planned = plan_nodes(f, binary, out.reused);
  out.record = prepare_record(f, binary, secrets, planned.size());
  spawn_nodes(planned, out.record);
  for (size_t i = 0; i < out.reused.size(); ++i) {
    if (out.reused[i]) {
      status_line(f.json, "note: node " + std::to_string(i) + " starts on the existing data in " +
                              out.record.nodes[i].data_dir.string() + " (--fresh starts empty)");
    }
  }
  out.view = wait_ready(f, out.record);
  if (f.sentinels > 0) {
    // Once the replicas follow the primary: Sentinel learns them from it.
    try {
      start_sentinels(plan_sentinels(f, sentinel_binary, out.record), out.record,
                      seconds_flag(f.timeout_s));
    } catch (const Error&) {
      abort_start(out.record);
      throw;
    }
  }
  out.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  return out;
}

namespace {

// Stops every node at once: a node's graceful stop (leadership hand-over, flush) is bounded by
// the grace period, and waiting for each in turn would add those periods up. A pid that is no
// longer a node of ours is left alone.
void stop_nodes(const ClusterRecord& record, std::chrono::milliseconds grace, StopReport& r) {
  std::vector<std::future<StopOutcome>> stops;
  for (const NodeRecord& node : record.nodes) {
    r.nodes.push_back({node, StopOutcome::kNotRunning, {}});
    const bool ours = is_node_process(node.pid, node.node_port(), node.program());
    if (!ours && process_alive(node.pid)) {
      r.nodes.back().detail = "pid " + std::to_string(node.pid) + " is now another program";
    } else if (!ours && port_in_use(node.endpoint.host, node.node_port())) {
      r.nodes.back().detail = "another process serves its port";
    }
    stops.push_back(std::async(std::launch::async, [&node, ours, grace] {
      return ours ? stop_process(node.pid, grace) : StopOutcome::kNotRunning;
    }));
  }
  for (size_t i = 0; i < stops.size(); ++i) {
    r.nodes[i].outcome = stops[i].get();
    r.any_stopped = r.any_stopped || r.nodes[i].outcome != StopOutcome::kNotRunning;
    r.all_gone = r.all_gone && r.nodes[i].outcome != StopOutcome::kStillRunning;
  }
}

}  // namespace

StopReport stop_cluster(const StopFlags& f) {
  if (!(f.grace_s >= 0)) invalid_input("--grace must not be negative");
  std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) {
    environment_failure("no cluster recorded in " + cluster_record_path().string() +
                        "; nothing to stop");
  }
  // The supervisor first: it would restart the nodes stopped below.
  const std::string supervisor_outcome = stop_recorded_supervisor(*record);
  if (!supervisor_outcome.empty()) status_line(f.json, supervisor_outcome);
  StopReport r;
  r.record = std::move(*record);
  // The sentinels before the nodes: they would take the primary's stop for a failure and
  // promote a replica while the cluster goes down.
  r.sentinels = stop_sentinels(r.record, seconds_flag(f.grace_s));
  for (const StopOutcome outcome : r.sentinels) {
    r.any_stopped = r.any_stopped || outcome != StopOutcome::kNotRunning;
    r.all_gone = r.all_gone && outcome != StopOutcome::kStillRunning;
  }
  stop_nodes(r.record, seconds_flag(f.grace_s), r);
  // The fault proxy last: a leader stopping gracefully hands over leadership through it.
  if (r.record.proxy) {
    const ProxyRecord& proxy = *r.record.proxy;
    r.proxy = is_proxy_process(proxy.pid, proxy.api.port)
                  ? stop_process(proxy.pid, seconds_flag(f.grace_s))
                  : StopOutcome::kNotRunning;
    r.any_stopped = r.any_stopped || *r.proxy != StopOutcome::kNotRunning;
    r.all_gone = r.all_gone && *r.proxy != StopOutcome::kStillRunning;
  }
  if (r.all_gone) remove_cluster_record();
  return r;
}

}  // namespace bombarder
