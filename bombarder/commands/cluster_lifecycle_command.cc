// `cluster start` and `cluster stop`: what cluster/cluster_lifecycle.h did, printed (a table or
// --json), and the exit code. The flags are declared in cluster_command.cc.
#include <cstdio>
#include <iostream>

#include "bombarder/base/data_root.h"
#include "bombarder/client/node_url.h"
#include "bombarder/client/redis_sentinel.h"
#include "bombarder/cluster/cluster_lifecycle.h"
#include "bombarder/cluster/cluster_proxies.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/cluster_table.h"
#include "bombarder/cluster/redis_sentinels.h"
#include "bombarder/cluster/supervisor.h"
#include "bombarder/commands/cluster_command.h"
#include "bombarder/commands/exit_codes.h"

namespace bombarder {

namespace {

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

nlohmann::json sentinels_json(const std::vector<SentinelRecord>& sentinels) {
  Json out = Json::array();
  for (const SentinelRecord& s : sentinels) {
    out.push_back({{"id", s.id},
                   {"address", s.endpoint.to_string()},
                   {"pid", s.pid},
                   {"config", s.config_path.string()},
                   {"console_log", s.output_path.string()}});
  }
  return out;
}

void print_sentinels(const std::vector<SentinelRecord>& sentinels) {
  std::string list;
  for (const SentinelRecord& s : sentinels) {
    list += (list.empty() ? "" : ", ") + s.endpoint.to_string() + " (pid " + std::to_string(s.pid) +
            ")";
  }
  const int count = static_cast<int>(sentinels.size());
  std::printf(
      "sentinels: %s watch the primary as '%s' (quorum %d, down-after-milliseconds %d, "
      "failover-timeout %d); config and output in %s-<i>\n",
      list.c_str(), kSentinelMasterName, sentinel_quorum(count), kSentinelDownAfterMs,
      kSentinelFailoverTimeoutMs, (data_root() / "sentinel").c_str());
}

// cluster start --json: the members, the leader, the record and what was started beside them.
void print_started_json(const StartFlags& f, const StartedCluster& started) {
  const ClusterRecord& record = started.record;
  const ClusterView& view = started.view;
  const StatusResponse& leader = *view.nodes[*view.leader].status;
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
                     {"reused_data", static_cast<bool>(started.reused[i])}});
  }
  Json out = {{"nodes", std::move(nodes)},
              {"leader", {{"id", leader.node_id}, {"address", view.leader_address}}},
              {"term", leader.term},
              {"record", cluster_record_path().string()},
              {"peer_auth", record.cluster_secret_file.empty() ? "insecure" : "hmac-sha256"},
              {"elapsed_s", started.elapsed_s}};
  if (!record.cluster_secret_file.empty()) {
    out["cluster_secret_file"] = record.cluster_secret_file.string();
    out["admin_token_file"] = record.admin_token_file.string();
  }
  if (record.proxy) out["proxy"] = proxy_json(*record.proxy, f.nodes);
  if (!record.sentinels.empty()) {
    out["sentinels"] = sentinels_json(record.sentinels);
    out["sentinel_master"] = kSentinelMasterName;
    out["sentinel_quorum"] = sentinel_quorum(static_cast<int>(record.sentinels.size()));
  }
  if (record.system != StoreSystem::kStressNode) out["system"] = to_string(record.system);
  std::cout << out.dump(2) << std::endl;
}

// The line after the table that says what kind of members these are and how their peers talk.
void print_system_line(const StartFlags& f, const ClusterRecord& record) {
  if (record.system == StoreSystem::kEtcd && record.proxy) {
    const ProxiedLayout layout(f.port, f.nodes);
    std::printf(
        "etcd members %s; peers listen on ports %d-%d, each member dials the others (peer URLs "
        "http://etcd-node-<j>:PORT) through its SOCKS5 front on ports %d-%d to its own links\n",
        record.node_binary.c_str(), layout.etcd_peer_port(0), layout.etcd_peer_port(f.nodes - 1),
        layout.socks_port(0), layout.socks_port(f.nodes - 1));
  } else if (record.system == StoreSystem::kEtcd) {
    std::printf("etcd members %s; peer URLs on ports %d-%d (plain HTTP)\n",
                record.node_binary.c_str(), f.port + f.nodes, f.port + 2 * f.nodes - 1);
  } else if (record.system == StoreSystem::kRedis) {
    std::printf(
        "redis-server %s: node 0 the primary, the others its replicas (appendonly yes, "
        "appendfsync everysec)\n",
        record.node_binary.c_str());
    if (!record.sentinels.empty()) print_sentinels(record.sentinels);
  } else if (record.cluster_secret_file.empty()) {
    std::printf("peers: INSECURE (--insecure-peers: peer frames unauthenticated)\n");
  } else {
    std::printf("peers: HMAC-SHA256, secret %s; admin token %s\n",
                record.cluster_secret_file.c_str(), record.admin_token_file.c_str());
  }
}

