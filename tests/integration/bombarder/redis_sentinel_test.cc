// Redis Sentinel failover under load (issue 18): `cluster start --system redis --proxied
// --sentinel` starts a Redis primary, two replicas and three sentinels on loopback. With the
// replicas' links to the primary slowed by the proxy, SIGKILLing the primary under a write storm
// makes Sentinel promote a replica that lacks writes the primary had acknowledged: `verify` must
// count them missing (exit 1), and the checker must find the reads that missed them. The control
// runs the same storm behind the same slowed links without the kill: verify passes. Every
// process is stopped by the harness (`cluster stop` stops the sentinels first, then the nodes).
#include <gtest/gtest.h>

#include <fstream>

#include "store_test_support.h"

namespace integration {
namespace {

using namespace std::chrono_literals;

// Ports P..P+12 for the proxied layout of 3 nodes (its API on P+12), the sentinels on P+13..15.
constexpr size_t kProxiedPorts = 13;
constexpr size_t kSentinels = 3;

class RedisSentinelTest : public StoreClusterTest {
 protected:
  RedisSentinelTest() : StoreClusterTest("redis", {"redis-server", "redis-sentinel"}) {}

  void start_cluster() {
    start_store(kProxiedPorts + kSentinels, {"--proxied", "--sentinel", "--json"}, "\"leader\"");
    if (HasFatalFailure()) return;
    const Json started = json_of(started_);
    ASSERT_TRUE(started.is_object()) << started_.output;
    ASSERT_EQ(started["sentinels"].size(), kSentinels) << started_.output;
    EXPECT_EQ(started["sentinel_quorum"], 2) << started_.output;
    std::ifstream in(env_.root() / "cluster.json");
    const Json record = Json::parse(in, nullptr, false);
    ASSERT_TRUE(record.is_object());
    ASSERT_EQ(record["sentinels"].size(), kSentinels) << record.dump();
    ASSERT_EQ(record["nodes"].size(), 3u) << "the sentinels are not data nodes";
  }

  // The replicas' replication streams (link-<i>-to-0, the primary's side downstream) held back
  // 5 s: longer than Sentinel takes to promote a replica (about 2.5 s here), so the promoted
  // replica has not received the primary's last acknowledged writes.
  void slow_replication() const {
    const uint16_t api = static_cast<uint16_t>(base_port_ + kProxiedPorts - 1);
    for (const char* link : {"link-1-to-0", "link-2-to-0"}) {
      const Json toxic = {{"name", "slow_replication"},
                          {"type", "latency"},
                          {"stream", "downstream"},
                          {"attributes", {{"latency", 5000}}}};
      const HttpResult r =
          http_request(api, "POST", std::string("/proxies/") + link + "/toxics", toxic.dump());
      ASSERT_EQ(r.status, 200) << link << ": " << r.describe();
    }
  }

  void remove_toxics() const {
    const uint16_t api = static_cast<uint16_t>(base_port_ + kProxiedPorts - 1);
    for (const char* link : {"link-1-to-0", "link-2-to-0"}) {
      const HttpResult r = http_request(
          api, "DELETE", std::string("/proxies/") + link + "/toxics/slow_replication", "");
      ASSERT_EQ(r.status / 100, 2) << link << ": " << r.describe();
    }
  }

