#include "common/metrics.h"

#include <prometheus/check_names.h>
#include <prometheus/client_metric.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace common::metrics {

namespace {

constexpr double kLatencyBoundsSeconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};

[[noreturn]] void bad_name(const char* what, std::string_view name) {
  std::fprintf(stderr, "metrics: invalid %s name '%.*s'\n", what, static_cast<int>(name.size()),
               name.data());
  std::abort();
}

::prometheus::ClientMetric& add_series(::prometheus::MetricFamily& family, const Labels& labels) {
  check_label_names(labels);
  ::prometheus::ClientMetric& metric = family.metric.emplace_back();
  for (const auto& [name, value] : labels) metric.label.push_back({name, value});
  return metric;
}

}  // namespace

std::span<const double> latency_bounds_seconds() { return kLatencyBoundsSeconds; }

::prometheus::Histogram::BucketBoundaries latency_bucket_boundaries() {
  return {std::begin(kLatencyBoundsSeconds), std::end(kLatencyBoundsSeconds)};
}

std::string escape_help(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void check_metric_name(std::string_view name) {
  if (!::prometheus::CheckMetricName(std::string(name))) bad_name("metric", name);
}

void check_label_names(const Labels& labels) {
  for (const auto& label : labels) {
    if (!::prometheus::CheckLabelName(label.first)) bad_name("label", label.first);
  }
}

::prometheus::MetricFamily family(std::string_view name, std::string_view help,
                                  ::prometheus::MetricType type) {
  check_metric_name(name);
  ::prometheus::MetricFamily family;
  family.name = std::string(name);
  family.help = escape_help(help);
  family.type = type;
  return family;
}

void add_value(::prometheus::MetricFamily& family, const Labels& labels, double value) {
  ::prometheus::ClientMetric& metric = add_series(family, labels);
  if (family.type == ::prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

void add_latency_histogram(::prometheus::MetricFamily& family, const Labels& labels,
                           const common::Histogram& histogram) {
  ::prometheus::ClientMetric& metric = add_series(family, labels);
  metric.histogram.sample_count = histogram.count();
  metric.histogram.sample_sum = static_cast<double>(histogram.sum_us()) / 1e6;
  for (const double le : kLatencyBoundsSeconds) {
    const auto bound_us = static_cast<uint64_t>(std::llround(le * 1e6));
    metric.histogram.bucket.push_back({histogram.count_at_or_below(bound_us), le});
  }
  metric.histogram.bucket.push_back({histogram.count(), std::numeric_limits<double>::infinity()});
}

void add_summary(::prometheus::MetricFamily& family, const Labels& labels, uint64_t count,
                 double sum) {
  ::prometheus::ClientMetric& metric = add_series(family, labels);
  metric.summary.sample_count = count;
  metric.summary.sample_sum = sum;
}

std::string serialize(std::vector<::prometheus::MetricFamily> families) {
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& family : families) {
    std::stable_sort(family.metric.begin(), family.metric.end(),
                     [](const auto& a, const auto& b) { return a.label < b.label; });
  }
  return ::prometheus::TextSerializer().Serialize(families);
}

}  // namespace common::metrics
