// The node's Prometheus metrics for GET /metrics, on prometheus-cpp (common/metrics.h).
//
// Live series (counters, gauges, latency histograms updated as things happen) are
// prometheus-cpp's; values kept elsewhere and copied in before each scrape (the Raft core's
// counters, the peer transport's, the storage's persist totals) are set with set_counter() and
// set_summary() and rendered as they were last set.
//
// Cardinality is bounded: label values must come from bounded sets (route patterns such as
// /api/kv/:id, never raw paths), and each family holds at most `series_per_family_max` series;
// past that, new label sets share one series whose label values are all "_other".
//
// Thread-safety: every method is thread-safe. The references returned by counter(), gauge() and
// histogram() stay valid for the registry's lifetime. Looking a series up takes the registry's
// mutex: do it once, not per request (HttpMetrics below, KvApi's append latency); updating
// through the reference is an atomic (counters, gauges) or the histogram's own mutex.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"

namespace kv {
struct IdempotencyStats;
}  // namespace kv

namespace stress_node {

struct NodeStatus;

// Label name -> value; rendered in name order.
using Labels = common::metrics::Labels;

// A latency histogram in seconds at common::metrics::latency_bounds_seconds().
class LatencyHistogram {
 public:
  explicit LatencyHistogram(prometheus::Histogram& histogram) : histogram_(histogram) {}
  void observe_us(uint64_t value_us) { histogram_.Observe(static_cast<double>(value_us) / 1e6); }
  void observe(std::chrono::nanoseconds duration);

 private:
  prometheus::Histogram& histogram_;
};

class Registry {
 public:
  explicit Registry(size_t series_per_family_max = 256);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Finds or creates a live series. A name must keep one type; a name or label name
  // prometheus-cpp refuses is a programming error (aborts).
  prometheus::Counter& counter(std::string_view name, std::string_view help,
                               const Labels& labels = {});
  prometheus::Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  LatencyHistogram& histogram(std::string_view name, std::string_view help,
                              const Labels& labels = {});

  // A counter mirrored from a monotonic total kept elsewhere: rendered as `total`.
  void set_counter(std::string_view name, std::string_view help, const Labels& labels,
                   uint64_t total);
  // A summary without quantiles (only _sum and _count), for totals kept elsewhere (the log
  // storage's persist latency total), where individual observations are not available.
  void set_summary(std::string_view name, std::string_view help, const Labels& labels,
                   uint64_t count, double sum);

  // Families in name order, series in label order: the output is deterministic.
  [[nodiscard]] std::string render() const;

  static constexpr const char* kContentType = common::metrics::kContentType;

 private:
  enum class Type : uint8_t { kCounter, kGauge, kHistogram, kMirroredCounter, kSummary };
  struct Family {
    Type type = Type::kCounter;
    prometheus::Family<prometheus::Counter>* counters = nullptr;      // kCounter
    prometheus::Family<prometheus::Gauge>* gauges = nullptr;          // kGauge
    prometheus::Family<prometheus::Histogram>* histograms = nullptr;  // kHistogram
    std::map<Labels, double> values;                                  // kMirroredCounter
    std::map<Labels, std::pair<uint64_t, double>> summaries;          // kSummary: (count, sum)
    std::string help;
    size_t series = 0;
  };

  Family& family(std::string_view name, std::string_view help, Type type);
  // `labels`, or the "_other" label set once `family` is full; counts a new series.
  Labels bounded(Family& family, bool exists, const Labels& labels) const;
  template <typename T>
  T& live(std::string_view name, std::string_view help, Type type, const Labels& labels);

  const size_t series_per_family_max_;
  const std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::map<const prometheus::Histogram*, std::unique_ptr<LatencyHistogram>> histograms_;
};

// The HTTP metrics every request updates: http_requests_total{code,route} and
// http_request_duration_seconds{route}. `route` is the matched pattern or a fixed word, `code`
// the status. Each (route, code) series is looked up in the registry once and kept: recording a
// request takes no registry mutex.
//
// Thread-safety: record() from one thread only (the node's io thread).
class HttpMetrics {
 public:
  explicit HttpMetrics(Registry& registry) : registry_(registry) {}
  void record(const std::string& route, unsigned status, std::chrono::nanoseconds duration);

 private:
  struct RouteSeries {
    LatencyHistogram* duration = nullptr;
    std::map<unsigned, prometheus::Counter*> requests;  // by status code
  };
  Registry& registry_;
  std::map<std::string, RouteSeries, std::less<>> routes_;
};

// Sets the raft_* gauges, counters and summaries from a NodeStatus (called before rendering).
void update_node_metrics(Registry& registry, const NodeStatus& status);

// The idempotency table (issue 13): kv_idempotency_keys, kv_idempotency_bytes,
// kv_idempotency_clock_seconds (was _clock_ms before issue 16: promtool wants base units) and
// kv_idempotency_evictions_total{reason="ttl"|"bytes"}.
void update_idempotency_metrics(Registry& registry, const kv::IdempotencyStats& stats);

}  // namespace stress_node
