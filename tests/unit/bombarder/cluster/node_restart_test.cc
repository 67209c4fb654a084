// cluster/node_restart.h: what "ready" means after a restart, and the respawn recording the new
// pid in cluster.json.
#include "bombarder/cluster/node_restart.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "../../common/test_http_server.h"
#include "base/temp_data_root.h"
#include "bombarder/base/process.h"

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
namespace http = boost::beast::http;

// /status: 503 for the first `unavailable` probes, then 200 without a leader for `leaderless`
// more, then 200 naming a leader.
struct FakeStatus {
  int unavailable = 0;
  int leaderless = 0;
  std::atomic<int> probes{0};
  TestHttpServer server{[this](const Request& r) -> std::optional<Response> {
    if (r.target() != "/status") return json_response(http::status::not_found, {});
    const int n = probes++;
    if (n < unavailable) return json_response(http::status::service_unavailable, {});
    if (n < unavailable + leaderless) {
      return json_response(http::status::ok, {{"node_id", 1}, {"leader", nullptr}});
    }
    return json_response(http::status::ok, {{"node_id", 1}, {"leader", "127.0.0.1:1"}});
  }};
};

NodeRecord node_at(const common::Endpoint& endpoint) {
  NodeRecord node;
  node.id = 1;
  node.endpoint = endpoint;
  node.output_path = "/tmp/console.log";
  return node;
}

TEST(NodeReady, ReadyOnlyOnceStatusNamesALeader) {
  FakeStatus status;
  status.unavailable = 2;
  status.leaderless = 3;
  const NodeReady ready = wait_node_ready(node_at(status.server.endpoint()), ::getpid(),
                                          std::chrono::steady_clock::now(), 10s);
  EXPECT_TRUE(ready.ready) << ready.why;
  EXPECT_GE(status.probes.load(), 6);
}

TEST(NodeReady, A200WithoutALeaderIsNotReady) {
  FakeStatus status;
  status.leaderless = 1000000;
  const NodeReady ready = wait_node_ready(node_at(status.server.endpoint()), ::getpid(),
                                          std::chrono::steady_clock::now(), 300ms);
  EXPECT_FALSE(ready.ready);
  EXPECT_NE(ready.why.find("not serving with a leader after 300 ms"), std::string::npos)
      << ready.why;
}

TEST(NodeReady, AProcessThatExitedIsNotWaitedFor) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  FakeStatus never;
  never.unavailable = 1000000;
  const auto started = std::chrono::steady_clock::now();
  const NodeReady ready = wait_node_ready(node_at(never.server.endpoint()), child, started, 10s);
  EXPECT_FALSE(ready.ready);
  EXPECT_NE(ready.why.find("exited; see /tmp/console.log"), std::string::npos) << ready.why;
  EXPECT_LT(ready.took, 5s);
}

// A fresh $STRESS_TEST_DATA for each test.
class RespawnTest : public test::TempDataRootTest {};

TEST_F(RespawnTest, TheNewPidIsRecorded) {
  ClusterRecord record;
  NodeRecord node = node_at({"127.0.0.1", 1});
  node.pid = 999999;
  node.args = {"/bin/sleep", "30"};
  node.output_path = root_ / "console.log";
  record.nodes.push_back(node);
  save_cluster_record(record);

  const Respawned respawned = respawn_recorded_node(node);
  EXPECT_TRUE(respawned.record_error.empty()) << respawned.record_error;
  EXPECT_TRUE(process_alive(respawned.pid));
  const std::optional<ClusterRecord> after = load_cluster_record();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->nodes.at(0).pid, respawned.pid);
  (void)kill_process(respawned.pid);
}

}  // namespace
}  // namespace bombarder
