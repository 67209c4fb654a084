// `cluster start --system redis` (issue 18): a local Redis primary with replicas (Debian's
// redis-server 7) on loopback, recorded in cluster.json like a stress_node cluster so that
// `cluster stop`, `cluster status`, the chaos monkey and node restarts work the same way.
//
// Layout: node 0 is the primary, nodes 1..N-1 its replicas (`--replicaof` node 0). Node i serves
// on --port + i (with --proxied: node<i>-client there, the node itself on its ProxiedLayout
// port, and replica i replicates through the proxy link-<i>-to-0, so a toxic on that link slows
// or cuts its replication stream). Data (the append-only file) in $STRESS_TEST_DATA/node-<i>/redis,
// output in node-<i>/console.log. Every node runs with Redis's default durability made explicit:
// `appendonly yes`, `appendfsync everysec` (a write is acknowledged before it is on disk, and
// before any replica has it), no RDB snapshots of its own, and `enable-debug-command local` so
// that `verify` can ask DEBUG DIGEST. A node restarted from its recorded command line is the
// same member: the primary reloads its append-only file, a replica resynchronizes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bombarder/cluster/cluster_lifecycle.h"

namespace bombarder {

// The node's data directory under its node directory.
[[nodiscard]] std::filesystem::path redis_data_dir(const std::filesystem::path& node_dir);

// Redis's log level (debug, verbose, notice, warning) for --log-level's (stress_node's levels).
[[nodiscard]] std::string redis_log_level(const std::string& level);

// The command line of node `id` (argv[0] = `redis_binary`).
[[nodiscard]] std::vector<std::string> redis_command_line(const StartFlags& flags,
                                                          const std::string& redis_binary,
                                                          uint64_t id,
                                                          const std::filesystem::path& node_dir);

// --node-bin, else `redis-server` on PATH; throws Error(kEnvironment) when there is none.
[[nodiscard]] std::filesystem::path find_redis_binary(const std::string& node_bin);

// Refuses (Error(kInvalidInput)) the start flags that are stress_node's only.
void check_redis_start_flags(const StartFlags& flags);

}  // namespace bombarder