  // A 12 s storm with the linearizability check; with `kill`, the primary is SIGKILLed at 4 s
  // and restarted 5 s later (after the failover: it comes back as a primary of its own and
  // Sentinel makes it a replica of the new one).
  RunResult storm(bool kill) const {
    std::vector<std::string> args = {"storm",         "--system", "redis",   "--duration",    "12s",
                                     "--concurrency", "8",        "--check", "--min-success", "0",
                                     "--json"};
    if (kill) {
      args.insert(args.end(), {"--chaos", "--kill-interval", "4s", "--downtime", "5s",
                               "--kill-target", "leader", "--kill-signal", "kill", "--seed", "18"});
    }
    return env_.run(args, 120s);
  }
};

TEST_F(RedisSentinelTest, FailoverUnderLoadLosesAcknowledgedWritesAndVerifyCountsThem) {
  start_cluster();
  slow_replication();
  const RunResult run = storm(true);
  const Json summary = json_of(run);
  ASSERT_TRUE(summary.is_object()) << run.output;
  ASSERT_GE(summary["chaos"].size(), 2u) << run.output;
  EXPECT_EQ(summary["chaos"][0]["action"], "sigkill") << run.output;
  EXPECT_EQ(summary["chaos"][0]["node_id"], 0) << "the primary was killed: " << run.output;
  // The load went on through the failover: it wrote to the primary the sentinels named.
  EXPECT_GT(summary["succeeded"].get<uint64_t>(), 1000u) << run.output;
  // Reads after the failover missed writes acknowledged before it: not linearizable.
  EXPECT_EQ(exit_code(run), 1) << run.output;
  EXPECT_EQ(summary["check"]["verdict"], "violation") << run.output;
  EXPECT_GT(summary["failures"]["not_found"].get<uint64_t>(), 0u) << run.output;

  // Sentinel promoted a replica and made the restarted old primary its replica; once every node
  // holds the same data, the writes the old primary had acknowledged alone are missing on all.
  const RunResult verify = env_.run({"verify", "--timeout", "90s", "--json"}, 120s);
  EXPECT_EQ(exit_code(verify), 1) << verify.output;
  const Json report = json_of(verify);
  ASSERT_TRUE(report.is_object()) << verify.output;
  EXPECT_EQ(report["converged"], true) << verify.output;
  EXPECT_EQ(report["hashes_match"], true) << verify.output;
  ASSERT_EQ(report["acked"]["nodes"].size(), 3u) << verify.output;
  for (const auto& [address, node] : report["acked"]["nodes"].items()) {
    EXPECT_GT(node["missing"].get<uint64_t>(), 0u) << address << ": " << verify.output;
  }
  std::cout << "[sentinel] missing on every node: "
            << report["acked"]["nodes"].begin().value()["missing"] << " of "
            << report["acked"]["acknowledged_ids"] << " acknowledged ids" << std::endl;

  // The sentinels name the new primary, which is not node 0, and node 0 follows it.
  const RunResult status = env_.run({"cluster", "status", "--json"});
  const Json cluster = json_of(status);
  ASSERT_TRUE(cluster.is_object()) << status.output;
  ASSERT_EQ(cluster["sentinels"].size(), kSentinels) << status.output;
  ASSERT_TRUE(cluster["leader"]["id"].is_number()) << status.output;
  const int leader = cluster["leader"]["id"].get<int>();
  EXPECT_NE(leader, 0) << status.output;
  EXPECT_EQ(cluster["nodes"][0]["role"], "follower") << status.output;
  // A sentinel names a node by its own port (behind the proxy: P+3+i), not its client proxy's.
  const std::string own = "127.0.0.1:" + std::to_string(base_port_ + 3 + leader);
  for (const Json& s : cluster["sentinels"]) {
    EXPECT_EQ(s["running"], true) << status.output;
    EXPECT_EQ(s["primary"], own) << status.output;
  }
  EXPECT_EQ(exit_code(status), 0) << "sentinels and nodes agree on the primary: " << status.output;

  const RunResult stop = env_.run({"cluster", "stop", "--json"});
  EXPECT_EQ(exit_code(stop), 0) << stop.output;
  const Json stopped = json_of(stop);
  ASSERT_TRUE(stopped.is_object()) << stop.output;
  ASSERT_EQ(stopped["sentinels"].size(), kSentinels) << stop.output;
  for (const Json& s : stopped["sentinels"]) EXPECT_EQ(s["outcome"], "stopped (SIGTERM)");
  EXPECT_FALSE(std::filesystem::exists(env_.root() / "cluster.json"));
}

TEST_F(RedisSentinelTest, TheSameStormWithoutTheKillLosesNothing) {
  start_cluster();
  slow_replication();
  const RunResult run = storm(false);
  EXPECT_EQ(exit_code(run), 0) << run.output;
  const Json summary = json_of(run);
  ASSERT_TRUE(summary.is_object()) << run.output;
  EXPECT_EQ(summary["check"]["verdict"], "linearizable") << run.output;
  EXPECT_EQ(summary["failed"], 0) << run.output;
  // The replicas were late, not wrong: without the toxics they catch up and hold every
  // acknowledged write.
  remove_toxics();
  const RunResult verify = env_.run({"verify", "--timeout", "90s", "--json"}, 120s);
  EXPECT_EQ(exit_code(verify), 0) << verify.output;
  const Json report = json_of(verify);
  ASSERT_TRUE(report.is_object()) << verify.output;
  for (const auto& [address, node] : report["acked"]["nodes"].items()) {
    EXPECT_EQ(node["missing"], 0) << address << ": " << verify.output;
  }
}

TEST_F(RedisSentinelTest, SentinelWithoutRedisIsAUsageError) {
  const RunResult run = env_.run({"cluster", "start", "--sentinel", "--port", "1"});
  EXPECT_EQ(exit_code(run), 2) << run.output;
  EXPECT_NE(run.output.find("--sentinel is for `cluster start --system redis`"), std::string::npos)
      << run.output;
}

}  // namespace
}  // namespace integration
