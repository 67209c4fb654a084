// bombarder against Redis (issue 18): `cluster start --system redis` starts a real Redis 7
// primary and two replicas (Debian's redis-server) on loopback, a storm runs against it through
// the Redis adapter, the checker judges the history and `verify` compares the nodes; `cluster
// status` and `cluster stop` work on it as on stress_node. Reads from replicas behind a slowed
// replication link must be found stale. Bad input (nothing listening, a stress_node or an etcd
// cluster at the address) ends with one line and exit 3.
// Each test has its own $STRESS_TEST_DATA; the harness stops every recorded node.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

using namespace std::chrono_literals;

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

size_t line_count(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_program("redis-server").empty()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh installs it)";
    }
  }
  // Three nodes on P..P+2 (with --proxied the whole proxied layout: 13 ports, API on P+12).
  void start_redis(bool proxied) {
    base_port_ = BombarderEnv::free_port_range(proxied ? 13 : 3);
    std::vector<std::string> args = {"cluster", "start",  "--system",
                                     "redis",   "--port", std::to_string(base_port_),
                                     "--nodes", "3"};
    if (proxied) args.push_back("--proxied");
    const RunResult start = env_.run(args);
    ASSERT_EQ(exit_code(start), 0) << start.output;
    ASSERT_NE(start.output.find("leader: node 0"), std::string::npos) << start.output;
  }
  std::string redis_cli(const std::vector<std::string>& command) const {
    std::vector<std::string> argv = {find_program("redis-cli"), "-p", std::to_string(base_port_)};
    argv.insert(argv.end(), command.begin(), command.end());
    const RunResult r = run_program(argv, 20s);
    EXPECT_EQ(exit_code(r), 0) << r.output;
    return r.output;
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
};

TEST_F(RedisStoreTest, StormOnThePrimaryWithKillsIsLinearizableAndReplicasConverge) {
  start_redis(false);
  std::ifstream in(env_.root() / "cluster.json");
  const Json record = Json::parse(in, nullptr, false);
  ASSERT_TRUE(record.is_object());
  EXPECT_EQ(record["system"], "redis");
  ASSERT_EQ(record["nodes"].size(), 3u);
  const RunResult status = env_.run({"cluster", "status", "--json"});
  EXPECT_EQ(exit_code(status), 0) << status.output;

  // Kills every 3 s (SIGKILL or SIGTERM, any node, the primary among them), each back after 1 s.
  const RunResult storm =
      env_.run({"storm", "--system",   "redis", "--duration", "8s",      "--concurrency",
                "8",     "--list-pct", "10",    "--check",    "--chaos", "--kill-interval",
                "3s",    "--downtime", "1s",    "--seed",     "18",      "--min-success",
                "50",    "--json"},
               150s);
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["system"], "redis");
  EXPECT_EQ(summary["check"]["verdict"], "linearizable") << storm.output;
  EXPECT_GT(summary["check"]["ops_checked"].get<uint64_t>(), 100u) << storm.output;
  EXPECT_GE(summary["chaos"].size(), 2u) << "kills happened: " << storm.output;

  // Every replica reaches the primary's offset and holds the same keyspace (DEBUG DIGEST,
  // DBSIZE) and every write the storm had acknowledged.
  const RunResult verify = env_.run({"verify", "--json"}, 90s);
  EXPECT_EQ(exit_code(verify), 0) << verify.output;
  EXPECT_EQ(json_of(verify)["hashes_match"], true) << verify.output;

  const RunResult stop = env_.run({"cluster", "stop"});
  EXPECT_EQ(exit_code(stop), 0) << stop.output;
  EXPECT_FALSE(std::filesystem::exists(env_.root() / "cluster.json"));
}

