// The three /metrics endpoints (a node, a running load, the fault proxy) against the real
// Prometheus 2.42 of Debian (issue 16): `promtool check metrics` lints each output, and a
// `prometheus` server on loopback scrapes a node and the load and answers /api/v1/query with
// their series. Both programs come from the `prometheus` package (scripts/install-deps.sh).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "../../unit/bombarder/prometheus_text.h"
#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// `promtool check metrics` on `text`: "" when it passes, else its findings.
std::string promtool_findings(const std::string& promtool, const fs::path& dir,
                              const std::string& name, const std::string& text) {
  const fs::path input = dir / (name + ".prom");
  write_file(input, text);
  BackgroundProcess check(
      {"/bin/sh", "-c", "exec '" + promtool + "' check metrics < '" + input.string() + "'"},
      dir / (name + ".promtool"));
  if (!wait_until([&] { return !check.running(); }, 30s)) return "promtool did not finish";
  const ExitStatus ended = check.stop();
  if (ended.exited && ended.code == 0) return "";
  return ended.describe() + ": " + check.output();
}

uint16_t wait_for_metrics_port(const Background& process) {
  static const std::regex kLine(R"(metrics: http://127\.0\.0\.1:(\d+)/metrics)");
  return wait_for_printed_port([&] { return process.output(); }, kLine, 20s);
}

// The number of series a Prometheus instant query returned (-1: the query failed).
int series_count(uint16_t prometheus_port, const std::string& query) {
  const HttpResult r = http_request(prometheus_port, "GET", "/api/v1/query?query=" + query);
  if (r.status != 200) return -1;
  const Json body = Json::parse(r.body, nullptr, false);
  if (!body.is_object() || body.value("status", "") != "success") return -1;
  return static_cast<int>(body["data"]["result"].size());
}

class PrometheusScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    promtool_ = find_program("promtool");
    prometheus_ = find_program("prometheus");
    ASSERT_FALSE(promtool_.empty() || prometheus_.empty())
        << "promtool/prometheus missing: run scripts/install-deps.sh (Debian package prometheus)";
    base_port_ = BombarderEnv::free_port_range(kNodes);
    const RunResult start = env_.run({"cluster", "start", "--port", std::to_string(base_port_),
                                      "--nodes", std::to_string(kNodes), "--tick-ms", "20",
                                      "--election-ticks", "10", "--heartbeat-ticks", "1"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
  }

  static constexpr size_t kNodes = 3;
  BombarderEnv env_;
  std::string promtool_;
  std::string prometheus_;
  uint16_t base_port_ = 0;
};

TEST_F(PrometheusScrapeTest, PromtoolPassesTheNodeTheLoadAndTheProxy) {
  // A load with breakers, so that every family of the load has series.
  Background storm(env_,
                   {"storm", "--duration", "3", "--concurrency", "4", "--circuit-breaker",
                    "--metrics-port", "0", "--metrics-linger", "120"},
                   env_.root() / "storm.out");
  const uint16_t load_port = wait_for_metrics_port(storm);
  ASSERT_NE(load_port, 0) << storm.output();
  // The run over (its breakers, pools and latencies all have values), the endpoint lingering.
  const auto load_metrics = [&] {
    return prometheus_text::parse(http_request(load_port, "GET", "/metrics").body);
  };
  ASSERT_TRUE(wait_until(
      [&] {
        const auto m = load_metrics();
        return m.sum("bombarder_requests_total", {"outcome=\"ok\""}) > 0 &&
               m.get("bombarder_load_running") == 0;
      },
      60s))
      << storm.output();

  // A proxy in front of node 0 with a toxic, so its toxic families have series too.
  BackgroundProcess proxy({BOMBARDER_BIN, "proxy", "--port", "0"}, env_.root() / "proxy.log");
  const uint16_t api_port = wait_for_proxy_api(proxy);
  ASSERT_NE(api_port, 0) << proxy.output();
  const Json created = {{"name", "node0"},
                        {"listen", "127.0.0.1:0"},
                        {"upstream", "127.0.0.1:" + std::to_string(base_port_)}};
  ASSERT_EQ(http_request(api_port, "POST", "/proxies", created.dump()).status, 201);
  const Json toxic = {{"name", "slow"},
                      {"type", "latency"},
                      {"stream", "downstream"},
                      {"attributes", {{"latency", 5}, {"jitter", 1}}}};
  ASSERT_EQ(http_request(api_port, "POST", "/proxies/node0/toxics", toxic.dump()).status, 200);

  // Node 0 answered some of the load's requests: its http_* and raft_* families have series.
  const std::vector<std::pair<std::string, uint16_t>> endpoints = {
      {"node0", base_port_}, {"load", load_port}, {"proxy", api_port}};
  for (const auto& [name, port] : endpoints) {
    const HttpResult r = http_request(port, "GET", "/metrics");
    ASSERT_EQ(r.status, 200) << name << ": " << r.describe();
    EXPECT_TRUE(r.header("Content-Type").starts_with("text/plain; version=0.0.4"))
        << name << ": " << r.header("Content-Type");
    EXPECT_EQ(promtool_findings(promtool_, env_.root(), name, r.body), "") << name;
  }
  EXPECT_TRUE(proxy.stop().exited) << proxy.output();
  storm.signal(SIGINT);
  EXPECT_EQ(storm.wait(20s), 0) << storm.output();
}

