// The load generator's live metrics (load_metrics.h) and their HTTP endpoint (metrics_server.h):
// the counters a scrape shows must be exactly the run's own result, series stay well-formed
// Prometheus text, breakers add up across runs, and the endpoint answers bad routes with JSON.
#include "bombarder/load/load_metrics.h"

#include <gtest/gtest.h>

#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/client/api_client.h"
#include "bombarder/load/metrics_server.h"
#include "fake_kv.h"
#include "prometheus_text.h"

namespace bombarder {
namespace {

using test::FakeServer;
using test::spec_for;
using namespace std::chrono_literals;

prometheus_text::Parsed parse_ok(const LoadMetrics& metrics) {
  prometheus_text::Parsed parsed = prometheus_text::parse(metrics.render());
  for (const std::string& p : parsed.problems) ADD_FAILURE() << p;
  return parsed;
}

std::string node_label(const common::Endpoint& e) { return "{node=\"" + e.to_string() + "\"}"; }

TEST(LoadMetrics, ScrapeAfterARunEqualsTheRunsResult) {
  FakeServer fake;
  fake.kv.apply_then_504 = 5;  // five retries, five 504 answers
  LoadMetrics metrics("flood");
  LoadSpec spec = spec_for({fake.server.endpoint()}, 300);
  spec.metrics = &metrics;
  const LoadResult r = run_load(spec);
  ASSERT_EQ(r.succeeded, 300u);

  const auto m = parse_ok(metrics);
  EXPECT_EQ(m.get("bombarder_run_info{command=\"flood\"}"), 1);
  EXPECT_EQ(m.get("bombarder_requests_total{op=\"create\",outcome=\"ok\"}"), 300);
  EXPECT_EQ(m.sum("bombarder_requests_total", {"outcome=\"failed\""}), 0);
  EXPECT_EQ(m.get("bombarder_retries_total"), static_cast<double>(r.retries));
  EXPECT_EQ(m.get("bombarder_retries_total"), 5);
  for (const auto& [status, n] : r.responses) {
    EXPECT_EQ(m.get("bombarder_responses_total{status=\"" + std::to_string(status) + "\"}"),
              static_cast<double>(n))
        << status;
  }
  EXPECT_EQ(m.count("bombarder_responses_total"), r.responses.size());
  const std::string node = node_label(fake.server.endpoint());
  EXPECT_EQ(m.get("bombarder_attempts_total" + node), static_cast<double>(r.attempts));
  EXPECT_EQ(m.get("bombarder_attempt_failures_total" + node), 5) << "the 504s";
  EXPECT_EQ(m.get("bombarder_request_duration_seconds_count{op=\"create\"}"), 300);
  EXPECT_EQ(m.get("bombarder_request_duration_seconds_bucket{op=\"create\",le=\"+Inf\"}"), 300);
  EXPECT_NEAR(*m.get("bombarder_request_duration_seconds_sum{op=\"create\"}"),
              static_cast<double>(r.ops[0].latency.sum_us()) / 1e6, 1e-6);
  // Keep-alive: one connection per worker, every one closed when the run ended.
  EXPECT_EQ(m.get("bombarder_pool_connects_total" + node),
            static_cast<double>(fake.server.accepted()));
  EXPECT_EQ(m.get("bombarder_pool_closes_total" + node),
            static_cast<double>(fake.server.accepted()));
  EXPECT_EQ(m.get("bombarder_pool_connections" + node), 0);
  EXPECT_EQ(m.get("bombarder_load_running"), 0);
  EXPECT_EQ(m.get("bombarder_load_runs_total"), 1);
  EXPECT_EQ(m.get("bombarder_ops_per_second"), 0) << "idle after the run";
  EXPECT_EQ(m.count("bombarder_breaker_state"), 0u) << "no breakers asked for";
}

TEST(LoadMetrics, FailuresAreCountedByKind) {
  FakeServer fake;
  fake.kv.always_503 = true;
  LoadMetrics metrics("flood");
  LoadSpec spec = spec_for({fake.server.endpoint()}, 3);
  spec.deadline = 300ms;
  spec.metrics = &metrics;
  const LoadResult r = run_load(spec);
  const auto m = parse_ok(metrics);
  EXPECT_EQ(m.get("bombarder_failures_total{kind=\"unavailable\"}"), 3);
  EXPECT_EQ(m.sum("bombarder_failures_total"), 3);
  EXPECT_EQ(m.get("bombarder_requests_total{op=\"create\",outcome=\"failed\"}"), 3);
  EXPECT_EQ(m.get("bombarder_responses_total{status=\"503\"}"),
            static_cast<double>(r.responses.at(503)));
}

TEST(LoadMetrics, ALiveScrapeSeesTheRunGoing) {
  FakeServer fake;
  LoadMetrics metrics("storm");
  LoadSpec spec = spec_for({fake.server.endpoint()}, 0);
  spec.duration = 30s;  // ended by stop_requested once the scrape has seen what it wants
  spec.concurrency = 4;
  std::atomic<bool> stop{false};
  spec.stop_requested = [&stop] { return stop.load(); };
  spec.metrics = &metrics;
  std::thread load([&] { (void)run_load(spec); });

  const std::string node = node_label(fake.server.endpoint());
  prometheus_text::Parsed m;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    m = parse_ok(metrics);
    seen = m.get("bombarder_load_running") == 1 && m.get("bombarder_load_workers") == 4 &&
           m.get("bombarder_pool_connections" + node) == 4 &&
           m.get("bombarder_ops_per_second").value_or(0) > 0;
    if (!seen) std::this_thread::sleep_for(20ms);
  }
  stop = true;
  load.join();
  EXPECT_TRUE(seen) << "last scrape:\n" << metrics.render();
  m = parse_ok(metrics);
  EXPECT_EQ(m.get("bombarder_load_running"), 0);
  EXPECT_EQ(m.get("bombarder_pool_connections" + node), 0);
  EXPECT_EQ(m.sum("bombarder_requests_total"), static_cast<double>(metrics.succeeded_total()));
}

TEST(LoadMetrics, BreakerTransitionsAddUpAcrossRuns) {
  FakeServer alive;
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
  LoadMetrics metrics("burst");
  BreakerCounters dead_total;
  for (int run = 0; run < 2; ++run) {  // two bursts, each with its own breakers
    LoadSpec spec = spec_for({dead, alive.server.endpoint()}, 100);
    spec.targeting = Targeting::kRandomNode;
    spec.breaker = BreakerOptions{2, 60s};
    spec.metrics = &metrics;
    const LoadResult r = run_load(spec);
    ASSERT_EQ(r.breakers.size(), 2u);
    dead_total.opened += r.breakers[0].counters.opened;
    dead_total.rejected += r.breakers[0].counters.rejected;
  }
  const auto m = parse_ok(metrics);
  const std::string d = "node=\"" + dead.to_string() + "\"";
  const std::string a = "node=\"" + alive.server.endpoint().to_string() + "\"";
  EXPECT_EQ(m.get("bombarder_breaker_state{" + d + "}"), 2) << "open";
  EXPECT_EQ(m.get("bombarder_breaker_state{" + a + "}"), 0) << "closed";
  EXPECT_EQ(m.get("bombarder_breaker_transitions_total{" + d + ",to=\"open\"}"), 2);
  EXPECT_EQ(m.get("bombarder_breaker_transitions_total{" + d + ",to=\"open\"}"),
            static_cast<double>(dead_total.opened));
  EXPECT_EQ(m.get("bombarder_breaker_rejected_total{" + d + "}"),
            static_cast<double>(dead_total.rejected));
  EXPECT_EQ(m.get("bombarder_breaker_transitions_total{" + a + ",to=\"open\"}"), 0);
  EXPECT_GT(*m.get("bombarder_pool_connect_failures_total{" + d + "}"), 0);
  EXPECT_EQ(m.get("bombarder_pool_connections{" + d + "}"), 0);
  EXPECT_EQ(m.get("bombarder_load_runs_total"), 2);
  EXPECT_EQ(m.get("bombarder_requests_total{op=\"create\",outcome=\"ok\"}"), 200);
}

TEST(LoadMetrics, ScenarioPhaseAndToxicsFollowTheRunner) {
  LoadMetrics metrics("scenario");
  metrics.set_scenario_phase("latency-100ms", ScenarioPhase::kTesting);
  metrics.set_scenario_toxic("latency-100ms", "node2-client", "latency",
                             {{"latency", 100}, {"jitter", 10}}, true);
  metrics.set_scenario_toxic("latency-100ms", "link-1-to-2", "disabled", {}, true);
  auto m = parse_ok(metrics);
  // Labels in name order, as prometheus-cpp writes them.
  EXPECT_EQ(m.get("bombarder_scenario_phase{scenario=\"latency-100ms\"}"), 2);
  const std::string s = "proxy=\"node2-client\",scenario=\"latency-100ms\",type=\"latency\"";
  EXPECT_EQ(m.get("bombarder_scenario_toxic_active{" + s + "}"), 1);
  EXPECT_EQ(m.get("bombarder_scenario_toxic_value{attribute=\"latency\"," + s + "}"), 100);
  EXPECT_EQ(m.get("bombarder_scenario_toxic_value{attribute=\"jitter\"," + s + "}"), 10);
  EXPECT_EQ(m.get("bombarder_scenario_toxic_active{proxy=\"link-1-to-2\",scenario=\"latency-"
                  "100ms\",type=\"disabled\"}"),
            1);

  metrics.set_scenario_phase("latency-100ms", ScenarioPhase::kRecovery);
  metrics.clear_scenario_toxics("latency-100ms");
  m = parse_ok(metrics);
  EXPECT_EQ(m.get("bombarder_scenario_phase{scenario=\"latency-100ms\"}"), 3);
  EXPECT_EQ(m.sum("bombarder_scenario_toxic_active"), 0) << "every fault removed";
  EXPECT_EQ(m.count("bombarder_scenario_toxic_active"), 2u) << "series stay, at 0";
  EXPECT_EQ(m.count("bombarder_scenario_toxic_value"), 0u);
}

TEST(LoadMetrics, LabelValuesAreEscaped) {
  LoadMetrics metrics("we\"ird\\name");
  const auto m = parse_ok(metrics);
  EXPECT_EQ(m.get("bombarder_run_info{command=\"we\\\"ird\\\\name\"}"), 1);
}

TEST(MetricsServer, ServesMetricsAndAnswersOtherRoutesWithJsonErrors) {
  MetricsServer server("127.0.0.1", 0,
                       [] { return std::string("# HELP x y\n# TYPE x gauge\nx 1\n"); });
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/metrics");
  ApiClient client;
  const common::Endpoint at{"127.0.0.1", server.port()};
  const ApiResponse metrics = client.get(at, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body, "# HELP x y\n# TYPE x gauge\nx 1\n");
  bool text_format = false;
  for (const auto& [name, value] : metrics.headers) {  // names come lowercased
    if (name == "content-type") text_format = value.starts_with("text/plain; version=0.0.4");
  }
  EXPECT_TRUE(text_format);

  const ApiResponse missing = client.get(at, "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().value("error", ""), "not_found");
  EXPECT_FALSE(missing.json().value("message", "").empty());
  const ApiResponse post = client.call(at, boost::beast::http::verb::post, "/metrics", "x");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.json().value("error", ""), "method_not_allowed");
}

TEST(MetricsServer, ATakenPortIsAnEnvironmentError) {
  MetricsServer first("127.0.0.1", 0, [] { return std::string(); });
  try {
    MetricsServer second("127.0.0.1", first.port(), [] { return std::string(); });
    ADD_FAILURE() << "bound a port already taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment) << to_string(e.kind());
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos);
  }
}

}  // namespace
}  // namespace bombarder
