#include "bombarder/cluster/etcd_members.h"

#include "bombarder/base/errors.h"
#include "bombarder/cluster/cluster_proxies.h"

namespace bombarder {

namespace fs = std::filesystem;

fs::path etcd_data_dir(const fs::path& node_dir) { return node_dir / "etcd"; }

namespace {

// Member `self`'s URLs: where it listens for clients and peers, what it advertises, and the
// whole cluster's peer URLs (--initial-cluster). Plain: the ports of the header. --proxied
// (cluster_proxies.h): clients reach it through node<self>-client, and every peer URL is a name
// only the SOCKS5 fronts know, so that each member's connection to another crosses its own link.
struct EtcdUrls {
  std::string listen_client, advertise_client, listen_peer, advertise_peer, initial_cluster;
};

EtcdUrls etcd_urls(const StartFlags& f, int self) {
  const auto url = [](const std::string& host, int port) {
    return "http://" + host + ":" + std::to_string(port);
  };
  const ProxiedLayout layout(f.port, f.nodes);
  const auto peer_url = [&](int i) {
    return f.proxied ? url(etcd_peer_host(i), layout.etcd_peer_port(i))
                     : url(f.host, f.port + f.nodes + i);
  };
  EtcdUrls urls;
  for (int i = 0; i < f.nodes; ++i) {
    if (!urls.initial_cluster.empty()) urls.initial_cluster += ",";
    urls.initial_cluster += "node-" + std::to_string(i) + "=" + peer_url(i);
  }
  urls.advertise_client = url(f.host, f.port + self);  // = node<self>-client if proxied
  urls.listen_client = f.proxied ? url(f.host, layout.node_port(self)) : urls.advertise_client;
  urls.advertise_peer = peer_url(self);
  urls.listen_peer = f.proxied ? url(f.host, layout.etcd_peer_port(self)) : urls.advertise_peer;
  return urls;
}

}  // namespace

std::vector<std::string> etcd_command_line(const StartFlags& f, const std::string& etcd_binary,
                                           uint64_t id, const fs::path& node_dir,
                                           const std::string& token) {
  const int self = static_cast<int>(id);
  const EtcdUrls urls = etcd_urls(f, self);
  // etcd's log levels are debug, info, warn, error, panic, fatal; the others are stress_node's.
  std::string level = f.log_level;
  if (level == "trace") level = "debug";
  if (level == "critical" || level == "off") level = "error";
  std::vector<std::string> args;
  if (f.proxied) {
    // env execs etcd (the recorded pid is etcd's) with its peer connections through its SOCKS5
    // front; the proxy variables the caller may have set are dropped, NO_PROXY could bypass it.
    const ProxiedLayout layout(f.port, f.nodes);
    args = {"/usr/bin/env",
            "-u",
            "http_proxy",
            "-u",
            "NO_PROXY",
            "-u",
            "no_proxy",
            "HTTP_PROXY=socks5://" + f.host + ":" + std::to_string(layout.socks_port(self))};
  }
  const std::vector<std::string> etcd = {etcd_binary,
                                         "--name",
                                         "node-" + std::to_string(id),
                                         "--data-dir",
                                         etcd_data_dir(node_dir).string(),
                                         "--listen-client-urls",
                                         urls.listen_client,
                                         "--advertise-client-urls",
                                         urls.advertise_client,
                                         "--listen-peer-urls",
                                         urls.listen_peer,
                                         "--initial-advertise-peer-urls",
                                         urls.advertise_peer,
                                         "--initial-cluster",
                                         urls.initial_cluster,
                                         "--initial-cluster-token",
                                         token,
                                         "--initial-cluster-state",
                                         "new",
                                         "--logger",
                                         "zap",
                                         "--log-level",
                                         level};
  args.insert(args.end(), etcd.begin(), etcd.end());
  return args;
}

fs::path find_etcd_binary(const std::string& node_bin) {
  return find_store_program("etcd", node_bin,
                            "install Debian's etcd-server, or pass --node-bin PATH to an etcd 3.4");
}

void check_etcd_start_flags(const StartFlags& f) { refuse_stress_node_flags(f, "etcd"); }

}  // namespace bombarder
