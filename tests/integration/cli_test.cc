// The command line of design.md §4 as a user meets it: --help documents every flag, bad flags
// exit 2, and a node that cannot own its port or data directory exits 1 with a reason.
#include <gtest/gtest.h>

#include "cluster_harness.h"

namespace integration {
namespace {

TEST(Cli, HelpDocumentsEveryFlagAndExitsZero) {
  const RunResult run = run_stress_node({"--help"});
  ASSERT_TRUE(run.status) << "--help did not exit";
  EXPECT_TRUE(run.status->exited && run.status->code == 0) << run.status->describe();
  for (const char* flag : {"--node-id", "--port", "--peers", "--host", "--data-dir", "--log-level",
                           "--tick-ms", "--election-ticks", "--snapshot-threshold"}) {
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
  RunResult run = run_stress_node(
      {"--port", std::to_string(cluster.port(0)), "--data-dir", other_dir.string(), "--peers", ""});
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.status->exited && run.status->code == 1) << run.status->describe() << "\n"
                                                           << run.output;
  // A second process on the running node's data directory must not start (it would corrupt it).
  run = run_stress_node({"--port", std::to_string(free_loopback_port()), "--data-dir",
                         cluster.data_dir(0).string(), "--peers", ""});
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.status->exited && run.status->code == 1) << run.status->describe() << "\n"
                                                           << run.output;
  // And the running node is unharmed.
  EXPECT_EQ(cluster.request(0, "GET", "/status").status, 200);
  EXPECT_TRUE(cluster.wait_for_leader());
  EXPECT_EQ(cluster.create(0, "single", "node").status, 201);
}

}  // namespace
}  // namespace integration
