// Redis Sentinel (issue 18), from the client's side: which node is the primary now, as the
// sentinels of `cluster start --system redis --sentinel` say (cluster/redis_sentinels.h starts
// them). Sentinel promotes a replica when the primary is down, so during a failover the load
// engine asks here instead of walking the nodes: a replica answers -READONLY until it is
// promoted, and an old primary restarted from its command line serves writes as a primary until
// Sentinel turns it into a replica (losing them), so "the node that accepts writes" is not the
// primary; the one the sentinels name is.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/endpoint.h"

namespace bombarder {

// The name under which every sentinel of `cluster start --system redis --sentinel` monitors the
// primary (`sentinel monitor bombarder HOST PORT QUORUM`).
inline constexpr const char* kSentinelMasterName = "bombarder";

// `SENTINEL get-master-addr-by-name NAME` on one sentinel: the primary's address as the sentinel
// knows it (the node's own listening address, also behind the fault proxy). nullopt and *why when
// the sentinel does not answer or knows no such master.
[[nodiscard]] std::optional<common::Endpoint> sentinel_primary(const common::Endpoint& sentinel,
                                                               const std::string& master_name,
                                                               std::chrono::milliseconds timeout,
                                                               std::string* why);

// The address most of `sentinels` name as the primary (ties: the first sentinel's answer);
// nullopt when none answers. Asks them all at once, each bounded by `timeout`.
[[nodiscard]] std::optional<common::Endpoint> sentinels_primary(
    const std::vector<common::Endpoint>& sentinels, const std::string& master_name,
    std::chrono::milliseconds timeout);

// Asks the sentinels every `interval` on a thread of its own and keeps the answer as an index
// into `node_addresses` (the nodes' own listening addresses, in the order of the load's nodes),
// so that the load engine's hot path reads an atomic instead of waiting for a sentinel. The
// watcher stops in its destructor. Thread-safe.
class SentinelWatch {
 public:
  SentinelWatch(std::vector<common::Endpoint> sentinels, std::string master_name,
                std::vector<common::Endpoint> node_addresses,
                std::chrono::milliseconds interval = std::chrono::milliseconds(100));
  ~SentinelWatch();
  SentinelWatch(const SentinelWatch&) = delete;
  SentinelWatch& operator=(const SentinelWatch&) = delete;

  // The node the sentinels last named, or nullopt: none answered yet, or they named an address
  // that is not among the nodes.
  [[nodiscard]] std::optional<size_t> primary() const;

 private:
  void run();

  const std::vector<common::Endpoint> sentinels_;
  const std::string master_name_;
  const std::vector<common::Endpoint> nodes_;
  const std::chrono::milliseconds interval_;
  static constexpr int64_t kUnknown = -1;
  std::atomic<int64_t> primary_{kUnknown};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bombarder
