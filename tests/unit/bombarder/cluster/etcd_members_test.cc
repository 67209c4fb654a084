// cluster/etcd_members.h and the etcd parts of the cluster record: what `cluster start --system
// etcd` runs and records is what restarts a member as itself and what `cluster stop` and chaos
// recognise as one of its members.
#include "bombarder/cluster/etcd_members.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/temp_data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder {
namespace {

class EtcdMembersTest : public test::TempDataRootTest {};

// The value after `flag` in `argv`, or "".
std::string flag_value(const std::vector<std::string>& argv, const std::string& flag) {
  const auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : "";
}

TEST(EtcdCommandLine, MemberIServesClientsOnPortPlusIAndPeersAfterTheClientPorts) {
  StartFlags f;
  f.system = StoreSystem::kEtcd;
  f.port = 9000;
  f.nodes = 3;
  const auto argv = etcd_command_line(f, "/usr/bin/etcd", 1, "/data/node-1", "tok");
  EXPECT_EQ(argv[0], "/usr/bin/etcd");
  EXPECT_EQ(flag_value(argv, "--name"), "node-1");
  EXPECT_EQ(flag_value(argv, "--data-dir"), "/data/node-1/etcd");
  EXPECT_EQ(flag_value(argv, "--listen-client-urls"), "http://127.0.0.1:9001");
  EXPECT_EQ(flag_value(argv, "--advertise-client-urls"), "http://127.0.0.1:9001");
  EXPECT_EQ(flag_value(argv, "--listen-peer-urls"), "http://127.0.0.1:9004");
  EXPECT_EQ(flag_value(argv, "--initial-cluster"),
            "node-0=http://127.0.0.1:9003,node-1=http://127.0.0.1:9004,"
            "node-2=http://127.0.0.1:9005");
  EXPECT_EQ(flag_value(argv, "--initial-cluster-token"), "tok");
  EXPECT_EQ(flag_value(argv, "--log-level"), "info");
}

TEST(EtcdCommandLine, StressNodeOnlyFlagsAreRefusedAsInvalidInput) {
  StartFlags f;
  f.system = StoreSystem::kEtcd;
  f.tick_ms = 20;
  try {
    check_etcd_start_flags(f);
    FAIL() << "--tick-ms accepted for etcd";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("--tick-ms"), std::string::npos) << e.what();
  }
  f.tick_ms.reset();
  f.tls = true;
  EXPECT_THROW(check_etcd_start_flags(f), Error);
  // --proxied is etcd's too (issue 18: the proxy on its client and peer URLs).
  f.tls = false;
  f.proxied = true;
  EXPECT_NO_THROW(check_etcd_start_flags(f));
}

TEST_F(EtcdMembersTest, EtcdRecordSaysSoAndEveryNodeKnowsIt) {
  ClusterRecord record;
  record.system = StoreSystem::kEtcd;
  record.node_binary = "/usr/bin/etcd";
  NodeRecord node;
  node.endpoint = {"127.0.0.1", 9000};
  record.nodes.push_back(node);
  save_cluster_record(record);
  std::ifstream in(root_ / "cluster.json");
  EXPECT_EQ(nlohmann::json::parse(in)["system"], "etcd");
  const std::optional<ClusterRecord> loaded = load_cluster_record();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->system, StoreSystem::kEtcd);
  EXPECT_EQ(loaded->nodes[0].system, StoreSystem::kEtcd);
}

TEST_F(EtcdMembersTest, StressNodeRecordHasNoSystemField) {
  ClusterRecord record;
  record.node_binary = "/opt/bin/stress_node";
  save_cluster_record(record);
  std::ifstream in(root_ / "cluster.json");
  EXPECT_FALSE(nlohmann::json::parse(in).contains("system"));
  EXPECT_EQ(load_cluster_record()->system, StoreSystem::kStressNode);
}

TEST_F(EtcdMembersTest, UnknownSystemInTheRecordIsUnreadable) {
  std::ofstream(root_ / "cluster.json")
      << R"({"system": "mongo", "node_binary": "x", "nodes": []})";
  try {
    (void)load_cluster_record();
    FAIL() << "a record of an unknown system loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment) << e.what();
  }
}

}  // namespace
}  // namespace bombarder
