// The load of `bombarder inject --load` (issue 7; the frac demo's load.js): one create request
// every `interval`, sent to the nodes in turn (request s goes to node s mod N at origin +
// s * interval), so the share of a faulted node is known in advance and the failures a fault
// window should cause can be predicted and set beside the ones observed.
//
// Open loop: a node that hangs (paused) must not delay the requests scheduled after the one it
// holds, or the fault window would swallow fewer requests than predicted. Each node gets enough
// threads to keep sending on schedule while its earlier requests wait out their `timeout`
// (timeout / (interval * nodes) + 1 of them, at most kThreadsPerNodeMax); only beyond that bound
// is a request sent late.
// Threads: start() and stop() from one thread; samples() after stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bombarder/client/api_client.h"
#include "common/endpoint.h"

namespace bombarder {

struct LoadTarget {
  std::string name;  // the node's name as the fault plugin knows it ("2")
  common::Endpoint endpoint;
};

struct LoadSample {
  uint64_t seq = 0;
  int64_t scheduled_ms = 0;  // since the origin
  size_t target = 0;         // index into the targets
  int status = 0;            // 0: no HTTP answer
  int64_t latency_ms = 0;
  std::string error;
  [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
};

// A fault window on one node: [start_ms, end_ms) since the origin. (Not report.h's
// FaultWindow: one name for two types in one namespace broke the One Definition Rule, and ASan
// caught a vector of one being moved with the other's layout.)
struct NodeFaultWindow {
  std::string node;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

struct LoadSummary {
  uint64_t total = 0;
  uint64_t ok = 0;
  std::vector<std::pair<std::string, uint64_t>> failures_by_code;  // "503", "no answer", sorted
  uint64_t expected_failures = 0;  // requests aimed at a node inside one of its fault windows
  uint64_t failures_in_windows = 0;
  uint64_t failures_outside = 0;
};

[[nodiscard]] LoadSummary summarize(const std::vector<LoadSample>& samples,
                                    const std::vector<LoadTarget>& targets,
                                    const std::vector<NodeFaultWindow>& windows);

class IntervalLoad {
 public:
  IntervalLoad(std::vector<LoadTarget> targets, std::chrono::milliseconds interval,
               std::chrono::milliseconds timeout);
  ~IntervalLoad();  // stop()
  IntervalLoad(const IntervalLoad&) = delete;
  IntervalLoad& operator=(const IntervalLoad&) = delete;

  void start(std::chrono::steady_clock::time_point origin);
  // No request is scheduled at or after `end`; joins the threads (bounded by `timeout`).
  void stop();
  [[nodiscard]] const std::vector<LoadTarget>& targets() const { return targets_; }
  // Every request sent, in seq order.
  [[nodiscard]] std::vector<LoadSample> samples();

 private:
  static constexpr size_t kThreadsPerNodeMax = 16;
  void run(size_t target, size_t lane, size_t lanes);

  std::vector<LoadTarget> targets_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point origin_;
  ApiClient client_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<LoadSample> samples_;
  std::vector<std::thread> threads_;
};

// seq,scheduled_ms,node,address,status,latency_ms,in_fault_window,error
void write_load_csv(const std::filesystem::path& path, const std::vector<LoadSample>& samples,
                    const std::vector<LoadTarget>& targets,
                    const std::vector<NodeFaultWindow>& windows);

}  // namespace bombarder
