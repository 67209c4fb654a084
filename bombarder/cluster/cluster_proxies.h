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

 private:
  [[nodiscard]] uint16_t port(int offset) const { return static_cast<uint16_t>(base_ + offset); }
  int base_, nodes_;
};

[[nodiscard]] std::string client_proxy_name(int node);        // "node0-client"
[[nodiscard]] std::string link_proxy_name(int from, int to);  // "link-0-to-2"

// The proxies of the layout as a Toxiproxy --config / POST /populate array.
[[nodiscard]] nlohmann::json proxied_config(const ProxiedLayout& layout, int nodes,
                                            const std::string& host);

// Writes the config to `config_path`, starts `bombarder proxy --host HOST --port API --config`
// detached (output to `output_path`) and waits up to `timeout` for its API to answer GET
// /version. Throws Error(kEnvironment) when it cannot start or ends meanwhile (the
// process is stopped then).
[[nodiscard]] ProxyRecord start_cluster_proxy(const ProxiedLayout& layout, int nodes,
                                              const std::string& host,
                                              const std::filesystem::path& config_path,
                                              const std::filesystem::path& output_path,
                                              std::chrono::milliseconds timeout);

}  // namespace bombarder
