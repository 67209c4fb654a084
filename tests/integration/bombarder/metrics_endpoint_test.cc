// The load generator's /metrics (issue 6 "Metrics") scraped from a real bombarder while it drives
// a real cluster: live values during the run, final counters equal to the run's own summary, and
// a scenario's phases and toxics as the runner moves through them.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <regex>
#include <set>

#include "../../unit/bombarder/prometheus_text.h"
#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

using namespace std::chrono_literals;

// The port of the "metrics: http://127.0.0.1:PORT/metrics" line, polled; 0 when not printed.
uint16_t wait_for_metrics_port(const Background& process, std::chrono::milliseconds timeout) {
  static const std::regex kLine(R"(metrics: http://127\.0\.0\.1:(\d+)/metrics)");
  return wait_for_printed_port([&] { return process.output(); }, kLine, timeout);
}

// One scrape; problems in the text fail the test.
prometheus_text::Parsed scrape(uint16_t port) {
  const HttpResult r = http_request(port, "GET", "/metrics");
  if (r.status != 200) return {};
  prometheus_text::Parsed parsed = prometheus_text::parse(r.body);
  for (const std::string& p : parsed.problems) ADD_FAILURE() << p;
  return parsed;
}

// The JSON summary a --json command printed after its stderr lines (merged by Background).
Json summary_of(const std::string& output) {
  const size_t at = output.find("\n{");
  return Json::parse(at == std::string::npos ? output : output.substr(at + 1), nullptr, false);
}

