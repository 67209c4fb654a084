// cluster start|stop|status|sync-status|resync (issue 4 "Cluster control"; the reference
// README's "Cluster Management" table is the contract). Flags are declared here; the bodies
// (output, exit code) are in cluster_lifecycle_command.cc (start, stop) and
// cluster_inspect_command.cc (status, sync-status, resync), the work in cluster/.
#include "bombarder/commands/cluster_command.h"

#include <memory>

#include "bombarder/base/errors.h"
#include "bombarder/client/store_system.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"

namespace bombarder {

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 a check failed, 2 usage error, 3 environment (no cluster, no leader, "
    "port taken).";

// --sentinel N: a whole number (the range is checked with the other start flags).
int sentinel_count(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 3 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) invalid_input("--sentinel takes a number of sentinels, not '" + text + "'");
  return std::stoi(text);
}

void add_node_tuning_flags(CLI::App* cmd, const std::shared_ptr<StartFlags>& f) {
  cmd->add_option_function<int>(
         "--tick-ms", [f](const int& v) { f->tick_ms = v; },
         "Raft tick length of every node in ms [default: the node's own]")
      ->check(CLI::Range(1, 10000));
  cmd->add_option_function<int>(
         "--election-ticks", [f](const int& v) { f->election_ticks = v; },
         "Election timeout in ticks [default: the node's own]")
      ->check(CLI::Range(3, 10000));
  cmd->add_option_function<int>(
         "--heartbeat-ticks", [f](const int& v) { f->heartbeat_ticks = v; },
         "The leader's heartbeat interval in ticks, at most half the election ticks [default: "
         "the node's own]")
      ->check(CLI::Range(1, 10000));
  cmd->add_option_function<uint64_t>(
         "--snapshot-threshold", [f](const uint64_t& v) { f->snapshot_threshold = v; },
         "Applied entries between snapshots, at the least [default: the node's own]")
      ->check(CLI::PositiveNumber);
  cmd->add_option_function<double>(
         "--snapshot-state-ratio", [f](const double& v) { f->snapshot_state_ratio = v; },
         "Applied entries between snapshots, at the least, as a multiple of the state's live "
         "records; 0: --snapshot-threshold alone, e.g. to test snapshots often on a small "
         "store [default: the node's own]")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option_function<int>(
         "--commit-timeout-ms", [f](const int& v) { f->commit_timeout_ms = v; },
         "How long a write waits for commit before 504 [default: the node's own]")
      ->check(CLI::Range(100, 600000));
}

void add_start_mode_flags(CLI::App* cmd, const std::shared_ptr<StartFlags>& f) {
  cmd->add_flag("--fresh", f->fresh,
                "Delete the nodes' data directories first (by default a node keeps the data a "
                "previous cluster left in node-<i>)");
  cmd->add_flag("--proxied", f->proxied,
                "Put a Toxiproxy-compatible fault proxy in front of every node's client port "
                "(node<i>-client on PORT+i, what clients and cluster.json use) and on every "
                "directed peer link (node i reaches node j through link-<i>-to-<j>); the nodes "
                "move to PORT+N+i, the links follow, the proxy's API comes last and is printed. "
                "With --system etcd, each member's peer connections reach the links through "
                "its own SOCKS5 front (docs/other-stores.md). See docs/proxy.md.");
  // `--sentinel` alone is three sentinels: the smallest count whose majority survives one.
  cmd->add_option_function<std::string>(
         "--sentinel",
         [f](const std::string& v) { f->sentinels = v.empty() ? 3 : sentinel_count(v); },
         "With --system redis: also start N Redis Sentinels (redis-sentinel, default 3) on the "
         "ports after the nodes' (after the proxy's with --proxied), watching the primary with "
         "a majority quorum, down-after-milliseconds 1000 and failover-timeout 3000; config "
         "and output in $STRESS_TEST_DATA/sentinel-<i>/. The load then asks them where the "
         "primary is during a failover (docs/other-stores.md)")
      ->expected(0, 1)
      ->type_name("[N]");
  cmd->add_flag("--tls", f->tls,
                "Serve HTTPS with mutual TLS between the nodes: a throw-away CA, node and "
                "client certificates are generated in $STRESS_TEST_DATA/tls/ (OpenSSL), "
                "recorded in cluster.json, and every other command then uses https with that "
                "CA. See docs/security.md.");
  cmd->add_flag("--json", f->json, "Print the members as JSON (notes go to stderr)");
  cmd->add_flag("--supervise", f->supervise,
                "Once ready, run `bombarder supervise` in the background (log "
                "$STRESS_TEST_DATA/supervisor.log, recorded in cluster.json; `cluster stop` "
                "stops it first)");
  cmd->add_option_function<int>(
         "--watchdog-ms", [f](const int& v) { f->watchdog_ms = v; },
         "Pass --watchdog-ms to every node: abort when an event loop stalls this long")
      ->check(CLI::Range(0, 600000));
  cmd->add_flag("--debug-endpoints", f->debug_endpoints,
                "Pass --debug-endpoints to every node (test-only /_debug/hang failpoint)");
  cmd->add_option_function<std::string>(
         "--peer-transport", [f](const std::string& v) { f->peer_transport = v; },
         "Pass --peer-transport to every node: `stream` (one persistent connection per peer "
         "direction) or `http` (one request per batch) [default: the node's own, stream]")
      ->check(CLI::IsMember({"stream", "http"}));
  cmd->add_flag("--insecure-peers", f->insecure_peers,
                "Start the nodes with --insecure-peers: no cluster secret, unauthenticated peer "
                "frames, no admin token (admin routes disabled). By default a fresh cluster "
                "secret and admin token are written to $STRESS_TEST_DATA/cluster-secret and "
                "admin-token (mode 0600) and passed to every node; see docs/security.md");
}

void add_start(CLI::App& cluster, int& exit_code) {
  auto f = std::make_shared<StartFlags>();
  CLI::App* cmd = cluster.add_subcommand(
      "start",
      "Start a local cluster: node i listens on PORT+i with id i, data and logs in "
      "$STRESS_TEST_DATA/node-<i> (console.log, node.log), recorded in "
      "$STRESS_TEST_DATA/cluster.json. Waits until every node serves and a leader is elected, "
      "then prints the members and the leader. Refuses (exit 3) when a recorded cluster still "
      "runs or a port is taken.");
  cmd->add_option("--port", f->port, "Port of node 0; node i gets PORT+i")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--nodes", f->nodes, "Number of nodes")
      ->capture_default_str()
      ->check(CLI::Range(1, static_cast<int>(kClusterNodesMax)));
  auto system = std::make_shared<std::string>("stress_node");
  cmd->add_option("--system", *system,
                  "stress_node, or etcd: a local etcd 3.4 cluster (members node-<i>, client "
                  "port PORT+i, peer port PORT+NODES+i, data in $STRESS_TEST_DATA/node-<i>/etcd; "
                  "the stress_node tuning, --tls, --proxied and --supervise flags are refused), "
                  "or redis: a local Redis 7 primary (node 0) and replicas (port PORT+i, data in "
                  "$STRESS_TEST_DATA/node-<i>/redis, appendonly yes, appendfsync everysec; "
                  "--proxied puts each replica's link to the primary through the fault proxy)")
      ->capture_default_str();
  cmd->add_option("--node-bin", f->node_bin,
                  "The stress_node binary [default: stress_node beside bombarder; with --system "
                  "etcd, etcd on PATH; with --system redis, redis-server on PATH]");
  cmd->add_option("--host", f->host, "Address the nodes bind and advertise")->capture_default_str();
  cmd->add_option("--log-level", f->log_level, "The nodes' log level")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  add_node_tuning_flags(cmd, f);
  add_seconds_option(cmd, "--timeout", f->timeout_s,
                     "How long to wait for the nodes to serve and elect a leader")
      ->capture_default_str();
  add_start_mode_flags(cmd, f);
  cmd->footer(kExitCodes);
  cmd->callback([f, system, &exit_code] {
    f->system = parse_store_system(*system);
    exit_code = cluster_start_command(*f);
  });
}

void add_stop(CLI::App& cluster, int& exit_code) {
  auto f = std::make_shared<StopFlags>();
  CLI::App* cmd = cluster.add_subcommand(
      "stop",
      "Stop the recorded cluster: SIGTERM to every node that is still the process `cluster "
      "start` launched (checked by PID and command line), SIGKILL after the grace period; "
      "removes cluster.json once none runs, also when the record is stale. No record: exit 3.");
  add_seconds_option(cmd, "--grace", f->grace_s, "Time between SIGTERM and SIGKILL")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "Print the outcome per node as JSON");
  cmd->footer(kExitCodes);
  cmd->callback([f, &exit_code] { exit_code = cluster_stop_command(*f); });
}

