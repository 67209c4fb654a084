#include "metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "raft_node.h"

namespace stress_node {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

TEST(MetricsTest, CounterRendersHelpTypeAndLabelledSeries) {
  Registry registry;
  registry.counter("requests_total", "Requests.", {{"route", "/a"}, {"code", "200"}}).Increment(3);
  registry.counter("requests_total", "Requests.", {{"route", "/a"}, {"code", "404"}}).Increment();
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "# HELP requests_total Requests.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE requests_total counter"));
  // prometheus-cpp writes labels in name order.
  EXPECT_TRUE(has_line(text, "requests_total{code=\"200\",route=\"/a\"} 3"));
  EXPECT_TRUE(has_line(text, "requests_total{code=\"404\",route=\"/a\"} 1"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  Registry registry;
  prometheus::Counter& a = registry.counter("c_total", "C.", {{"x", "1"}});
  prometheus::Counter& b = registry.counter("c_total", "C.", {{"x", "1"}});
  EXPECT_EQ(&a, &b);
  a.Increment();
  b.Increment();
  EXPECT_EQ(a.Value(), 2);
  LatencyHistogram& h = registry.histogram("h_seconds", "H.");
  EXPECT_EQ(&h, &registry.histogram("h_seconds", "H."));
}

TEST(MetricsTest, GaugeWithoutLabelsRendersBareName) {
  Registry registry;
  registry.gauge("raft_term", "Term.").Set(7);
  registry.gauge("ratio", "Ratio.").Set(0.25);
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "# TYPE raft_term gauge"));
  EXPECT_TRUE(has_line(text, "raft_term 7")) << text;
  EXPECT_TRUE(has_line(text, "ratio 0.25"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.counter("e_total", "Line one\nback\\slash", {{"v", "a\"b\\c\nd"}}).Increment();
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "# HELP e_total Line one\\nback\\\\slash")) << text;
  EXPECT_TRUE(has_line(text, "e_total{v=\"a\\\"b\\\\c\\nd\"} 1")) << text;
}

TEST(MetricsTest, HistogramRendersBucketsSumAndCount) {
  Registry registry;
  auto& h = registry.histogram("http_request_duration_seconds", "Latency.", {{"route", "/status"}});
  h.observe(std::chrono::microseconds(800));
  h.observe(std::chrono::milliseconds(30));
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "# TYPE http_request_duration_seconds histogram"));
  EXPECT_TRUE(
      has_line(text, "http_request_duration_seconds_bucket{route=\"/status\",le=\"0.001\"} 1"))
      << text;
  EXPECT_TRUE(
      has_line(text, "http_request_duration_seconds_bucket{route=\"/status\",le=\"0.05\"} 2"));
  EXPECT_TRUE(
      has_line(text, "http_request_duration_seconds_bucket{route=\"/status\",le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(text, "http_request_duration_seconds_sum{route=\"/status\"} 0.0308"));
  EXPECT_TRUE(has_line(text, "http_request_duration_seconds_count{route=\"/status\"} 2"));
}

TEST(MetricsTest, MirroredCounterRendersTheLastTotalSet) {
  Registry registry;
  registry.set_counter("m_total", "M.", {{"peer", "1"}}, 5);
  registry.set_counter("m_total", "M.", {{"peer", "1"}}, 9);
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "# TYPE m_total counter")) << text;
  EXPECT_TRUE(has_line(text, "m_total{peer=\"1\"} 9")) << text;
}

TEST(MetricsTest, OneNameWithTwoTypesAborts) {
  Registry registry;
  registry.set_counter("x_total", "X.", {}, 1);
  EXPECT_DEATH(registry.gauge("x_total", "X."), "two types");
  EXPECT_DEATH(registry.counter("bad name", "X."), "invalid metric name");
}

TEST(MetricsTest, SummaryRendersSumAndCountOnly) {
  Registry registry;
  registry.set_summary("raft_fsync_latency_seconds", "Fsync.", {}, 4, 0.5);
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "# TYPE raft_fsync_latency_seconds summary"));
  EXPECT_TRUE(has_line(text, "raft_fsync_latency_seconds_sum 0.5"));
  EXPECT_TRUE(has_line(text, "raft_fsync_latency_seconds_count 4"));
}

TEST(MetricsTest, FamiliesRenderInNameOrderWithOneHeaderEach) {
  Registry registry;
  registry.gauge("zeta", "Z.").Set(1);
  registry.gauge("alpha", "A.", {{"k", "2"}}).Set(1);
  registry.gauge("alpha", "A.", {{"k", "1"}}).Set(1);
  const auto lines = lines_of(registry.render());
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "# HELP alpha A.");
  EXPECT_EQ(lines[2], "alpha{k=\"1\"} 1");
  EXPECT_EQ(lines[3], "alpha{k=\"2\"} 1");
  EXPECT_EQ(lines[4], "# HELP zeta Z.");
}

TEST(MetricsTest, SeriesPastTheBoundShareOneOtherSeries) {
  Registry registry(/*series_per_family_max=*/2);
  registry.counter("r_total", "R.", {{"route", "a"}}).Increment();
  registry.counter("r_total", "R.", {{"route", "b"}}).Increment();
  registry.counter("r_total", "R.", {{"route", "c"}}).Increment();
  registry.counter("r_total", "R.", {{"route", "d"}}).Increment();
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "r_total{route=\"a\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "r_total{route=\"_other\"} 2")) << text;
  EXPECT_FALSE(has_line(text, "r_total{route=\"d\"} 1"));
}

TEST(MetricsTest, HttpRequestsAreLabelledByRoutePatternAndCode) {
  Registry registry;
  HttpMetrics http(registry);
  http.record("/api/kv/:id", 404, std::chrono::milliseconds(2));
  http.record("/api/kv/:id", 404, std::chrono::milliseconds(3));
  http.record("/api/kv/:id", 200, std::chrono::milliseconds(1));
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "http_requests_total{code=\"404\",route=\"/api/kv/:id\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "http_requests_total{code=\"200\",route=\"/api/kv/:id\"} 1"));
  EXPECT_TRUE(has_line(text, "http_request_duration_seconds_count{route=\"/api/kv/:id\"} 3"));
}

TEST(MetricsTest, NodeStatusFillsTheRaftFamilies) {
  NodeStatus status;
  status.core.soft.term = 5;
  status.core.soft.role = raft::Role::kLeader;
  status.core.hard.commit_index = 42;
  status.core.applied_index = 41;
  status.counters.leader_changes = 3;
  status.counters.proposals_accepted = 40;
  status.log.persist_count = 10;
  status.log.persist_latency_us_total = 20'000;
  Registry registry;
  update_node_metrics(registry, status);
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "raft_term 5")) << text;
  EXPECT_TRUE(has_line(text, "raft_role 3"));
  EXPECT_TRUE(has_line(text, "raft_commit_index 42"));
  EXPECT_TRUE(has_line(text, "raft_applied_index 41"));
  EXPECT_TRUE(has_line(text, "raft_leader_changes_total 3"));
  EXPECT_TRUE(has_line(text, "raft_proposals_total 40"));
  EXPECT_TRUE(has_line(text, "raft_fsync_latency_seconds_sum 0.02"));
  EXPECT_TRUE(has_line(text, "raft_fsync_latency_seconds_count 10"));
}

}  // namespace
}  // namespace stress_node
