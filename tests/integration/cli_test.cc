// The command line of design.md §4 as a user meets it: --help documents every flag, bad flags
// exit 2, and a node that cannot own its port or data directory exits 1 with a reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cluster_harness.h"

namespace integration {
namespace {

TEST(Cli, HelpDocumentsEveryFlagAndExitsZero) {
  const RunResult run = run_stress_node({"--help"});
  ASSERT_TRUE(run.status) << "--help did not exit";
  EXPECT_TRUE(run.status->exited && run.status->code == 0) << run.status->describe();
  for (const char* flag :
       {"--node-id", "--port", "--peers", "--host", "--data-dir", "--log-level", "--tick-ms",
        "--election-ticks", "--snapshot-threshold", "--cluster-secret-file", "--insecure-peers",
        "--admin-token-file", "openssl rand -hex 32"}) {
    EXPECT_NE(run.output.find(flag), std::string::npos) << "--help does not mention " << flag;
  }
}

TEST(Cli, BadFlagsExitTwoWithAReason) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--port", "abc"},
                                             {"--port", "70000"},
                                             {"--no-such-flag"},
                                             {"--port", "8080", "--peers", "not a peer"},
                                             {"--port", "8080", "--log-level", "loud"}}) {
    const RunResult run = run_stress_node(args);
    ASSERT_TRUE(run.status) << args.front() << " did not exit";
    EXPECT_TRUE(run.status->exited && run.status->code == 2)
        << args.front() << ": " << run.status->describe() << "\n"
        << run.output;
    EXPECT_FALSE(run.output.empty()) << args.front() << ": no reason given";
  }
}

TEST(Cli, PortOrDataDirAlreadyInUseExitsOne) {
  ClusterOptions options;
  options.nodes = 1;
  Cluster cluster(options);
  // Another member on the running node's port.
  const auto other_dir = cluster.root() / "other";
  RunResult run = run_stress_node({"--port", std::to_string(cluster.port(0)), "--data-dir",
                                   other_dir.string(), "--peers", "", "--insecure-peers"});
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.status->exited && run.status->code == 1) << run.status->describe() << "\n"
                                                           << run.output;
  // A second process on the running node's data directory must not start (it would corrupt it).
  run = run_stress_node({"--port", std::to_string(free_loopback_port()), "--data-dir",
                         cluster.data_dir(0).string(), "--peers", "", "--insecure-peers"});
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.status->exited && run.status->code == 1) << run.status->describe() << "\n"
                                                           << run.output;
  // And the running node is unharmed.
  EXPECT_EQ(cluster.request(0, "GET", "/status").status, 200);
  EXPECT_TRUE(cluster.wait_for_leader());
  EXPECT_EQ(cluster.create(0, "single", "node").status, 201);
}

// Issue 14: a node never runs with open peer endpoints by accident.
TEST(Cli, NodeWithoutClusterSecretRefusesToStart) {
  const RunResult run = run_stress_node({"--port", std::to_string(free_loopback_port())});
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.status->exited && run.status->code == 2) << run.status->describe();
  EXPECT_NE(run.output.find("--cluster-secret-file is required"), std::string::npos) << run.output;
}

TEST(Cli, SecretFileReadableByOthersRefusesToStartWithOneLine) {
  ClusterOptions options;
  options.nodes = 1;
  Cluster cluster(options);  // for its temporary root and a valid secret to copy
  const auto loose = cluster.root() / "loose-secret";
  write_private_file(loose, random_hex(32));
  std::filesystem::permissions(
      loose, std::filesystem::perms::group_read | std::filesystem::perms::others_read,
      std::filesystem::perm_options::add);
  for (const std::string flag : {"--cluster-secret-file", "--admin-token-file"}) {
    std::vector<std::string> args = {"--port",     std::to_string(free_loopback_port()),
                                     "--data-dir", (cluster.root() / "other").string(),
                                     "--peers",    "",
                                     flag,         loose.string()};
    if (flag == "--admin-token-file") {
      args.insert(args.end(), {"--cluster-secret-file", cluster.cluster_secret_path().string()});
    }
    const RunResult run = run_stress_node(args);
    ASSERT_TRUE(run.status);
    EXPECT_TRUE(run.status->exited && run.status->code == 1)
        << flag << ": " << run.status->describe();
    EXPECT_NE(run.output.find("mode 0644"), std::string::npos) << flag << ": " << run.output;
    EXPECT_NE(run.output.find("0600 or stricter"), std::string::npos) << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  }
}

TEST(Cli, InsecurePeersWarnsOnEveryStartAndShowsInStatus) {
  ClusterOptions options;
  options.nodes = 1;
  options.insecure_peers = true;
  Cluster cluster(options);
  const auto count_warnings = [&] {
    std::ifstream log(cluster.data_dir(0) / "node.log");
    std::string line;
    int n = 0;
    while (std::getline(log, line)) {
      if (line.find("--insecure-peers: peer frames are neither signed nor checked") !=
          std::string::npos) {
        ++n;
      }
    }
    return n;
  };
  EXPECT_EQ(cluster.state(0)->raw.value("peer_auth", ""), "insecure");
  EXPECT_EQ(count_warnings(), 1);
  cluster.kill(0);
  cluster.restart(0);
  EXPECT_EQ(count_warnings(), 2);
}

TEST(Cli, ClusterWithSecretReportsHmacInStatus) {
  ClusterOptions options;
  options.nodes = 1;
  Cluster cluster(options);
  const auto state = cluster.state(0);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->raw.value("peer_auth", ""), "hmac-sha256");
  EXPECT_EQ(state->raw.value("admin_api", ""), "token");
}

}  // namespace
}  // namespace integration