void add_status(CLI::App& cluster, int& exit_code) {
  auto f = std::make_shared<StatusFlags>();
  CLI::App* cmd = cluster.add_subcommand(
      "status",
      "Show each node's role, term, leader, commit and applied index, entry count, state hash "
      "and uptime, the leader, and whether the state hashes agree at equal applied indexes. "
      "Exit 0 when every node answers, a leader is known and the hashes agree; 1 otherwise; "
      "3 when no node answers.");
  cmd->add_option("--nodes", f->nodes,
                  "Nodes to ask, comma-separated URLs "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]")
      ->delimiter(',');
  cmd->add_flag("--json", f->json, "Print the report as JSON");
  cmd->footer(kExitCodes);
  cmd->callback([f, &exit_code] { exit_code = cluster_status_command(*f); });
}

void add_sync_status(CLI::App& cluster, int& exit_code) {
  auto f = std::make_shared<SyncStatusFlags>();
  CLI::App* cmd = cluster.add_subcommand(
      "sync-status",
      "Ask the leader how each follower keeps up: last replicated index, lag, state (healthy, "
      "lagging, desynced, snapshotting), replication progress, last contact, failures and "
      "snapshot transfer. The leader is discovered from --leader or the recorded cluster. "
      "Exit 0 when every follower is healthy, 1 when one is not, 3 without a leader.");
  cmd->add_option("--leader", f->leader,
                  "Any node of the cluster; the leader is found from it "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]");
  add_seconds_option(cmd, "--wait", f->wait_s,
                     "How long to wait for a leader while the nodes answer but none leads")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "Print the leader's answer as JSON");
  cmd->footer(kExitCodes);
  cmd->callback([f, &exit_code] { exit_code = cluster_sync_status_command(*f); });
}