void print_started(const StartFlags& f, const StartedCluster& started) {
  if (f.json) {
    print_started_json(f, started);
    return;
  }
  const ClusterRecord& record = started.record;
  const ClusterView& view = started.view;
  const StatusResponse& leader = *view.nodes[*view.leader].status;
  std::printf("started %zu node%s in %.1f s; record %s\n", record.nodes.size(),
              record.nodes.size() == 1 ? "" : "s", started.elapsed_s,
              cluster_record_path().c_str());
  TextTable table({{"id", TextTable::Align::kRight},
                   {"address"},
                   {"pid", TextTable::Align::kRight},
                   {"role"},
                   {"data dir"}});
  for (size_t i = 0; i < record.nodes.size(); ++i) {
    const NodeRecord& node = record.nodes[i];
    table.add_row({std::to_string(node.id), node_url(node.endpoint), std::to_string(node.pid),
                   view.nodes[i].status->role,
                   node.data_dir.string() + (started.reused[i] ? " (existing data)" : "")});
  }
  std::fputs(table.render().c_str(), stdout);
  std::printf("leader: node %llu at %s (term %llu)\n",
              static_cast<unsigned long long>(leader.node_id),
              node_url(view.nodes[*view.leader].endpoint).c_str(),
              static_cast<unsigned long long>(leader.term));
  if (record.proxy) print_proxy(*record.proxy, f.nodes);
  print_system_line(f, record);
}

void print_stop_json(const StopReport& r) {
  const ClusterRecord& record = r.record;
  Json nodes = Json::array();
  for (const NodeStop& o : r.nodes) {
    Json row = {{"id", o.node.id},
                {"address", o.node.endpoint.to_string()},
                {"pid", o.node.pid},
                {"outcome", to_string(o.outcome)}};
    if (!o.detail.empty()) row["detail"] = o.detail;
    nodes.push_back(std::move(row));
  }
  Json out = {{"nodes", std::move(nodes)},
              {"stale", !r.any_stopped},
              {"record_removed", r.all_gone},
              {"record", cluster_record_path().string()}};
  if (!r.sentinels.empty()) {
    Json sentinels = Json::array();
    for (size_t i = 0; i < r.sentinels.size(); ++i) {
      const SentinelRecord& s = record.sentinels[i];
      sentinels.push_back({{"id", s.id},
                           {"address", s.endpoint.to_string()},
                           {"pid", s.pid},
                           {"outcome", to_string(r.sentinels[i])}});
    }
    out["sentinels"] = std::move(sentinels);
  }
  if (r.proxy) {
    out["proxy"] = {{"api", record.proxy->api.to_string()},
                    {"pid", record.proxy->pid},
                    {"outcome", to_string(*r.proxy)}};
  }
  std::cout << out.dump(2) << std::endl;
}

void print_stop_text(const StopReport& r) {
  const ClusterRecord& record = r.record;
  TextTable table({{"id", TextTable::Align::kRight},
                   {"address"},
                   {"pid", TextTable::Align::kRight},
                   {"outcome"}});
  for (const NodeStop& o : r.nodes) {
    // Not node_url(): the record (and with it the TLS setting) may be gone by now.
    table.add_row({std::to_string(o.node.id),
                   (record.tls ? "https://" : "http://") + o.node.endpoint.to_string(),
                   std::to_string(o.node.pid),
                   std::string(to_string(o.outcome)) +
                       (o.detail.empty() ? "" : " (" + o.detail + "; left alone)")});
  }
  std::fputs(table.render().c_str(), stdout);
  for (size_t i = 0; i < r.sentinels.size(); ++i) {
    const SentinelRecord& s = record.sentinels[i];
    std::printf("sentinel %llu %s (pid %d): %s\n", static_cast<unsigned long long>(s.id),
                s.endpoint.to_string().c_str(), static_cast<int>(s.pid), to_string(r.sentinels[i]));
  }
  if (r.proxy) {
    std::printf("fault proxy %s (pid %d): %s\n",
                ("http://" + record.proxy->api.to_string()).c_str(),
                static_cast<int>(record.proxy->pid), to_string(*r.proxy));
  }
  if (!r.any_stopped) std::printf("the record was stale: none of its nodes was running\n");
  if (r.all_gone) std::printf("removed %s\n", cluster_record_path().c_str());
}

}  // namespace

int cluster_start_command(const StartFlags& flags) {
  const StartedCluster started = start_cluster(flags);
  print_started(flags, started);
  // After the members are printed, as its own line; a supervisor that does not come up ends
  // the command with exit 3 while the nodes keep running.
  if (flags.supervise) start_background_supervisor(flags.json);
  return kExitOk;
}

int cluster_stop_command(const StopFlags& flags) {
  const StopReport r = stop_cluster(flags);
  if (flags.json) {
    print_stop_json(r);
  } else {
    print_stop_text(r);
  }
  if (!r.all_gone) {
    environment_failure("a node is still running after SIGKILL; kept " +
                        cluster_record_path().string());
  }
  return kExitOk;
}

}  // namespace bombarder
