// The node's per-request metrics cost (issue 16): what the HTTP server's observer and a client
// write do to /metrics for every request, measured single-threaded (the node's io thread) and
// with two threads recording at once (the raft thread observes the persist latency while the io
// thread records requests).
//
//   build/benchmarks/metrics_bench [Google Benchmark flags]
//
// BM_HttpRequestRecorded: one answered request: http_requests_total{code,route} incremented and
// http_request_duration_seconds{route} observed, cycling over 4 routes and 3 status codes.
//
// Figures: docs/benchmarks.md ("The node's per-request metrics").
// BM_LatencyObserved: one observation of a pre-resolved latency histogram
// (raft_append_latency_seconds, raft_log_persist_duration_seconds).
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <string>

#include "metrics.h"

namespace {

const std::array<std::string, 4> kRoutes = {"/api/kv", "/api/kv/:id", "/status", "/_raft/append"};
constexpr std::array<unsigned, 3> kCodes = {200, 201, 404};

void BM_HttpRequestRecorded(benchmark::State& state) {
  static stress_node::Registry registry;
  stress_node::HttpMetrics http(registry);  // one per thread, as HttpMetrics::record requires
  size_t i = 0;
  for (auto _ : state) {
    http.record(kRoutes[i % kRoutes.size()], kCodes[i % kCodes.size()],
                std::chrono::microseconds(250 + i % 1000));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HttpRequestRecorded)->Threads(1)->Threads(2);

void BM_LatencyObserved(benchmark::State& state) {
  static stress_node::Registry registry;
  auto& histogram = registry.histogram("raft_append_latency_seconds", "Append latency.");
  uint64_t i = 0;
  for (auto _ : state) {
    histogram.observe(std::chrono::microseconds(250 + i % 1000));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LatencyObserved)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