void add_resync(CLI::App& cluster, int& exit_code) {
  auto f = std::make_shared<ResyncFlags>();
  CLI::App* cmd = cluster.add_subcommand(
      "resync",
      "Force the leader to send a full snapshot to one follower (POST "
      "/_raft/force-resync), then wait until that follower has installed it and is healthy "
      "again, and print the resync statistics. Exit 0 when it is healthy again; 1 when the "
      "leader could not resync it or it is not healthy before --timeout; 2 when the leader "
      "refuses the target (not a member, or the leader itself); 3 without a leader.");
  cmd->add_option("--target", f->target, "The follower to resync, HOST:PORT as in the members")
      ->required();
  cmd->add_option("--leader", f->leader,
                  "Any node of the cluster; the leader is found from it "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]");
  cmd->add_flag("--no-wait", f->no_wait, "Return once the leader has started the transfer");
  add_seconds_option(cmd, "--timeout", f->timeout_s,
                     "How long to wait for the follower to be healthy again")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "Print the outcome as JSON");
  cmd->footer(kExitCodes);
  cmd->callback([f, &exit_code] { exit_code = cluster_resync_command(*f); });
}

}  // namespace

void add_cluster_commands(CLI::App& app, int& exit_code) {
  CLI::App* cluster =
      app.add_subcommand("cluster", "Start, stop and inspect a local stress_node cluster");
  cluster->require_subcommand(1);
  add_start(*cluster, exit_code);
  add_stop(*cluster, exit_code);
  add_status(*cluster, exit_code);
  add_sync_status(*cluster, exit_code);
  add_resync(*cluster, exit_code);
}

}  // namespace bombarder