TEST(MetricsEndpoint, StormShowsLiveValuesAndEndsWithTheSummarysCounts) {
  BombarderEnv env;
  const uint16_t base = BombarderEnv::free_port_range(3);
  const RunResult start =
      env.run({"cluster", "start", "--port", std::to_string(base), "--nodes", "3", "--tick-ms",
               "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;

  Background storm(env,
                   {"storm", "--duration", "5", "--concurrency", "6", "--circuit-breaker",
                    "--metrics-port", "0", "--metrics-linger", "120", "--json"},
                   env.root() / "storm.out");
  const uint16_t port = wait_for_metrics_port(storm, 20s);
  ASSERT_NE(port, 0) << storm.output();

  // Live: the run going, connections open to the nodes, requests completing.
  prometheus_text::Parsed live;
  const bool seen_live = wait_until(
      [&] {
        live = scrape(port);
        return live.get("bombarder_load_running") == 1 &&
               live.sum("bombarder_pool_connections") > 0 &&
               live.sum("bombarder_requests_total", {"outcome=\"ok\""}) > 0 &&
               live.get("bombarder_ops_per_second").value_or(0) > 0;
      },
      20s);
  EXPECT_TRUE(seen_live) << storm.output();
  EXPECT_EQ(live.get("bombarder_run_info{command=\"storm\"}"), 1);
  EXPECT_EQ(live.get("bombarder_load_workers"), 6);
  EXPECT_EQ(live.count("bombarder_breaker_state"), 3u) << "one breaker per node";

  // Done: the summary is printed and the endpoint lingers with the final counts.
  Json summary;
  ASSERT_TRUE(wait_until(
      [&] {
        summary = summary_of(storm.output());
        return summary.is_object();
      },
      60s))
      << storm.output();
  const prometheus_text::Parsed last = scrape(port);
  EXPECT_EQ(last.get("bombarder_load_running"), 0);
  EXPECT_EQ(last.sum("bombarder_pool_connections"), 0);
  EXPECT_EQ(last.sum("bombarder_requests_total"), summary["requests"].get<double>());
  EXPECT_EQ(last.sum("bombarder_requests_total", {"outcome=\"ok\""}),
            summary["succeeded"].get<double>());
  EXPECT_EQ(last.sum("bombarder_attempts_total"), summary["attempts"].get<double>());
  EXPECT_EQ(last.get("bombarder_retries_total"), summary["retries"].get<double>());
  EXPECT_EQ(last.sum("bombarder_request_duration_seconds_count"),
            summary["requests"].get<double>());
  for (const auto& [op, stats] : summary["operations"].items()) {
    EXPECT_EQ(last.get("bombarder_requests_total{op=\"" + op + "\",outcome=\"ok\"}"),
              stats["succeeded"].get<double>())
        << op;
  }
  EXPECT_GT(summary["succeeded"].get<double>(), 0);

  // Ctrl-C ends the linger at once, with the run's own exit code.
  storm.signal(SIGINT);
  EXPECT_EQ(storm.wait(10s), 0) << storm.output();
}

TEST(MetricsEndpoint, AScenarioPublishesItsPhasesAndToxics) {
  constexpr size_t kNodes = 3;
  BombarderEnv env;
  const uint16_t base = BombarderEnv::free_port_range(2 * kNodes + kNodes * (kNodes - 1) + 1);
  const RunResult start =
      env.run({"cluster", "start", "--proxied", "--port", std::to_string(base), "--nodes",
               std::to_string(kNodes), "--tick-ms", "20", "--election-ticks", "10",
               "--heartbeat-ticks", "1", "--commit-timeout-ms", "1000"});
  ASSERT_EQ(exit_code(start), 0) << start.output;

  const std::string scenario = "single-server-latency-250ms";
  Background run(
      env,
      {"scenario", "run", scenario, "--stabilization", "3", "--testing", "4", "--recovery", "4",
       "--concurrency", "4", "--metrics-port", "0", "--metrics-linger", "120", "--json"},
      env.root() / "scenario.out");
  const uint16_t port = wait_for_metrics_port(run, 20s);
  ASSERT_NE(port, 0) << run.output();

  const std::string phase = "bombarder_scenario_phase{scenario=\"" + scenario + "\"}";
  std::vector<double> phases;  // each distinct value in the order seen
  bool toxic_seen = false;
  const bool finished = wait_until(
      [&] {
        const prometheus_text::Parsed m = scrape(port);
        const auto p = m.get(phase);
        if (p && (phases.empty() || phases.back() != *p)) phases.push_back(*p);
        if (p == 2) {
          // The one follower hit has latency on its client proxy (and its links).
          toxic_seen = toxic_seen ||
                       (m.sum("bombarder_scenario_toxic_active", {"type=\"latency\""}) > 0 &&
                        m.sum("bombarder_scenario_toxic_value", {"attribute=\"latency\""}) > 0);
          for (const auto& [series, value] : m.samples) {
            if (series.starts_with("bombarder_scenario_toxic_value") &&
                series.find("attribute=\"latency\"") != std::string::npos) {
              EXPECT_EQ(value, 250) << series;
            }
          }
        }
        return summary_of(run.output()).is_object();
      },
      90s, 100ms);
  ASSERT_TRUE(finished) << run.output();
  // 1 stabilization, 2 testing, 3 recovery, 0 done (a phase can be missed between polls only if
  // it lasted under 100 ms; these last seconds).
  EXPECT_EQ(phases, (std::vector<double>{1, 2, 3, 0})) << run.output();
  EXPECT_TRUE(toxic_seen) << run.output();
  const prometheus_text::Parsed last = scrape(port);
  EXPECT_EQ(last.get(phase), 0);
  EXPECT_EQ(last.sum("bombarder_scenario_toxic_active"), 0) << "the proxies were reset";
  EXPECT_GT(last.count("bombarder_scenario_toxic_active"), 0u);
  EXPECT_EQ(last.count("bombarder_breaker_state"), kNodes);
  EXPECT_GT(last.sum("bombarder_requests_total", {"outcome=\"ok\""}), 0);

  run.signal(SIGINT);
  EXPECT_GE(run.wait(10s), 0) << "ended by itself after SIGINT: " << run.output();
}

TEST(MetricsEndpoint, BadFlagsAreOneLineErrors) {
  BombarderEnv env;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"flood", "--metrics-port", "70000"}, "--metrics-port"},
      {{"storm", "--metrics-linger", "5", "--nodes", "1"}, "--metrics-linger needs --metrics-port"},
      {{"flood", "--metrics-port", "0", "--metrics-host", "nope", "--nodes", "1"},
       "--metrics-host"},
      {{"scenario", "run", "all", "--metrics-linger", "-1"}, "--metrics-linger"},
  };
  for (const Case& c : cases) {
    const RunResult run = env.run(c.args);
    EXPECT_EQ(exit_code(run), 2) << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
    EXPECT_NE(run.output.find("bombarder: error: "), std::string::npos) << run.output;
    EXPECT_NE(run.output.find(c.says), std::string::npos) << run.output;
  }
}

}  // namespace
}  // namespace integration
