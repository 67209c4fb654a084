// `bombarder proxy` in front of a TCP service that is not ours (issue 6): a real redis-server
// from Debian's packages, redis-benchmark through the proxy, a latency toxic added and removed
// through the Toxiproxy API. Asserts the toxic's causal effect with bounds far from the measured
// figures: every reply crosses a 20 ms downstream delay (so no request can be faster than that),
// and without the toxic a loopback GET takes well under a millisecond (bound: 10 ms at p50).
#include <gtest/gtest.h>

#include <iostream>
#include <optional>
#include <regex>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

constexpr int kToxicLatencyMs = 20;
// Far below the toxic, far above a loopback GET on a loaded 2-core machine (~0.1 ms).
constexpr double kCleanP50MsMax = kToxicLatencyMs / 2.0;

// One redis-benchmark --csv row.
struct BenchRow {
  double rps = 0, avg_ms = 0, min_ms = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::string describe() const {
    std::ostringstream out;
    out << rps << " requests/s, latency ms avg " << avg_ms << " min " << min_ms << " p50 " << p50_ms
        << " p99 " << p99_ms << " max " << max_ms;
    return out.str();
  }
};

// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
// "p99_latency_ms","max_latency_ms" then one row per test.
std::optional<BenchRow> parse_csv(const std::string& output) {
  static const std::regex row(
      R"re("GET","([0-9.]+)","([0-9.]+)","([0-9.]+)","([0-9.]+)","[0-9.]+","([0-9.]+)","([0-9.]+)")re");
  std::smatch m;
  if (!std::regex_search(output, m, row)) return std::nullopt;
  return BenchRow{std::stod(m[1]), std::stod(m[2]), std::stod(m[3]),
                  std::stod(m[4]), std::stod(m[5]), std::stod(m[6])};
}

class ProxyRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_server_ = find_program("redis-server");
    redis_benchmark_ = find_program("redis-benchmark");
    redis_cli_ = find_program("redis-cli");
    ASSERT_FALSE(redis_server_.empty() || redis_benchmark_.empty() || redis_cli_.empty())
        << "redis-server/redis-tools missing: run scripts/install-deps.sh";
  }

  // 2000 GETs from 10 connections (at 20 ms a reply, ~4 s with the toxic).
  BenchRow benchmark(uint16_t port) {
    const RunResult run =
        run_program({redis_benchmark_, "-h", "127.0.0.1", "-p", std::to_string(port), "-t", "get",
                     "-n", "2000", "-c", "10", "--csv"},
                    60s);
    EXPECT_TRUE(run.status && run.status->exited && run.status->code == 0) << run.output;
    auto row = parse_csv(run.output);
    EXPECT_TRUE(row.has_value()) << run.output;
    return row.value_or(BenchRow{});
  }

  BombarderEnv env_;
  std::string redis_server_, redis_benchmark_, redis_cli_;
};

TEST_F(ProxyRedisTest, LatencyToxicMovesRedisBenchmarkLatencyAndRemovingItRestoresIt) {
  const uint16_t redis_port = free_loopback_port();
  BackgroundProcess redis(
      {redis_server_, "--port", std::to_string(redis_port), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--dir", env_.root().string()},
      env_.root() / "redis.log");
  const bool redis_up = wait_until(
      [&] {
        const RunResult ping = run_program(
            {redis_cli_, "-h", "127.0.0.1", "-p", std::to_string(redis_port), "ping"}, 5s);
        return ping.output.find("PONG") != std::string::npos;
      },
      20s, 50ms);
  ASSERT_TRUE(redis_up) << redis.output();

  BackgroundProcess proxy({BOMBARDER_BIN, "proxy", "--port", "0", "--seed", "6"},
                          env_.root() / "proxy.log");
  const uint16_t api_port = wait_for_proxy_api(proxy);
  ASSERT_NE(api_port, 0) << proxy.output();

  const Json create = {{"name", "redis"},
                       {"listen", "127.0.0.1:0"},
                       {"upstream", "127.0.0.1:" + std::to_string(redis_port)}};
  const HttpResult created = http_request(api_port, "POST", "/proxies", create.dump());
  ASSERT_EQ(created.status, 201) << created.describe();
  const std::string listen = created.json().value("listen", "");
  const uint16_t proxy_port =
      static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  ASSERT_NE(proxy_port, 0) << created.describe();

  const BenchRow clean = benchmark(proxy_port);
  std::cout << "[redis via proxy, no toxic]        " << clean.describe() << std::endl;
  EXPECT_LT(clean.p50_ms, kCleanP50MsMax) << clean.describe();

  const Json toxic = {{"name", "slow_replies"},
                      {"type", "latency"},
                      {"stream", "downstream"},
                      {"attributes", {{"latency", kToxicLatencyMs}, {"jitter", 0}}}};
  const HttpResult added = http_request(api_port, "POST", "/proxies/redis/toxics", toxic.dump());
  ASSERT_EQ(added.status, 200) << added.describe();
  const BenchRow slow = benchmark(proxy_port);
  std::cout << "[redis via proxy, latency 20 ms]   " << slow.describe() << std::endl;
  // Causal: every reply waited 20 ms in the proxy; the histogram rounds, hence the 0.5 ms.
  EXPECT_GE(slow.min_ms, kToxicLatencyMs - 0.5) << slow.describe();
  EXPECT_GE(slow.p50_ms, kToxicLatencyMs - 0.5) << slow.describe();
  // 10 connections, each at most one reply per 20 ms.
  EXPECT_LE(slow.rps, 10 * 1000.0 / kToxicLatencyMs * 1.05) << slow.describe();

  const HttpResult removed = http_request(api_port, "DELETE", "/proxies/redis/toxics/slow_replies");
  ASSERT_EQ(removed.status, 204) << removed.describe();
  const BenchRow healed = benchmark(proxy_port);
  std::cout << "[redis via proxy, toxic removed]   " << healed.describe() << std::endl;
  EXPECT_LT(healed.p50_ms, kCleanP50MsMax) << healed.describe();
  EXPECT_GT(healed.rps, slow.rps * 2)
      << "before " << slow.describe() << "\nafter " << healed.describe();

  EXPECT_TRUE(proxy.stop().exited) << proxy.output();
  redis.stop();
}

}  // namespace
}  // namespace integration
