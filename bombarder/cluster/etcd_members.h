// `cluster start --system etcd` (issue 18): a local etcd cluster (Debian's etcd-server, 3.4) on
// loopback, recorded in cluster.json like a stress_node cluster so that `cluster stop`,
// `cluster status`, the chaos monkey and node restarts work the same way.
//
// Layout: member i is named node-<i>, serves clients on --port + i and its peers on
// --port + nodes + i (a 3-member cluster from 8080 takes 8080-8085), keeps its data in
// $STRESS_TEST_DATA/node-<i>/etcd and its output in node-<i>/console.log. Its recorded command
// line restarts it as the same member: etcd ignores the --initial-cluster flags once its data
// directory holds a member.
//
// With --proxied (cluster_proxies.h has the ports): clients reach member i through the proxy
// node<i>-client at --port + i, and its peer connections go through its own SOCKS5 front to the
// link proxies link-<i>-to-<j> (the recorded command line is `env HTTP_PROXY=socks5://... etcd
// ...`), so that the proxy API can cut one member from the others in either direction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bombarder/cluster/cluster_lifecycle.h"

namespace bombarder {

// The member's data directory under its node directory.
[[nodiscard]] std::filesystem::path etcd_data_dir(const std::filesystem::path& node_dir);

// The command line of member `id` (argv[0] = `etcd_binary`); `token` names this cluster
// (--initial-cluster-token), so that members of another cluster never join it.
[[nodiscard]] std::vector<std::string> etcd_command_line(const StartFlags& flags,
                                                         const std::string& etcd_binary,
                                                         uint64_t id,
                                                         const std::filesystem::path& node_dir,
                                                         const std::string& token);

// --node-bin, else `etcd` on PATH; throws Error(kEnvironment) when there is none.
[[nodiscard]] std::filesystem::path find_etcd_binary(const std::string& node_bin);

// Refuses (Error(kInvalidInput)) the start flags that are stress_node's only.
void check_etcd_start_flags(const StartFlags& flags);

}  // namespace bombarder
