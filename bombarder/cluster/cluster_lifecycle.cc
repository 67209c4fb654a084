#include "bombarder/cluster/cluster_lifecycle.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/output.h"
#include "bombarder/base/process.h"
#include "bombarder/base/text.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_proxies.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/cluster_secrets.h"
#include "bombarder/cluster/cluster_table.h"
#include "bombarder/cluster/cluster_tls.h"
#include "bombarder/cluster/supervisor.h"

namespace bombarder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kLogTailLines = 12;
// How long the nodes of a failed start get to stop before SIGKILL.
constexpr auto kAbortGrace = 5s;

std::chrono::milliseconds seconds_flag(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// The consecutive ports from --port the cluster takes.
int ports_taken(const StartFlags& f) {
  return f.proxied ? ProxiedLayout(f.port, f.nodes).ports_used() : f.nodes;
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
  if (f.snapshot_threshold && *f.snapshot_threshold < 1) {
    invalid_input("--snapshot-threshold must be at least 1");
  }
  if (f.commit_timeout_ms && (*f.commit_timeout_ms < 100 || *f.commit_timeout_ms > 600000)) {
    invalid_input("--commit-timeout-ms must be 100..600000");
  }
  if (!(f.timeout_s > 0)) invalid_input("--timeout must be positive");
}

fs::path find_node_binary(const StartFlags& f) {
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
    if (!is_node_process(node.pid, node.node_port())) continue;
    alive += (alive.empty() ? "" : ", ") + node.endpoint.to_string();
  }
  if (record->proxy && is_proxy_process(record->proxy->pid, record->proxy->api.port)) {
    alive += (alive.empty() ? "fault proxy " : ", fault proxy ") + record->proxy->api.to_string();
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

// Stops every node of a start that failed and forgets the record.
void abort_start(const ClusterRecord& record) {
  std::vector<std::future<StopOutcome>> stops;
  for (const NodeRecord& node : record.nodes) {
    stops.push_back(std::async(std::launch::async, [&node] {
      return is_node_process(node.pid, node.node_port()) ? stop_process(node.pid, kAbortGrace)
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
  const auto deadline = Clock::now() + seconds_flag(f.timeout_s);
  std::string why;
  while (true) {
    for (const NodeRecord& node : record.nodes) {
      int status = 0;
      if (::waitpid(node.pid, &status, WNOHANG) == node.pid) fail_early_exit(record, node, status);
    }
    ClusterView view = survey(client, record.endpoints(), 500ms);
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

nlohmann::json proxy_json(const ProxyRecord& proxy, int nodes) {
  Json names = Json::array();
  for (int i = 0; i < nodes; ++i) names.push_back(client_proxy_name(i));
  for (int from = 0; from < nodes; ++from) {
    for (int to = 0; to < nodes; ++to) {
      if (from != to) names.push_back(link_proxy_name(from, to));
    }
  }
  return {{"api", "http://" + proxy.api.to_string()},
          {"pid", proxy.pid},
          {"config", proxy.config_path.string()},
          {"output", proxy.output_path.string()},
          {"proxies", std::move(names)}};
}

void print_proxy(const ProxyRecord& proxy, int nodes) {
  std::printf(
      "fault proxy: Toxiproxy API at %s (pid %d); clients use node<i>-client (the addresses "
      "above), node i reaches node j through link-<i>-to-<j>, e.g. %s (docs/proxy.md)\n",
      ("http://" + proxy.api.to_string()).c_str(), static_cast<int>(proxy.pid),
      nodes > 1 ? link_proxy_name(0, 1).c_str() : client_proxy_name(0).c_str());
}

void print_started(const StartFlags& f, const ClusterRecord& record, const ClusterView& view,
                   const std::vector<bool>& reused, double elapsed_s) {
  const StatusResponse& leader = *view.nodes[*view.leader].status;
  if (f.json) {
    Json nodes = Json::array();
    for (size_t i = 0; i < record.nodes.size(); ++i) {
      const NodeRecord& node = record.nodes[i];
      nodes.push_back({{"id", node.id},
                       {"address", node.endpoint.to_string()},
                       {"url", node_url(node.endpoint)},
                       {"pid", node.pid},
                       {"role", view.nodes[i].status->role},
                       {"data_dir", node.data_dir.string()},
                       {"console_log", node.output_path.string()},
                       {"reused_data", static_cast<bool>(reused[i])}});
    }
    Json out = {{"nodes", std::move(nodes)},
                {"leader", {{"id", leader.node_id}, {"address", view.leader_address}}},
                {"term", leader.term},
                {"record", cluster_record_path().string()},
                {"peer_auth", record.cluster_secret_file.empty() ? "insecure" : "hmac-sha256"},
                {"elapsed_s", elapsed_s}};
    if (!record.cluster_secret_file.empty()) {
      out["cluster_secret_file"] = record.cluster_secret_file.string();
      out["admin_token_file"] = record.admin_token_file.string();
    }
    if (record.proxy) out["proxy"] = proxy_json(*record.proxy, f.nodes);
    std::cout << out.dump(2) << std::endl;
    return;
  }
  std::printf("started %zu node%s in %.1f s; record %s\n", record.nodes.size(),
              record.nodes.size() == 1 ? "" : "s", elapsed_s, cluster_record_path().c_str());
  TextTable table({{"id", TextTable::Align::kRight},
                   {"address"},
                   {"pid", TextTable::Align::kRight},
                   {"role"},
                   {"data dir"}});
  for (size_t i = 0; i < record.nodes.size(); ++i) {
    const NodeRecord& node = record.nodes[i];
    table.add_row({std::to_string(node.id), node_url(node.endpoint), std::to_string(node.pid),
                   view.nodes[i].status->role,
                   node.data_dir.string() + (reused[i] ? " (existing data)" : "")});
  }
  std::fputs(table.render().c_str(), stdout);
  std::printf("leader: node %llu at %s (term %llu)\n",
              static_cast<unsigned long long>(leader.node_id),
              node_url(view.nodes[*view.leader].endpoint).c_str(),
              static_cast<unsigned long long>(leader.term));
  if (record.proxy) print_proxy(*record.proxy, f.nodes);
  if (record.cluster_secret_file.empty()) {
    std::printf("peers: INSECURE (--insecure-peers: peer frames unauthenticated)\n");
  } else {
    std::printf("peers: HMAC-SHA256, secret %s; admin token %s\n",
                record.cluster_secret_file.c_str(), record.admin_token_file.c_str());
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
  if (f.snapshot_threshold) {
    argv.insert(argv.end(), {"--snapshot-threshold", std::to_string(*f.snapshot_threshold)});
  }
  if (f.commit_timeout_ms) {
    argv.insert(argv.end(), {"--commit-timeout-ms", std::to_string(*f.commit_timeout_ms)});
  }
  if (f.watchdog_ms) argv.insert(argv.end(), {"--watchdog-ms", std::to_string(*f.watchdog_ms)});
  if (f.debug_endpoints) argv.push_back("--debug-endpoints");
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

namespace {

// Every node's record and directory, ready before the first node starts, so that a failure
// here leaves no process. `reused[i]`: node i starts on existing data.
std::vector<NodeRecord> plan_nodes(const StartFlags& f, const fs::path& binary,
                                   std::vector<bool>& reused) {
  std::vector<NodeRecord> planned;
  for (int i = 0; i < f.nodes; ++i) {
    NodeRecord node;
    node.id = static_cast<uint64_t>(i);
    node.endpoint = {f.host, static_cast<uint16_t>(f.port + i)};  // = node<i>-client if proxied
    if (f.proxied) node.listen_port = ProxiedLayout(f.port, f.nodes).node_port(i);
    node.data_dir = data_root() / ("node-" + std::to_string(i));
    node.output_path = node.data_dir / "console.log";
    node.args = node_command_line(f, binary.string(), node.id, node.data_dir.string());
    std::error_code ec;
    if (f.fresh) {
      fs::remove_all(node.data_dir, ec);
      if (ec) environment_failure("cannot remove " + node.data_dir.string() + ": " + ec.message());
    }
    reused.push_back(fs::exists(node.data_dir / "db", ec));
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
    record.proxy = start_cluster_proxy(ProxiedLayout(f.port, f.nodes), f.nodes, f.host,
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

void run_cluster_start(const StartFlags& flags) {
  validate(flags);
  StartFlags f = flags;
  const fs::path binary = find_node_binary(f);
  const size_t stale_nodes = check_no_running_cluster();
  check_ports_free(f);
  if (stale_nodes > 0) {
    status_line(f.json, "note: replacing the stale record " + cluster_record_path().string() +
                            " (none of its nodes runs)");
  }
  const auto started = Clock::now();
  // A fresh secret and admin token per cluster (the previous cluster's nodes are all stopped).
  ClusterSecrets secrets;
  if (!f.insecure_peers) {
    secrets = create_cluster_secrets(data_root());
    f.cluster_secret_file = secrets.cluster_secret_file.string();
    f.admin_token_file = secrets.admin_token_file.string();
  }
  std::vector<bool> reused;
  std::vector<NodeRecord> planned = plan_nodes(f, binary, reused);
  ClusterRecord record = prepare_record(f, binary, secrets, planned.size());
  spawn_nodes(planned, record);
  for (size_t i = 0; i < reused.size(); ++i) {
    if (reused[i]) {
      status_line(f.json, "note: node " + std::to_string(i) + " starts on the existing data in " +
                              record.nodes[i].data_dir.string() + " (--fresh starts empty)");
    }
  }
  const ClusterView view = wait_ready(f, record);
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  print_started(f, record, view, reused, elapsed_s);
  if (f.supervise) start_background_supervisor(f.json);
}

namespace {

// How stopping one recorded node went.
struct NodeStop {
  const NodeRecord* node;
  StopOutcome outcome = StopOutcome::kNotRunning;
  std::string detail;  // why it was left alone
};

// What `cluster stop` did.
struct StopReport {
  std::vector<NodeStop> nodes;
  std::optional<StopOutcome> proxy;
  bool any_stopped = false;
  bool all_gone = true;
};

// Stops every node at once: a node's graceful stop (leadership hand-over, flush) is bounded by
// the grace period, and waiting for each in turn would add those periods up. A pid that is no
// longer a node of ours is left alone.
void stop_nodes(const ClusterRecord& record, std::chrono::milliseconds grace, StopReport& r) {
  std::vector<std::future<StopOutcome>> stops;
  for (const NodeRecord& node : record.nodes) {
    r.nodes.push_back({&node, StopOutcome::kNotRunning, {}});
    const bool ours = is_node_process(node.pid, node.node_port());
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

void print_stop_json(const ClusterRecord& record, const StopReport& r) {
  Json nodes = Json::array();
  for (const NodeStop& o : r.nodes) {
    Json row = {{"id", o.node->id},
                {"address", o.node->endpoint.to_string()},
                {"pid", o.node->pid},
                {"outcome", to_string(o.outcome)}};
    if (!o.detail.empty()) row["detail"] = o.detail;
    nodes.push_back(std::move(row));
  }
  Json out = {{"nodes", std::move(nodes)},
              {"stale", !r.any_stopped},
              {"record_removed", r.all_gone},
              {"record", cluster_record_path().string()}};
  if (r.proxy) {
    out["proxy"] = {{"api", record.proxy->api.to_string()},
                    {"pid", record.proxy->pid},
                    {"outcome", to_string(*r.proxy)}};
  }
  std::cout << out.dump(2) << std::endl;
}

void print_stop_text(const ClusterRecord& record, const StopReport& r) {
  TextTable table({{"id", TextTable::Align::kRight},
                   {"address"},
                   {"pid", TextTable::Align::kRight},
                   {"outcome"}});
  for (const NodeStop& o : r.nodes) {
    // Not node_url(): the record (and with it the TLS setting) may be gone by now.
    table.add_row({std::to_string(o.node->id),
                   (record.tls ? "https://" : "http://") + o.node->endpoint.to_string(),
                   std::to_string(o.node->pid),
                   std::string(to_string(o.outcome)) +
                       (o.detail.empty() ? "" : " (" + o.detail + "; left alone)")});
  }
  std::fputs(table.render().c_str(), stdout);
  if (r.proxy) {
    std::printf("fault proxy %s (pid %d): %s\n",
                ("http://" + record.proxy->api.to_string()).c_str(),
                static_cast<int>(record.proxy->pid), to_string(*r.proxy));
  }
  if (!r.any_stopped) std::printf("the record was stale: none of its nodes was running\n");
  if (r.all_gone) std::printf("removed %s\n", cluster_record_path().c_str());
}

}  // namespace

void run_cluster_stop(const StopFlags& f) {
  if (!(f.grace_s >= 0)) invalid_input("--grace must not be negative");
  const std::optional<ClusterRecord> record = load_cluster_record();
  if (!record) {
    environment_failure("no cluster recorded in " + cluster_record_path().string() +
                        "; nothing to stop");
  }
  // The supervisor first: it would restart the nodes stopped below.
  const std::string supervisor_outcome = stop_recorded_supervisor(*record);
  if (!supervisor_outcome.empty()) status_line(f.json, supervisor_outcome);
  StopReport r;
  stop_nodes(*record, seconds_flag(f.grace_s), r);
  // The fault proxy last: a leader stopping gracefully hands over leadership through it.
  if (record->proxy) {
    r.proxy = is_proxy_process(record->proxy->pid, record->proxy->api.port)
                  ? stop_process(record->proxy->pid, seconds_flag(f.grace_s))
                  : StopOutcome::kNotRunning;
    r.any_stopped = r.any_stopped || *r.proxy != StopOutcome::kNotRunning;
    r.all_gone = r.all_gone && *r.proxy != StopOutcome::kStillRunning;
  }
  if (r.all_gone) remove_cluster_record();
  if (f.json) {
    print_stop_json(*record, r);
  } else {
    print_stop_text(*record, r);
  }
  if (!r.all_gone) {
    environment_failure("a node is still running after SIGKILL; kept " +
                        cluster_record_path().string());
  }
}

}  // namespace bombarder
