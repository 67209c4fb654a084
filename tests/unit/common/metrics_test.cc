// common/metrics.h: the scrape-time families and their text (prometheus-cpp's serializer).
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace common::metrics {
namespace {

TEST(CommonMetrics, LatencyHistogramBucketsCountValuesAtOrBelowEachBound) {
  Histogram h;
  h.record(100);         // exactly 0.0001 s: in le="0.0001"
  h.record(1000);        // exactly 1 ms
  h.record(3000);        // 3 ms
  h.record(20'000'000);  // 20 s: only +Inf
  auto f = family("x_seconds", "X.", ::prometheus::MetricType::Histogram);
  add_latency_histogram(f, {{"route", "/a"}}, h);
  const auto& buckets = f.metric.at(0).histogram.bucket;
  ASSERT_EQ(buckets.size(), latency_bounds_seconds().size() + 1);
  const auto at = [&](double le) {
    for (const auto& b : buckets) {
      if (b.upper_bound == le) return b.cumulative_count;
    }
    ADD_FAILURE() << "no bucket " << le;
    return uint64_t{0};
  };
  EXPECT_EQ(at(0.0001), 1u);
  EXPECT_EQ(at(0.00025), 1u);
  EXPECT_EQ(at(0.001), 2u);
  EXPECT_EQ(at(0.0025), 2u);
  EXPECT_EQ(at(0.005), 3u);
  EXPECT_EQ(at(10), 3u);
  EXPECT_TRUE(std::isinf(buckets.back().upper_bound));
  EXPECT_EQ(buckets.back().cumulative_count, 4u);
  for (size_t i = 1; i < buckets.size(); ++i) {
    EXPECT_GE(buckets[i].cumulative_count, buckets[i - 1].cumulative_count);
  }
}

TEST(CommonMetrics, SerializedHistogramFollowsTheTextFormat) {
  Histogram h;
  h.record(1500);
  h.record(500);
  auto f = family("x_seconds", "X.", ::prometheus::MetricType::Histogram);
  add_latency_histogram(f, {{"route", "/a"}}, h);
  const std::string text = serialize({f});
  EXPECT_NE(text.find("# TYPE x_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{route=\"/a\",le=\"0.0005\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{route=\"/a\",le=\"0.0025\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_sum{route=\"/a\"} 0.002\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_count{route=\"/a\"} 2\n"), std::string::npos);
}

TEST(CommonMetrics, FamiliesAndSeriesAreSortedAndHelpIsEscaped) {
  auto b = family("b_total", "Line one\nback\\slash", ::prometheus::MetricType::Counter);
  add_value(b, {{"k", "2"}}, 1);
  add_value(b, {{"k", "1"}}, 2);
  auto a = family("a", "A.", ::prometheus::MetricType::Gauge);
  add_value(a, {{"z", "1"}, {"y", "q\"uote"}}, 0.25);
  EXPECT_EQ(serialize({b, a}),
            "# HELP a A.\n# TYPE a gauge\na{y=\"q\\\"uote\",z=\"1\"} 0.25\n"
            "# HELP b_total Line one\\nback\\\\slash\n# TYPE b_total counter\n"
            "b_total{k=\"1\"} 2\nb_total{k=\"2\"} 1\n");
}

TEST(CommonMetrics, SummaryHasSumAndCountOnly) {
  auto f = family("s_seconds", "S.", ::prometheus::MetricType::Summary);
  add_summary(f, {}, 4, 0.5);
  const std::string text = serialize({f});
  EXPECT_NE(text.find("\ns_seconds_sum 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ns_seconds_count 4\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("quantile"), std::string::npos) << text;
}

TEST(CommonMetrics, BadNamesAbort) {
  EXPECT_DEATH((void)family("bad name", "X.", ::prometheus::MetricType::Gauge),
               "invalid metric name");
  auto f = family("ok", "X.", ::prometheus::MetricType::Gauge);
  EXPECT_DEATH(add_value(f, {{"__reserved", "x"}}, 1), "invalid label name");
}

}  // namespace
}  // namespace common::metrics
