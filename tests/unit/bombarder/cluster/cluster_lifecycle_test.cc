// cluster_lifecycle.h without processes: the node command lines `cluster start` builds, and the
// flag checks that must refuse (invalid input, exit 2) before anything is started.
#include "bombarder/cluster/cluster_lifecycle.h"

#include <gtest/gtest.h>

#include <optional>

#include "bombarder/base/errors.h"

namespace bombarder {
namespace {

TEST(NodeCommandLine, NamesEveryOtherMemberWithItsIdAndLeavesUnsetTimingsToTheNode) {
  StartFlags flags;
  flags.port = 9000;
  flags.nodes = 3;
  const std::vector<std::string> argv = node_command_line(flags, "/bin/stress_node", 1, "/d/n1");
  const std::vector<std::string> expected = {"/bin/stress_node",
                                             "--node-id",
                                             "1",
                                             "--host",
                                             "127.0.0.1",
                                             "--port",
                                             "9001",
                                             "--data-dir",
                                             "/d/n1",
                                             "--log-level",
                                             "info",
                                             "--peers",
                                             "0@127.0.0.1:9000,2@127.0.0.1:9002"};
  EXPECT_EQ(argv, expected);
}

TEST(NodeCommandLine, PassesTheClusterSecretAndAdminTokenOrInsecurePeers) {
  StartFlags flags;
  flags.nodes = 1;
  flags.cluster_secret_file = "/d/cluster-secret";
  flags.admin_token_file = "/d/admin-token";
  std::vector<std::string> argv = node_command_line(flags, "sn", 0, "d");
  const std::vector<std::string> tail = {"--cluster-secret-file", "/d/cluster-secret",
                                         "--admin-token-file", "/d/admin-token"};
  ASSERT_GE(argv.size(), tail.size());
  EXPECT_EQ(std::vector<std::string>(argv.end() - 4, argv.end()), tail);

  StartFlags insecure;
  insecure.nodes = 1;
  insecure.insecure_peers = true;
  argv = node_command_line(insecure, "sn", 0, "d");
  EXPECT_EQ(argv.back(), "--insecure-peers");
}

TEST(NodeCommandLine, PassesTheTimingsThatAreSet) {
  StartFlags flags;
  flags.port = 9000;
  flags.nodes = 2;
  flags.host = "10.0.0.5";
  flags.log_level = "debug";
  flags.tick_ms = 20;
  flags.election_ticks = 12;
  flags.heartbeat_ticks = 3;
  flags.snapshot_threshold = 500;
  flags.snapshot_state_ratio = 0.5;
  flags.commit_timeout_ms = 1500;
  const std::vector<std::string> argv = node_command_line(flags, "sn", 0, "d");
  const std::vector<std::string> expected = {"sn",
                                             "--node-id",
                                             "0",
                                             "--host",
                                             "10.0.0.5",
                                             "--port",
                                             "9000",
                                             "--data-dir",
                                             "d",
                                             "--log-level",
                                             "debug",
                                             "--peers",
                                             "1@10.0.0.5:9001",
                                             "--tick-ms",
                                             "20",
                                             "--election-ticks",
                                             "12",
                                             "--heartbeat-ticks",
                                             "3",
                                             "--snapshot-threshold",
                                             "500",
                                             "--snapshot-state-ratio",
                                             "0.5",
                                             "--commit-timeout-ms",
                                             "1500"};
  EXPECT_EQ(argv, expected);
}

TEST(NodeCommandLine, SingleNodeHasNoPeers) {
  StartFlags flags;
  flags.nodes = 1;
  const std::vector<std::string> argv = node_command_line(flags, "sn", 0, "d");
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "--peers"), argv.end());
}

// The kind of Error `cluster start` refuses `flags` with; nullopt when it started a cluster
// (these tests never let it get that far).
std::optional<ErrorKind> start_error_kind(const StartFlags& flags) {
  try {
    (void)start_cluster(flags);
  } catch (const Error& e) {
    return e.kind();
  }
  return std::nullopt;
}

TEST(ClusterStartFlags, OutOfRangeValuesAreInvalidInput) {
  StartFlags f;
  f.nodes = 0;
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f.nodes = static_cast<int>(kClusterNodesMax) + 1;
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f = {};
  f.port = 65534;  // 3 nodes would need 65536
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f = {};
  f.host = "not a host";
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f = {};
  f.timeout_s = 0;
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f = {};
  f.tick_ms = 0;
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f = {};
  f.heartbeat_ticks = 6;  // over half of the node's default 10 election ticks
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
  f.election_ticks = 12;  // now half
  f.node_bin = "/nonexistent/stress_node";
  EXPECT_EQ(start_error_kind(f), ErrorKind::kEnvironment) << "accepted, then no binary";
  f = {};
  f.snapshot_state_ratio = -1;
  EXPECT_EQ(start_error_kind(f), ErrorKind::kInvalidInput);
}

TEST(ClusterStartFlags, MissingNodeBinaryIsAnEnvironmentError) {
  StartFlags f;
  f.node_bin = "/nonexistent/stress_node";
  EXPECT_EQ(start_error_kind(f), ErrorKind::kEnvironment);
}

}  // namespace
}  // namespace bombarder
