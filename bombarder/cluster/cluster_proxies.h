// `cluster start --proxied` (issue 6): one `bombarder proxy` process (the Toxiproxy-compatible
// fault proxy, docs/proxy.md) in front of every node's client port and on every directed peer
// link, so a fault can hit client traffic, replication traffic, or one direction of one link
// (an asymmetric partition). Node i's --peers name its own link proxies, so i -> j and j -> i
// cross different proxies.
//
// Port layout for N nodes from --port P, all on --host (one block, checked free before start):
//   P+i          node<i>-client     what clients use (cluster.json, so every bombarder command)
//   P+N+i        node i itself      its --port; the upstream of node<i>-client and link-*-to-<i>
//   P+2N+k       link-<i>-to-<j>    node i's address for peer j, k = i*(N-1) + (j < i ? j : j-1)
//   P+2N+N(N-1)  the proxy's REST API
// With --system etcd (issue 18), node i itself is etcd member i: P+N+i is its client URL (the
// upstream of node<i>-client), and after the API port come, per member,
//   A+1+i        member i's peer URL (the upstream of link-*-to-<i>)
//   A+1+N+i      member i's SOCKS5 front (socks_front.h): its HTTP_PROXY, routing each
//                connection it dials to member j (named etcd-node-<j>) to link-<i>-to-<j>
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

class ProxiedLayout {
 public:
  ProxiedLayout(int base_port, int nodes) : base_(base_port), nodes_(nodes) {}
  [[nodiscard]] uint16_t client_port(int node) const { return port(node); }
  [[nodiscard]] uint16_t node_port(int node) const { return port(nodes_ + node); }
  [[nodiscard]] uint16_t link_port(int from, int to) const;
  [[nodiscard]] uint16_t api_port() const { return port(ports_used() - 1); }
  // How many consecutive ports from the base the layout takes.
  [[nodiscard]] int ports_used() const { return 2 * nodes_ + nodes_ * (nodes_ - 1) + 1; }
  // etcd's: the peer listener and the SOCKS5 front of each member, after the API port.
  [[nodiscard]] uint16_t etcd_peer_port(int node) const { return port(ports_used() + node); }
  [[nodiscard]] uint16_t socks_port(int node) const { return port(ports_used() + nodes_ + node); }
  [[nodiscard]] int etcd_ports_used() const { return ports_used() + 2 * nodes_; }

 private:
  [[nodiscard]] uint16_t port(int offset) const { return static_cast<uint16_t>(base_ + offset); }
  int base_, nodes_;
};

[[nodiscard]] std::string client_proxy_name(int node);        // "node0-client"
[[nodiscard]] std::string link_proxy_name(int from, int to);  // "link-0-to-2"

// "etcd-node-1": the name member 1's peer URL carries, resolved by the SOCKS5 fronts only.
// Not an address, so that Go's proxy rule (loopback and "localhost" bypass HTTP_PROXY) does not
// skip it.
[[nodiscard]] std::string etcd_peer_host(int node);

// The proxies of the layout as a Toxiproxy --config / POST /populate array; for etcd, the links
// lead to the members' peer ports.
[[nodiscard]] nlohmann::json proxied_config(const ProxiedLayout& layout, int nodes,
                                            const std::string& host, StoreSystem system);
// etcd's SOCKS5 fronts (bombarder proxy --socks-config): front i routes etcd-node-<j>:<peer
// port of j> to link-<i>-to-<j>.
[[nodiscard]] nlohmann::json etcd_socks_config(const ProxiedLayout& layout, int nodes,
                                               const std::string& host);

// Writes the config to `config_path` (for etcd also the SOCKS5 fronts' beside it,
// socks-<config name>), starts `bombarder proxy --host HOST --port API --config [--socks-config]`
// detached (output to `output_path`) and waits up to `timeout` for its API to answer GET
// /version. Throws Error(kEnvironment) when it cannot start or ends meanwhile (the
// process is stopped then).
[[nodiscard]] ProxyRecord start_cluster_proxy(const ProxiedLayout& layout, int nodes,
                                              const std::string& host, StoreSystem system,
                                              const std::filesystem::path& config_path,
                                              const std::filesystem::path& output_path,
                                              std::chrono::milliseconds timeout);

}  // namespace bombarder
