// bombarder against Redis (issue 18): `cluster start --system redis` starts a real Redis 7
// primary and two replicas (Debian's redis-server) on loopback, a storm runs against it through
// the Redis adapter, the checker judges the history and `verify` compares the nodes; `cluster
// status` and `cluster stop` work on it as on stress_node. Reads from replicas behind a slowed
// replication link must be found stale. Bad input (nothing listening, a stress_node or an etcd
// cluster at the address) ends with one line and exit 3.
// Each test has its own $STRESS_TEST_DATA; the harness stops every recorded node.
#include <gtest/gtest.h>

#include "store_test_support.h"

namespace integration {
namespace {

using namespace std::chrono_literals;

class RedisStoreTest : public StoreClusterTest {
 protected:
  RedisStoreTest() : StoreClusterTest("redis", {"redis-server"}) {}
  // Three nodes on P..P+2 (with --proxied the whole proxied layout: 13 ports, API on P+12).
  void start_redis(bool proxied) {
    start_store(proxied ? 13 : 3,
                proxied ? std::vector<std::string>{"--proxied"} : std::vector<std::string>{},
                "leader: node 0");
  }
  std::string redis_cli(const std::vector<std::string>& command) const {
    std::vector<std::string> argv = {find_program("redis-cli"), "-p", std::to_string(base_port_)};
    argv.insert(argv.end(), command.begin(), command.end());
    const RunResult r = run_program(argv, 20s);
    EXPECT_EQ(exit_code(r), 0) << r.output;
    return r.output;
  }
};

TEST_F(RedisStoreTest, StormOnThePrimaryWithKillsIsLinearizableAndReplicasConverge) {
  start_redis(false);
  expect_chaos_storm_linearizable_and_verified("8s");
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
  // One acknowledged key deleted with Redis's own client on the primary: it replicates, and
  // verify must find it missing on every node.
  expect_verify_finds_a_removed_write([this](const std::string& key) {
    EXPECT_NE(redis_cli({"DEL", key}).find('1'), std::string::npos);
  });
}

TEST_F(RedisStoreTest, RedisSystemAgainstNothingIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(1);
  expect_one_line_exit3(
      {"flood", "--system", "redis", "--nodes", std::to_string(port), "--count", "1"},
      "no Redis node answers");
}

TEST_F(RedisStoreTest, RedisSystemAgainstAStressNodeClusterIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(3);
  const RunResult start =
      env_.run({"cluster", "start", "--port", std::to_string(port), "--nodes", "3", "--tick-ms",
                "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  expect_one_line_exit3({"storm", "--system", "redis", "--count", "10"}, "no Redis node answers");
}

// An etcd cluster started as the etcd tests start it (`cluster start --system etcd`): its
// client ports speak HTTP and gRPC, not RESP, so no Redis node answers there.
TEST_F(RedisStoreTest, RedisSystemAgainstAnEtcdClusterIsOneLineAndExit3) {
  if (find_program("etcd").empty()) GTEST_SKIP() << "etcd is not installed (etcd-server)";
  const uint16_t port = BombarderEnv::free_port_range(6);  // client ports P..P+2, peers P+3..
  const RunResult start = env_.run(
      {"cluster", "start", "--system", "etcd", "--port", std::to_string(port), "--nodes", "3"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  expect_one_line_exit3({"storm", "--system", "redis", "--count", "10"}, "no Redis node answers");
  expect_one_line_exit3(
      {"flood", "--system", "redis", "--nodes", std::to_string(port), "--count", "1"},
      "no Redis node answers");
}

}  // namespace
}  // namespace integration
