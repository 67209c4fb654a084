// bombarder against etcd (issue 18): `cluster start --system etcd` starts a real 3-member etcd
// cluster (Debian's etcd-server) on loopback, a storm with chaos kills runs against it through the
// etcd adapter, and the checker finds the history linearizable; `cluster status` and `cluster
// stop` work on it as on stress_node. Bad --system input ends with one line and exit 2 or 3.
// Each test has its own $STRESS_TEST_DATA; the harness stops every recorded member.
#include <gtest/gtest.h>

#include <fstream>

#include "store_test_support.h"

namespace integration {
namespace {

class EtcdStoreTest : public StoreClusterTest {
 protected:
  EtcdStoreTest() : StoreClusterTest("etcd", {"etcd"}) {}
  // Three members: client ports P..P+2, peer ports P+3..P+5.
  void start_etcd() { start_store(6); }
};

TEST_F(EtcdStoreTest, StormWithLeaderKillsOnEtcdIsLinearizable) {
  start_etcd();
  std::ifstream in(env_.root() / "cluster.json");
  const Json record = Json::parse(in, nullptr, false);
  ASSERT_TRUE(record.is_object());
  EXPECT_EQ(std::filesystem::path(record["nodes"][0]["args"][0].get<std::string>()).filename(),
            "etcd");
  expect_chaos_storm_linearizable_and_verified("10s");
}

TEST_F(EtcdStoreTest, VerifyFindsAnAcknowledgedWriteRemovedBehindBombardersBack) {
  start_etcd();
  // One acknowledged key deleted with etcd's own client: verify must miss it on every member.
  expect_verify_finds_a_removed_write([this](const std::string& key) {
    const RunResult del = run_program({find_program("etcdctl"), "--endpoints",
                                       "127.0.0.1:" + std::to_string(base_port_), "del", key},
                                      std::chrono::seconds(20), {"ETCDCTL_API=3"});
    ASSERT_EQ(exit_code(del), 0) << del.output;
  });
}

TEST_F(EtcdStoreTest, UnknownSystemIsOneLineAndExit2) {
  const RunResult run = env_.run({"flood", "--system", "foo", "--count", "1"});
  EXPECT_EQ(exit_code(run), 2) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find("stress_node, etcd or redis"), std::string::npos) << run.output;
}

TEST_F(EtcdStoreTest, EtcdSystemAgainstNothingIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(1);
  expect_one_line_exit3(
      {"flood", "--system", "etcd", "--nodes", std::to_string(port), "--count", "1"},
      "no etcd member answers");
}

TEST_F(EtcdStoreTest, EtcdSystemAgainstAStressNodeClusterIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(3);
  const RunResult start =
      env_.run({"cluster", "start", "--port", std::to_string(port), "--nodes", "3", "--tick-ms",
                "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  expect_one_line_exit3({"storm", "--system", "etcd", "--count", "10"}, "no etcd member answers");
}

}  // namespace
}  // namespace integration
