// Prometheus metrics of both binaries, through prometheus-cpp's core (Debian prometheus-cpp-dev
// 1.0.1: registry, counters, gauges, histograms, the text serializer; its civetweb exposer is
// not used: /metrics is served by our own HTTP server).
//
// Two kinds of metric:
// - Live series, updated as events happen (a request answered, a write committed): a
//   prometheus::Registry's Counter, Gauge and Histogram. Look a series up once and keep the
//   reference: the lookup takes the family's mutex and hashes the labels; updating through the
//   reference does not (counters and gauges are atomics, a histogram takes its own mutex).
// - Scrape-time families, built when /metrics is asked from values kept elsewhere (the Raft
//   core's counters, the load generator's per-shard totals, the proxy's state): a
//   prometheus::MetricFamily filled with the helpers below, the pattern of prometheus-cpp's
//   Collectable.
// serialize() writes both kinds as text format 0.0.4, deterministically: families in name order,
// series in label order (prometheus-cpp keeps series in a hash map).
//
// Labels are a std::map: prometheus-cpp writes them in name order, whatever order they were
// given in. Names must match [a-zA-Z_:][a-zA-Z0-9_:]* (label names no ':', not "__" first): a
// bad one is a programming error and aborts.
#pragma once

#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"

namespace common::metrics {

using Labels = std::map<std::string, std::string>;

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// The fixed `le` boundaries (seconds) every latency histogram uses, so that series from all
// nodes and all runs aggregate: 100 µs .. 10 s (+Inf is implicit).
[[nodiscard]] std::span<const double> latency_bounds_seconds();
[[nodiscard]] ::prometheus::Histogram::BucketBoundaries latency_bucket_boundaries();

// HELP text as the text format wants it (backslash and newline escaped). prometheus-cpp 1.0.1
// writes HELP verbatim, so every help text goes through this before it reaches the library.
[[nodiscard]] std::string escape_help(std::string_view text);

// A scrape-time family (kCounter, kGauge, kHistogram or kSummary) without series yet.
[[nodiscard]] ::prometheus::MetricFamily family(std::string_view name, std::string_view help,
                                                ::prometheus::MetricType type);
// A counter's or gauge's series (by the family's type).
void add_value(::prometheus::MetricFamily& family, const Labels& labels, double value);
// A latency histogram's series, in seconds, at latency_bounds_seconds() (bucket counts from
// Histogram::count_at_or_below: exact below 128 µs, within 1/64 above).
void add_latency_histogram(::prometheus::MetricFamily& family, const Labels& labels,
                           const common::Histogram& histogram);
// A summary without quantiles (_sum and _count only), for totals kept elsewhere.
void add_summary(::prometheus::MetricFamily& family, const Labels& labels, uint64_t count,
                 double sum);

// Text format 0.0.4 of `families` (sorted as said above) by prometheus::TextSerializer.
[[nodiscard]] std::string serialize(std::vector<::prometheus::MetricFamily> families);

// Aborts naming the metric or label name unless prometheus-cpp accepts it.
void check_metric_name(std::string_view name);
void check_label_names(const Labels& labels);

}  // namespace common::metrics
