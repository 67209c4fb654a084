// A small Prometheus registry: counters, gauges, latency histograms and sum/count summaries with
// labels, rendered in the text exposition format 0.0.4 for GET /metrics.
//
// Cardinality is bounded: label values must come from bounded sets (route patterns such as
// /api/kv/:id, never raw paths), and each family holds at most `series_per_family_max` series;
// past that, new label sets share one series whose label values are all "_other".
//
// Thread-safety: every method is thread-safe. The references returned by counter(), gauge() ...
// stay valid for the registry's lifetime; updating through them is lock-free (counters,
// gauges) or takes the series' own mutex (histograms, summaries).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace kv {
struct IdempotencyStats;
}  // namespace kv

namespace node {

struct NodeStatus;

// Label name/value pairs, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // Mirrors a monotonic counter kept elsewhere (the Raft core's counters).
  void set_total(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  [[nodiscard]] uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Rendered as a Prometheus histogram in seconds at common::prometheus::latency_bounds_seconds().
class LatencyHistogram {
 public:
  void observe_us(uint64_t value_us) { histogram_.record(value_us); }
  void observe(std::chrono::nanoseconds duration);
  [[nodiscard]] common::Histogram snapshot() const { return histogram_.snapshot(); }

 private:
  common::SharedHistogram histogram_;
};

// A summary without quantiles: only _sum and _count, for totals kept elsewhere (the log
// storage's persist latency total), where individual observations are not available.
class SummaryTotals {
 public:
  void set(uint64_t count, double sum);
  [[nodiscard]] std::pair<uint64_t, double> value() const;

 private:
  mutable std::mutex mutex_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Registry {
 public:
  explicit Registry(size_t series_per_family_max = 256)
      : series_per_family_max_(series_per_family_max) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Finds or creates the series. A name must keep one type and one help text; a name or label
  // name outside [a-zA-Z_:][a-zA-Z0-9_:]* is a programming error (aborts).
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  LatencyHistogram& histogram(std::string_view name, std::string_view help,
                              const Labels& labels = {});
  SummaryTotals& summary(std::string_view name, std::string_view help, const Labels& labels = {});

  // Families in name order, series in label order: the output is deterministic.
  [[nodiscard]] std::string render() const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  enum class Type : uint8_t { kCounter, kGauge, kHistogram, kSummary };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<LatencyHistogram>> histograms;
    std::map<Labels, std::unique_ptr<SummaryTotals>> summaries;
  };

  Family& family(std::string_view name, std::string_view help, Type type);
  Labels bounded(const Family& family, size_t series_count, const Labels& labels) const;
  template <typename T>
  T& series(std::map<Labels, std::unique_ptr<T>>& map, const Family& family, const Labels& labels);
  static void render_family(const std::string& name, const Family& family, std::string& out);

  const size_t series_per_family_max_;
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// `a="x",b="y"` with values escaped as the text format requires (\\, \", \n).
[[nodiscard]] std::string format_labels(const Labels& labels);

// The HTTP metrics every request updates: http_requests_total{route,code} and
// http_request_duration_seconds{route}. `route` is the matched pattern or a fixed word.
void record_http_request(Registry& registry, const std::string& route, unsigned status,
                         std::chrono::nanoseconds duration);

// Sets the raft_* gauges, counters and summaries from a NodeStatus (called before rendering).
void update_node_metrics(Registry& registry, const NodeStatus& status);

// The idempotency table (issue 13): kv_idempotency_keys, kv_idempotency_bytes,
// kv_idempotency_clock_ms and kv_idempotency_evictions_total{reason="ttl"|"bytes"}.
void update_idempotency_metrics(Registry& registry, const kv::IdempotencyStats& stats);

}  // namespace node
