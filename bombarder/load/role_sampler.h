// Each node's Raft role over time, for the history's "role" lines (issue 5 "Report"): while a
// load runs, a thread asks every node for /_raft/health once per period, all nodes at once, and
// records the first sample of each node and every change of its role or term. A node that does
// not answer 200 within the attempt timeout is "down". With a store adapter (issue 18: etcd),
// the nodes are asked through it (StoreAdapter::node_statuses: etcd's maintenance status, which
// tells leader or follower and the term; an etcd member has no candidate state to show).
//
// A sample's time is when its request was sent, so a change happened at most one period (plus
// the answer's delay) before the line's at_ns; with the default period, within ~200 ms.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bombarder/client/store_adapter.h"
#include "bombarder/history/history.h"
#include "common/endpoint.h"

namespace bombarder {

class RoleSampler {
 public:
  struct Node {
    uint64_t id = 0;  // the member id, as fault lines name it
    common::Endpoint endpoint;
  };
  // `history` (and `store`, when set) must outlive the sampler (or its stop()). `store`
  // nullptr: stress_node's /_raft/health.
  RoleSampler(std::vector<Node> nodes, HistoryWriter& history,
              std::chrono::milliseconds period = std::chrono::milliseconds(200),
              std::chrono::milliseconds attempt_timeout = std::chrono::milliseconds(500),
              const StoreAdapter* store = nullptr);
  ~RoleSampler();  // stop()s
  RoleSampler(const RoleSampler&) = delete;
  RoleSampler& operator=(const RoleSampler&) = delete;

  void start();
  // Ends the sampling after one last sample, so that the state the run ended in (a node the
  // chaos restarted at the end, say) is recorded. Idempotent.
  void stop();
  // Role lines written so far.
  [[nodiscard]] size_t lines_written() const;

 private:
  void loop();
  void sample_once();
  // (role, term) of every node, in order; "down" and nullopt for one that did not answer.
  [[nodiscard]] std::vector<std::pair<std::string, std::optional<uint64_t>>> ask_nodes();

  std::vector<Node> nodes_;
  HistoryWriter& history_;
  std::chrono::milliseconds period_;
  std::chrono::milliseconds attempt_timeout_;
  const StoreAdapter* store_;
  // The last (role, term) written per node; nullopt before its first sample.
  std::vector<std::optional<std::pair<std::string, std::optional<uint64_t>>>> last_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  size_t lines_written_ = 0;
  std::thread thread_;
};

}  // namespace bombarder
