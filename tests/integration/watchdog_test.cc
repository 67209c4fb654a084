// stress_node --watchdog-ms and the --debug-endpoints failpoint (issue 7 "Supervisor and
// watchdog"): a node whose event loop is made to hang is aborted by its watchdog, whichever loop
// hangs, and the failpoint does not exist unless the flag asks for it.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "cluster_harness.h"

namespace integration {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DebugEndpoints, HangRouteIsUnknownWithoutTheFlag) {
  ClusterOptions options;
  options.nodes = 1;
  Cluster cluster(options);
  const HttpResult r = cluster.request(0, "POST", "/_debug/hang?loop=io&ms=10000", "", {}, 2s);
  EXPECT_EQ(r.status, 404) << r.describe();
  expect_error_body(r);
  // And the node was not blocked: it answers at once.
  EXPECT_EQ(cluster.request(0, "GET", "/status", "", {}, 1s).status, 200);
}

TEST(DebugEndpoints, HangRefusesBadArgumentsAndAShortHangIsSurvived) {
  ClusterOptions options;
  options.nodes = 1;
  options.extra_args = {"--debug-endpoints"};
  Cluster cluster(options);
  for (const char* target : {"/_debug/hang?loop=disk&ms=10", "/_debug/hang?ms=0",
                             "/_debug/hang?ms=abc", "/_debug/hang?ms=600001", "/_debug/hang"}) {
    const HttpResult r = cluster.request(0, "POST", target, "", cluster.admin_headers());
    EXPECT_EQ(r.status, 400) << target << ": " << r.describe();
    expect_error_body(r);
  }
  // No watchdog: the loop is blocked for 300 ms and then serves again.
  const HttpResult hang =
      cluster.request(0, "POST", "/_debug/hang?loop=io&ms=300", "", cluster.admin_headers());
  EXPECT_EQ(hang.status, 202) << hang.describe();
  EXPECT_TRUE(
      wait_until([&] { return cluster.request(0, "GET", "/status", "", {}, 1s).ok(); }, 10s));
  EXPECT_TRUE(cluster.running(0));
}

// Each loop in turn: the io_context (HTTP and peers) and the raft thread.
class WatchdogAborts : public ::testing::TestWithParam<const char*> {};

TEST_P(WatchdogAborts, HungLoopAbortsTheNodeWhichRejoinsAfterARestart) {
  const std::string loop = GetParam();
  ClusterOptions options;
  options.extra_args = {"--watchdog-ms", "500", "--debug-endpoints"};
  Cluster cluster(options);
  const auto leader = cluster.wait_for_leader();
  ASSERT_TRUE(leader);
  const size_t victim = cluster.followers_of(*leader).front();
  // Healthy loops are left alone: writes go through while every node runs its watchdog.
  const CreatedBatch before = cluster.create_many(*leader, "before", 20);
  ASSERT_TRUE(before.failures.empty()) << before.failures.front();

  const HttpResult hang = cluster.request(victim, "POST", "/_debug/hang?loop=" + loop + "&ms=60000",
                                          "", cluster.admin_headers());
  ASSERT_EQ(hang.status, 202) << hang.describe();
  const std::optional<ExitStatus> status = cluster.wait_exit(victim, 10s);
  ASSERT_TRUE(status) << "the watchdog did not end the node";
  EXPECT_FALSE(status->exited) << status->describe();
  EXPECT_EQ(status->signal, SIGABRT) << status->describe();
  const std::string log = read_file(cluster.data_dir(victim) / "node.log");
  EXPECT_NE(log.find("watchdog: the " + loop + " loop made no progress"), std::string::npos)
      << log.substr(log.size() > 2000 ? log.size() - 2000 : 0);

  // The others kept serving, and the restarted node is the same member with its data.
  const CreatedBatch during = cluster.create_many(*leader, "during", 20);
  EXPECT_TRUE(during.failures.empty()) << during.failures.front();
  cluster.restart(victim);
  ASSERT_TRUE(cluster.wait_converged());
  expect_all_present(cluster, victim, before.acked);
  expect_all_present(cluster, victim, during.acked);
}

INSTANTIATE_TEST_SUITE_P(Loops, WatchdogAborts, ::testing::Values("io", "raft"));

}  // namespace
}  // namespace integration
