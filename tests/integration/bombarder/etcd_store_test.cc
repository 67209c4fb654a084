// bombarder against etcd (issue 18): `cluster start --system etcd` starts a real 3-member etcd
// cluster (Debian's etcd-server) on loopback, a storm with chaos kills runs against it through the
// etcd adapter, and the checker finds the history linearizable; `cluster status` and `cluster
// stop` work on it as on stress_node. Bad --system input ends with one line and exit 2 or 3.
// Each test has its own $STRESS_TEST_DATA; the harness stops every recorded member.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

size_t line_count(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_program("etcd").empty()) GTEST_SKIP() << "etcd is not installed (etcd-server)";
  }
  // Three members: client ports P..P+2, peer ports P+3..P+5.
  void start_etcd() {
    base_port_ = BombarderEnv::free_port_range(6);
    const RunResult start = env_.run({"cluster", "start", "--system", "etcd", "--port",
                                      std::to_string(base_port_), "--nodes", "3"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
    ASSERT_NE(start.output.find("leader: node"), std::string::npos) << start.output;
  }
  std::string nodes_flag() const {
    return std::to_string(base_port_) + "," + std::to_string(base_port_ + 1) + "," +
           std::to_string(base_port_ + 2);
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
};

TEST_F(EtcdStoreTest, StormWithLeaderKillsOnEtcdIsLinearizable) {
  start_etcd();
  std::ifstream in(env_.root() / "cluster.json");
  const Json record = Json::parse(in, nullptr, false);
  ASSERT_TRUE(record.is_object());
  EXPECT_EQ(record["system"], "etcd");
  ASSERT_EQ(record["nodes"].size(), 3u);
  EXPECT_EQ(std::filesystem::path(record["nodes"][0]["args"][0].get<std::string>()).filename(),
            "etcd");

  const RunResult status = env_.run({"cluster", "status", "--json"});
  EXPECT_EQ(exit_code(status), 0) << status.output;

  // Kills every 3 s (SIGKILL and SIGTERM at random, any member, the leader among them), each
  // member back after 1 s; 10 s of storm with reads, updates, deletes and key lookups.
  const RunResult storm =
      env_.run({"storm", "--system",   "etcd", "--duration", "10s",     "--concurrency",
                "8",     "--list-pct", "10",   "--check",    "--chaos", "--kill-interval",
                "3s",    "--downtime", "1s",   "--seed",     "18",      "--min-success",
                "50",    "--json"},
               std::chrono::seconds(150));
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["system"], "etcd");
  EXPECT_EQ(summary["check"]["verdict"], "linearizable") << storm.output;
  EXPECT_GT(summary["check"]["ops_checked"].get<uint64_t>(), 100u) << storm.output;
  EXPECT_GE(summary["chaos"].size(), 2u) << "kills happened: " << storm.output;

  // Every member holds the same keyspace (maintenance hash, key count at one applied index) and
  // every write the storm had acknowledged.
  const RunResult verify = env_.run({"verify", "--json"}, std::chrono::seconds(90));
  EXPECT_EQ(exit_code(verify), 0) << verify.output;
  EXPECT_EQ(json_of(verify)["hashes_match"], true) << verify.output;

  const RunResult stop = env_.run({"cluster", "stop"});
  EXPECT_EQ(exit_code(stop), 0) << stop.output;
  EXPECT_FALSE(std::filesystem::exists(env_.root() / "cluster.json"));
}

// etcd documents serializable reads as possibly stale: a member answers from its own applied
// state, and a follower applies a write only after the leader has acknowledged it (it learns
// the commit index with the next append or heartbeat). A storm whose reads go to random members
// with --read-consistency serializable reads an id right after its create or update was
// acknowledged, often on a follower that has not applied it yet: the checker must find those
// stale reads and exit 1; the same storm with linearizable reads passes
// (StormWithLeaderKillsOnEtcdIsLinearizable).
TEST_F(EtcdStoreTest, SerializableReadsOnFollowersAreFoundStale) {
  start_etcd();
  const RunResult storm = env_.run(
      {"storm", "--system", "etcd", "--read-consistency", "serializable", "--duration", "8s",
       "--concurrency", "16", "--read-pct", "50", "--check", "--min-success", "0", "--json"},
      std::chrono::seconds(120));
  EXPECT_EQ(exit_code(storm), 1) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["check"]["verdict"], "violation") << storm.output;
  EXPECT_GT(summary["check"]["ids_violation"].get<uint64_t>(), 0u) << storm.output;
  // The smallest failing sub-history is printed: an id whose operations no order explains.
  EXPECT_FALSE(summary["check"]["failing_id"]["id"].get<std::string>().empty()) << storm.output;
  EXPECT_FALSE(summary["check"]["failing_id"]["cannot_append"].empty()) << storm.output;
}

TEST_F(EtcdStoreTest, VerifyFindsAnAcknowledgedWriteRemovedBehindBombardersBack) {
  start_etcd();
  const RunResult flood = env_.run({"flood", "--system", "etcd", "--count", "50", "--json"});
  ASSERT_EQ(exit_code(flood), 0) << flood.output;
  const RunResult clean = env_.run({"verify"}, std::chrono::seconds(60));
  ASSERT_EQ(exit_code(clean), 0) << clean.output;
  // One acknowledged key deleted with etcd's own client: verify must miss it on every member.
  std::ifstream last(env_.root() / "runs" / "last");  // names the last run
  std::string run_id;
  ASSERT_TRUE(std::getline(last, run_id));
  std::ifstream acked(env_.root() / "runs" / run_id / "acked.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(acked, line));
  const std::string key = Json::parse(line).value("id", "");
  ASSERT_FALSE(key.empty()) << line;
  const RunResult del = run_program({find_program("etcdctl"), "--endpoints",
                                     "127.0.0.1:" + std::to_string(base_port_), "del", key},
                                    std::chrono::seconds(20), {"ETCDCTL_API=3"});
  ASSERT_EQ(exit_code(del), 0) << del.output;
  const RunResult verify = env_.run({"verify"}, std::chrono::seconds(60));
  EXPECT_EQ(exit_code(verify), 1) << verify.output;
  EXPECT_NE(verify.output.find("missing 1"), std::string::npos) << verify.output;
  EXPECT_NE(verify.output.find(key), std::string::npos) << verify.output;
}

TEST_F(EtcdStoreTest, UnknownSystemIsOneLineAndExit2) {
  const RunResult run = env_.run({"flood", "--system", "foo", "--count", "1"});
  EXPECT_EQ(exit_code(run), 2) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find("stress_node, etcd or redis"), std::string::npos) << run.output;
}

TEST_F(EtcdStoreTest, EtcdSystemAgainstNothingIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(1);
  const RunResult run =
      env_.run({"flood", "--system", "etcd", "--nodes", std::to_string(port), "--count", "1"});
  EXPECT_EQ(exit_code(run), 3) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find("no etcd member answers"), std::string::npos) << run.output;
}

TEST_F(EtcdStoreTest, EtcdSystemAgainstAStressNodeClusterIsOneLineAndExit3) {
  const uint16_t port = BombarderEnv::free_port_range(3);
  const RunResult start =
      env_.run({"cluster", "start", "--port", std::to_string(port), "--nodes", "3", "--tick-ms",
                "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  const RunResult run = env_.run({"storm", "--system", "etcd", "--count", "10"});
  EXPECT_EQ(exit_code(run), 3) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find("no etcd member answers"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace integration
