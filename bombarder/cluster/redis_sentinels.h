// `cluster start --system redis --sentinel [N]` (issue 18): N Redis Sentinels (Debian's
// redis-sentinel 7) on loopback watching the primary, so that when the primary dies a replica is
// promoted and the others (the old primary too, once it is back) are made its replicas.
//
// Layout: sentinel i listens on the port after the nodes' ports (--port + nodes + i; with
// --proxied after the whole proxied layout), with its config and output in
// $STRESS_TEST_DATA/sentinel-<i>/ (sentinel.conf, written new at every start, since Sentinel
// rewrites it with what it learns about this cluster; console.log). Every sentinel runs
//     sentinel monitor bombarder HOST PRIMARY_PORT QUORUM    quorum: a majority (2 of 3)
//     sentinel down-after-milliseconds bombarder 1000        the primary is "down" after 1 s
//     sentinel failover-timeout bombarder 3000               a failed failover is retried
//                                                            after 6 s (twice this)
//     sentinel parallel-syncs bombarder 1
// (Sentinel's defaults are 30 s and 3 min: right for production, too slow for a test). The
// primary's address is the node's own port, also with --proxied: Sentinel reaches the nodes
// directly, and after a failover it points the replicas at the new primary directly, not
// through the link proxies (Sentinel learns each replica's own port from the primary).
//
// They are recorded in cluster.json's "sentinels", beside "nodes" (they are not data nodes):
// `cluster stop` stops them first (a sentinel that outlived the primary's stop would start a
// failover), `cluster status` shows them, the chaos monkey and verify leave them alone.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "bombarder/base/process.h"
#include "bombarder/cluster/cluster_lifecycle.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

inline constexpr int kSentinelsMax = 7;
inline constexpr int kSentinelDownAfterMs = 1000;
inline constexpr int kSentinelFailoverTimeoutMs = 3000;

// A majority of `sentinels`: how many must agree that the primary is down.
[[nodiscard]] int sentinel_quorum(int sentinels);

// The port of sentinel `index` for these start flags.
[[nodiscard]] int sentinel_port(const StartFlags& flags, int index);

// redis-sentinel on PATH; throws Error(kEnvironment) when there is none.
[[nodiscard]] std::filesystem::path find_sentinel_binary();

// Refuses (Error(kInvalidInput)) a --sentinel count out of range, or --sentinel without
// --system redis.
void check_sentinel_flags(const StartFlags& flags);

// Writes each sentinel's directory and config (a fresh one) and returns their records, not yet
// started (pid 0). The primary is node 0 of `record`.
[[nodiscard]] std::vector<SentinelRecord> plan_sentinels(const StartFlags& flags,
                                                         const std::filesystem::path& binary,
                                                         const ClusterRecord& record);

// Spawns the planned sentinels, saving the record after each, and waits (up to `timeout`) until
// every one of them knows the primary's replicas and the other sentinels: before that a
// failover could not be agreed on. Throws Error(kEnvironment) when one ends or the wait times
// out (the caller stops what was started).
void start_sentinels(std::vector<SentinelRecord> planned, ClusterRecord& record,
                     std::chrono::milliseconds timeout);

// True if `pid` runs and is the redis-sentinel recorded at `port`.
[[nodiscard]] bool is_sentinel_process(pid_t pid, uint16_t port);

// Stops every recorded sentinel that is still ours (SIGTERM, SIGKILL after `grace`), all at once;
// outcomes in the order of record.sentinels.
[[nodiscard]] std::vector<StopOutcome> stop_sentinels(const ClusterRecord& record,
                                                      std::chrono::milliseconds grace);

// What one sentinel says, for `cluster status`.
struct SentinelView {
  SentinelRecord sentinel;
  bool running = false;
  std::string primary;  // "host:port" it names as the primary, "" when it does not answer
  std::string error;    // why primary is empty
};
[[nodiscard]] std::vector<SentinelView> inspect_sentinels(const ClusterRecord& record);

}  // namespace bombarder
