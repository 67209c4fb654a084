// How a load run is reported (design.md §4): a human summary (requests, successes, failures by
// kind, retries, throughput, latency p50/p90/p99/p99.9/max per operation), the same as JSON for
// machines, and the live progress line on a terminal.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bombarder/load/load_engine.h"

namespace bombarder {

// One chaos action, as the summary and the run record list it.
struct ChaosEvent {
  double at_s = 0;     // seconds since the run started
  std::string action;  // "kill", "restart", "restart-failed", ...
  uint64_t node_id = 0;
  std::string address;
  std::string detail;  // "SIGKILL leader pid 1234", "pid 5678 serving after 310 ms"
};

struct RunHeader {
  std::string command;  // "storm"
  std::string target;   // "3 nodes, leader 127.0.0.1:8080" / "random nodes"
  size_t concurrency = 0;
  double min_success_pct = 100.0;
};

[[nodiscard]] std::string human_summary(const RunHeader& header, const LoadResult& result,
                                        const std::vector<ChaosEvent>& chaos);
[[nodiscard]] nlohmann::json json_summary(const RunHeader& header, const LoadResult& result,
                                          const std::vector<ChaosEvent>& chaos);

// "\r[storm] 1234/5000  ok 1230  failed 0  retries 12  2345 req/s  3.2 s" on a terminal.
void draw_progress(std::FILE* out, const std::string& command, const LoadProgress& progress);
void clear_progress(std::FILE* out);

}  // namespace bombarder