// Redis replicates asynchronously: the primary acknowledges a write before any replica has it.
// With 300 ms of latency on both replicas' links to the primary (the proxy's link-<i>-to-0,
// which `cluster start --system redis --proxied` makes their replicaof address), a read sent to
// a replica right after a create or update was acknowledged misses it: the checker must find
// those stale reads and exit 1.
TEST_F(RedisStoreTest, ReadsFromReplicasBehindASlowedReplicationLinkAreFoundStale) {
  start_redis(true);
  const uint16_t api = static_cast<uint16_t>(base_port_ + 12);
  for (const char* link : {"link-1-to-0", "link-2-to-0"}) {
    const Json toxic = {{"name", "slow_replication"},
                        {"type", "latency"},
                        {"stream", "downstream"},
                        {"attributes", {{"latency", 300}}}};
    const HttpResult r =
        http_request(api, "POST", std::string("/proxies/") + link + "/toxics", toxic.dump());
    ASSERT_EQ(r.status, 200) << link << ": " << r.describe();
  }
  const RunResult storm = env_.run(
      {"storm", "--system", "redis", "--read-from", "replica", "--duration", "5s", "--concurrency",
       "8", "--read-pct", "50", "--check", "--min-success", "0", "--json"},
      120s);
  EXPECT_EQ(exit_code(storm), 1) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["check"]["verdict"], "violation") << storm.output;
  EXPECT_GT(summary["check"]["ids_violation"].get<uint64_t>(), 0u) << storm.output;
  EXPECT_FALSE(summary["check"]["failing_id"]["cannot_append"].empty()) << storm.output;
}

TEST_F(RedisStoreTest, VerifyFindsAnAcknowledgedWriteRemovedBehindBombardersBack) {
  start_redis(false);
  const RunResult flood = env_.run({"flood", "--system", "redis", "--count", "50", "--json"});
  ASSERT_EQ(exit_code(flood), 0) << flood.output;
  const RunResult clean = env_.run({"verify"}, 60s);
  ASSERT_EQ(exit_code(clean), 0) << clean.output;
  // One acknowledged key deleted with Redis's own client on the primary: it replicates, and
  // verify must find it missing on every node.
  std::ifstream last(env_.root() / "runs" / "last");  // names the last run
  std::string run_id;
  ASSERT_TRUE(std::getline(last, run_id));
  std::ifstream acked(env_.root() / "runs" / run_id / "acked.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(acked, line));
  const std::string key = Json::parse(line).value("id", "");
  ASSERT_FALSE(key.empty()) << line;
  EXPECT_NE(redis_cli({"DEL", key}).find('1'), std::string::npos);
  const RunResult verify = env_.run({"verify"}, 60s);
  EXPECT_EQ(exit_code(verify), 1) << verify.output;
  EXPECT_NE(verify.output.find("missing 1"), std::string::npos) << verify.output;
  EXPECT_NE(verify.output.find(key), std::string::npos) << verify.output;
}

TEST_F(RedisStoreTest, RedisSystemAgainstNothingIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(1);
  const RunResult run =
      env_.run({"flood", "--system", "redis", "--nodes", std::to_string(port), "--count", "1"});
  EXPECT_EQ(exit_code(run), 3) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find("no Redis node answers"), std::string::npos) << run.output;
}

TEST_F(RedisStoreTest, RedisSystemAgainstAStressNodeClusterIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(3);
  const RunResult start =
      env_.run({"cluster", "start", "--port", std::to_string(port), "--nodes", "3", "--tick-ms",
                "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  const RunResult run = env_.run({"storm", "--system", "redis", "--count", "10"});
  EXPECT_EQ(exit_code(run), 3) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find("no Redis node answers"), std::string::npos) << run.output;
}

// An etcd cluster started as the etcd tests start it (`cluster start --system etcd`): its
// client ports speak HTTP and gRPC, not RESP, so no Redis node answers there.
TEST_F(RedisStoreTest, RedisSystemAgainstAnEtcdClusterIsOneLineAndExit3) {
  if (find_program("etcd").empty()) GTEST_SKIP() << "etcd is not installed (etcd-server)";
  const uint16_t port = BombarderEnv::free_port_range(6);  // client ports P..P+2, peers P+3..
  const RunResult start = env_.run(
      {"cluster", "start", "--system", "etcd", "--port", std::to_string(port), "--nodes", "3"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"storm", "--system", "redis", "--count", "10"},
        std::vector<std::string>{"flood", "--system", "redis", "--nodes", std::to_string(port),
                                 "--count", "1"}}) {
    const RunResult run = env_.run(args);
    EXPECT_EQ(exit_code(run), 3) << run.output;
    EXPECT_EQ(line_count(run.output), 1u) << run.output;
    EXPECT_NE(run.output.find("no Redis node answers"), std::string::npos) << run.output;
  }
}

}  // namespace
}  // namespace integration