TEST_F(PrometheusScrapeTest, PrometheusScrapesANodeAndARunningLoad) {
  Background storm(env_,
                   {"storm", "--duration", "30", "--concurrency", "2", "--metrics-port", "0",
                    "--metrics-linger", "120"},
                   env_.root() / "storm.out");
  const uint16_t load_port = wait_for_metrics_port(storm);
  ASSERT_NE(load_port, 0) << storm.output();

  // Scraped every second, loopback only: the three nodes and the load.
  const uint16_t prometheus_port = free_loopback_port();
  std::string nodes;
  for (size_t i = 0; i < kNodes; ++i) {
    nodes += (i == 0 ? "'127.0.0.1:" : ", '127.0.0.1:") + std::to_string(base_port_ + i) + "'";
  }
  const fs::path config = env_.root() / "prometheus.yml";
  write_file(config,
             "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
             "scrape_configs:\n"
             "  - job_name: stress_node\n    static_configs:\n      - targets: [" +
                 nodes +
                 "]\n"
                 "  - job_name: bombarder\n    static_configs:\n      - targets: "
                 "['127.0.0.1:" +
                 std::to_string(load_port) + "']\n");
  BackgroundProcess prometheus(
      {prometheus_, "--config.file=" + config.string(),
       "--storage.tsdb.path=" + (env_.root() / "tsdb").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
      env_.root() / "prometheus.log");

  // Every target up, then the series of both kinds of target in the query API.
  EXPECT_TRUE(
      wait_until([&] { return series_count(prometheus_port, "up%3D%3D1") == 4; }, 30s, 200ms))
      << prometheus.output();
  EXPECT_TRUE(
      wait_until([&] { return series_count(prometheus_port, "raft_term") == 3; }, 30s, 200ms));
  EXPECT_TRUE(wait_until(
      [&] {
        return series_count(prometheus_port, "http_requests_total%7Broute%3D%22%2Fapi%2Fkv%22%7D") >
               0;
      },
      30s, 200ms));
  EXPECT_TRUE(wait_until(
      [&] {
        return series_count(prometheus_port,
                            "bombarder_requests_total%7Boutcome%3D%22ok%22%7D%3E0") > 0;
      },
      30s, 200ms));
  EXPECT_TRUE(wait_until(
      [&] {
        return series_count(prometheus_port, "bombarder_request_duration_seconds_bucket") > 0;
      },
      30s, 200ms));

  const ExitStatus stopped = prometheus.stop(10s);
  EXPECT_TRUE(stopped.exited) << stopped.describe() << "\n" << prometheus.output();
  // The storm (still running) is stopped by its destructor, the cluster by env_'s.
}

}  // namespace
}  // namespace integration
