// redis_sentinels.h without processes: where the sentinels of `cluster start --system redis
// --sentinel` listen, the quorum and timings their config gives them, how they are recorded, and
// the flag checks that refuse before anything starts.
#include "bombarder/cluster/redis_sentinels.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/temp_data_root.h"
#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"

namespace bombarder {
namespace {

namespace fs = std::filesystem;

class RedisSentinelsTest : public test::TempDataRootTest {};

std::string read_all(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<ErrorKind> check_error_kind(const StartFlags& flags) {
  try {
    check_sentinel_flags(flags);
  } catch (const Error& e) {
    return e.kind();
  }
  return std::nullopt;
}

TEST(SentinelQuorum, IsAMajorityOfTheSentinels) {
  EXPECT_EQ(sentinel_quorum(1), 1);
  EXPECT_EQ(sentinel_quorum(3), 2);
  EXPECT_EQ(sentinel_quorum(4), 3);
  EXPECT_EQ(sentinel_quorum(5), 3);
}

TEST(SentinelPort, FollowsTheNodesOrTheWholeProxiedLayout) {
  StartFlags f;
  f.system = StoreSystem::kRedis;
  f.port = 20000;
  f.nodes = 3;
  EXPECT_EQ(sentinel_port(f, 0), 20003);
  EXPECT_EQ(sentinel_port(f, 2), 20005);
  f.proxied = true;  // 3 client proxies, 3 nodes, 6 links, the API: 13 ports
  EXPECT_EQ(sentinel_port(f, 0), 20013);
}

TEST(SentinelFlags, OutOfRangeOrWithoutRedisOrWithoutAReplicaIsInvalidInput) {
  StartFlags f;
  f.sentinels = 3;
  EXPECT_EQ(check_error_kind(f), ErrorKind::kInvalidInput) << "stress_node";
  f.system = StoreSystem::kRedis;
  EXPECT_EQ(check_error_kind(f), std::nullopt);
  f.sentinels = kSentinelsMax + 1;
  EXPECT_EQ(check_error_kind(f), ErrorKind::kInvalidInput);
  f.sentinels = -1;
  EXPECT_EQ(check_error_kind(f), ErrorKind::kInvalidInput);
  f.sentinels = 3;
  f.nodes = 1;
  EXPECT_EQ(check_error_kind(f), ErrorKind::kInvalidInput) << "no replica to promote";
}

TEST_F(RedisSentinelsTest, EachSentinelWatchesThePrimarysOwnPortWithTheTestTimings) {
  StartFlags f;
  f.system = StoreSystem::kRedis;
  f.port = 20000;
  f.proxied = true;
  f.sentinels = 3;
  ClusterRecord record;
  NodeRecord primary;
  primary.endpoint = {"127.0.0.1", 20000};  // node0-client
  primary.listen_port = 20003;              // the node itself
  record.nodes.push_back(primary);
  const std::vector<SentinelRecord> planned = plan_sentinels(f, "/usr/bin/redis-sentinel", record);
  ASSERT_EQ(planned.size(), 3u);
  for (size_t i = 0; i < planned.size(); ++i) {
    const SentinelRecord& s = planned[i];
    EXPECT_EQ(s.endpoint.port, 20013 + i);
    EXPECT_EQ(s.config_path, data_root() / ("sentinel-" + std::to_string(i)) / "sentinel.conf");
    ASSERT_GE(s.args.size(), 4u);
    EXPECT_EQ(s.args[0], "/usr/bin/redis-sentinel");
    EXPECT_EQ(s.args[1], s.config_path.string());
    EXPECT_EQ(s.args[2], "--port");
    EXPECT_EQ(s.args[3], std::to_string(20013 + i));
    const std::string config = read_all(s.config_path);
    EXPECT_NE(config.find("sentinel monitor bombarder 127.0.0.1 20003 2\n"), std::string::npos)
        << config;
    EXPECT_NE(config.find("sentinel down-after-milliseconds bombarder 1000\n"), std::string::npos)
        << config;
    EXPECT_NE(config.find("sentinel failover-timeout bombarder 3000\n"), std::string::npos)
        << config;
  }
}

TEST_F(RedisSentinelsTest, SentinelsAreRecordedBesideTheNodesNotAmongThem) {
  ClusterRecord record;
  record.system = StoreSystem::kRedis;
  record.node_binary = "/usr/bin/redis-server";
  NodeRecord node;
  node.endpoint = {"127.0.0.1", 20000};
  record.nodes.push_back(node);
  SentinelRecord sentinel;
  sentinel.id = 0;
  sentinel.endpoint = {"127.0.0.1", 20003};
  sentinel.pid = 4242;
  sentinel.config_path = "/tmp/s/sentinel-0/sentinel.conf";
  sentinel.output_path = "/tmp/s/sentinel-0/console.log";
  sentinel.args = {"/usr/bin/redis-sentinel", "/tmp/s/sentinel-0/sentinel.conf"};
  record.sentinels.push_back(sentinel);
  save_cluster_record(record);
  const std::optional<ClusterRecord> loaded = load_cluster_record();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->nodes.size(), 1u);
  EXPECT_EQ(loaded->endpoints(), (std::vector<common::Endpoint>{{"127.0.0.1", 20000}}));
  ASSERT_EQ(loaded->sentinels.size(), 1u);
  EXPECT_EQ(loaded->sentinels[0].endpoint, sentinel.endpoint);
  EXPECT_EQ(loaded->sentinels[0].pid, 4242);
  EXPECT_EQ(loaded->sentinels[0].config_path, sentinel.config_path);
  EXPECT_EQ(loaded->sentinels[0].output_path, sentinel.output_path);
  EXPECT_EQ(loaded->sentinels[0].args, sentinel.args);
  EXPECT_EQ(loaded->sentinel_endpoints(), (std::vector<common::Endpoint>{{"127.0.0.1", 20003}}));
}

TEST(SentinelProcess, APidThatIsNotARedisSentinelIsNotOne) {
  EXPECT_FALSE(is_sentinel_process(::getpid(), 20003));
}

}  // namespace
}  // namespace bombarder
