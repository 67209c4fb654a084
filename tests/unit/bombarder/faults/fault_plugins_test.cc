// faults/fault_plugin.h: the exec plugin's templates (substitution, shell quoting, exit codes),
// plugin selection, and the process plugin's node names and actions against a fake node process
// (fake_node.h) recorded in a temporary cluster.json.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../../common/test_http_server.h"
#include "base/temp_data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/process.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/faults/fault_plugin.h"
#include "faults/fake_node.h"

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
using common::test::wait_until;
namespace fs = std::filesystem;
namespace http = boost::beast::http;

// The kind of the bombarder::Error `f` throws; the test fails when it throws nothing.
template <typename F>
ErrorKind error_kind(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no bombarder::Error thrown";
  return ErrorKind::kCheckFailed;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ExpandTemplate, NameIsShellQuotedAndSignalSubstitutedEverywhere) {
  EXPECT_EQ(expand_template("docker kill --signal {signal} {name}", "node-1", "KILL"),
            "docker kill --signal KILL 'node-1'");
  EXPECT_EQ(expand_template("{name}/{name} {signal}{signal}", "a", "TERM"), "'a'/'a' TERMTERM");
  EXPECT_EQ(expand_template("ssh {name} {other} {nam", "it's", ""), "ssh 'it'\\''s' {other} {nam");
  EXPECT_STREQ(signal_name(KillSignal::kTerm), "TERM");
  EXPECT_STREQ(signal_name(KillSignal::kKill), "KILL");
}

TEST(MakeFaultPlugin, UnknownNamesAndAnExecPluginWithoutKillAreInvalidInput) {
  std::string message;
  EXPECT_EQ(error_kind([] { (void)make_fault_plugin("docker", {}); }, &message),
            ErrorKind::kInvalidInput);
  EXPECT_EQ(message, "--plugin must be process or exec, not 'docker'");
  EXPECT_EQ(error_kind([] {
              (void)make_fault_plugin("exec", {{"pause", "true"}});
            }),
            ErrorKind::kInvalidInput);
  EXPECT_EQ(error_kind([] {
              (void)make_fault_plugin("exec", {{"kill", ""}});
            }),
            ErrorKind::kInvalidInput);
  EXPECT_EQ(make_fault_plugin("exec", {{"kill", "true"}})->name(), "exec");
  EXPECT_EQ(make_fault_plugin("process", {})->name(), "process");
}

TEST(ExecPlugin, RunsTheTemplateAndReportsItsExitAndFirstOutputLine) {
  const auto plugin =
      make_fault_plugin("exec", {{"kill", "printf '%s %s\\nsecond line\\n' {name} {signal}"},
                                 {"pause", "echo cannot pause {name} >&2; exit 3"},
                                 {"status", "kill -9 $$"}});
  const ActionResult killed = plugin->kill("web-1", KillSignal::kTerm);
  EXPECT_TRUE(killed.ok);
  EXPECT_TRUE(contains(killed.detail, "` exit 0: web-1 TERM")) << killed.detail;
  EXPECT_TRUE(killed.detail.ends_with("` exit 0: web-1 TERM"))
      << "only the first output line is kept: " << killed.detail;
  const ActionResult paused = plugin->pause("web-1");
  EXPECT_FALSE(paused.ok);
  EXPECT_TRUE(contains(paused.detail, "` exit 3: cannot pause web-1")) << paused.detail;
  const ActionResult status = plugin->status("web-1");
  EXPECT_FALSE(status.ok);
  EXPECT_TRUE(contains(status.detail, "` signal 9")) << status.detail;
  const ActionResult resumed = plugin->resume("web-1");
  EXPECT_FALSE(resumed.ok);
  EXPECT_EQ(resumed.detail, "no --exec-resume template");
}

TEST(ExecPlugin, ANodeNameCannotInjectShellCommands) {
  const fs::path marker = fs::temp_directory_path() / ("exec_plugin_" + std::to_string(::getpid()));
  const auto plugin = make_fault_plugin("exec", {{"kill", "echo {name}"}});
  const std::string name = "x'; touch '" + marker.string() + "'; '";
  const ActionResult result = plugin->kill(name, KillSignal::kKill);
  EXPECT_TRUE(result.ok) << result.detail;
  EXPECT_TRUE(contains(result.detail, ": " + name)) << result.detail;
  EXPECT_FALSE(fs::exists(marker));
  fs::remove(marker);
}

TEST(ExecPlugin, NamesAreTakenAsGivenAndNothingIsLocal) {
  const auto plugin = make_fault_plugin("exec", {{"kill", "true"}});
  EXPECT_EQ(error_kind([&] { plugin->validate(""); }), ErrorKind::kInvalidInput);
  plugin->validate("leader");
  EXPECT_EQ(plugin->resolve("leader"), "leader");
  EXPECT_EQ(plugin->local_data_dir("pod-0"), std::nullopt);
}

// /status of a follower that knows a leader: what a restarted node must answer to be ready.
class FollowerStatus {
 public:
  [[nodiscard]] uint16_t port() const { return server_.port(); }

 private:
  TestHttpServer server_{[](const Request&) -> std::optional<Response> {
    return json_response(http::status::ok, {{"node_id", 1}, {"leader", "127.0.0.1:1"}});
  }};
};

// cluster.json with node 1 (a fake node on `port`, running) and node 2 (never started).
class ProcessPluginTest : public test::TempDataRootTest {
 protected:
  void TearDown() override {
    test::stop_recorded_fake_nodes(root_);
    TempDataRootTest::TearDown();
  }
  void record(uint16_t port) {
    ClusterRecord record;
    for (uint64_t id : {1, 2}) {
      NodeRecord node;
      node.id = id;
      node.endpoint = {"127.0.0.1", static_cast<uint16_t>(id == 1 ? port : 1)};
      node.data_dir = root_ / ("node-" + std::to_string(id));
      node.output_path = node.data_dir / "console.log";
      fs::create_directories(node.data_dir);
      node.args = test::fake_node_args(root_ / "bin", node.endpoint.port);
      record.nodes.push_back(node);
    }
    record.nodes[0].pid =
        test::spawn_and_wait_exec(record.nodes[0].args, record.nodes[0].output_path);
    node1_.reset(record.nodes[0].pid);
    record.nodes[1].pid = 999999999;  // no such process
    save_cluster_record(record);
  }
  std::string status(const std::string& node) {
    const ActionResult r = plugin_->status(node);
    EXPECT_TRUE(r.ok) << r.detail;
    return r.detail;
  }

  std::unique_ptr<FaultPlugin> plugin_ = make_fault_plugin("process", {});
  test::ProcessGuard node1_;
  test::ProcessGuard other_;
};

TEST_F(ProcessPluginTest, WithoutARecordedClusterItIsAnEnvironmentFailure) {
  std::string message;
  EXPECT_EQ(error_kind([&] { plugin_->validate("1"); }, &message), ErrorKind::kEnvironment);
  EXPECT_TRUE(contains(message, "bombarder cluster start")) << message;
}

TEST_F(ProcessPluginTest, AcceptsIdsNodeIdsAndRolesAndRefusesOtherNames) {
  record(1);
  for (const char* good : {"1", "node-1", "2", "leader", "follower"}) plugin_->validate(good);
  for (const char* bad : {"3", "node-", "node-1x", "1x", "-1", "", "node-node-1", "leaders"}) {
    std::string message;
    EXPECT_EQ(error_kind([&] { plugin_->validate(bad); }, &message), ErrorKind::kInvalidInput)
        << bad;
    EXPECT_TRUE(contains(message, std::string("no node '") + bad + "'")) << message;
  }
  EXPECT_EQ(plugin_->resolve("node-2"), "2");
  EXPECT_EQ(plugin_->local_data_dir("node-2"), root_ / "node-2");
  EXPECT_EQ(plugin_->local_data_dir("leader"), root_);  // the parent of every node's directory
  const ActionResult unknown = plugin_->kill("7", KillSignal::kKill);
  EXPECT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.detail, "no node '7' in the cluster record");
}

TEST_F(ProcessPluginTest, PauseResumeAndKillActOnTheRecordedNodeOnly) {
  record(1);
  const std::string pid = std::to_string(node1_.pid());
  EXPECT_EQ(status("1"), "running pid " + pid);
  EXPECT_EQ(status("2"), "down");
  const ActionResult down = plugin_->pause("2");
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.detail, "node 2 is not running");

  EXPECT_EQ(plugin_->pause("node-1").detail, "SIGSTOP pid " + pid);
  EXPECT_TRUE(wait_until([&] { return status("1") == "paused pid " + pid; }, 5s)) << status("1");
  EXPECT_EQ(plugin_->resume("1").detail, "SIGCONT pid " + pid);
  EXPECT_TRUE(wait_until([&] { return status("1") == "running pid " + pid; }, 5s)) << status("1");

  const ActionResult killed = plugin_->kill("1", KillSignal::kKill);
  EXPECT_TRUE(killed.ok);
  EXPECT_TRUE(contains(killed.detail, "SIGKILL pid " + pid + ": killed (SIGKILL) in "))
      << killed.detail;
  EXPECT_FALSE(process_alive(node1_.pid()));
  EXPECT_EQ(status("1"), "down");
}

TEST_F(ProcessPluginTest, ATermToAPausedNodeContinuesItSoThatItEnds) {
  record(1);
  ASSERT_TRUE(plugin_->pause("1").ok);
  const std::string paused = "paused pid " + std::to_string(node1_.pid());
  ASSERT_TRUE(wait_until([&] { return status("1") == paused; }, 5s));
  const ActionResult stopped = plugin_->kill("1", KillSignal::kTerm);
  EXPECT_TRUE(stopped.ok);
  EXPECT_TRUE(contains(stopped.detail, ": stopped (SIGTERM) in ")) << stopped.detail;
  EXPECT_FALSE(process_alive(node1_.pid()));
}

TEST_F(ProcessPluginTest, ThePidFileIsPreferredAndARecycledPidIsNeverSignalled) {
  record(1);
  // node 2's pid file names a process that is not `stress_node --port 1`: a recycled PID.
  other_.reset(test::spawn_and_wait_exec({"/bin/sleep", "30"}, root_ / "sleep.log"));
  std::ofstream(root_ / "node-2" / "node.pid") << other_.pid() << "\n";
  EXPECT_EQ(status("2"), "down");
  EXPECT_FALSE(plugin_->kill("2", KillSignal::kKill).ok);
  EXPECT_TRUE(process_alive(other_.pid()));
  // node 1's pid file names a second fake node 1 (a restart the record missed): it wins.
  test::ProcessGuard second(test::spawn_and_wait_exec(test::fake_node_args(root_ / "bin", 1),
                                                      root_ / "node-1" / "console.log"));
  std::ofstream(root_ / "node-1" / "node.pid") << second.pid() << "\n";
  EXPECT_EQ(status("1"), "running pid " + std::to_string(second.pid()));
  std::ofstream(root_ / "node-1" / "node.pid") << "12abc\n";  // unreadable: the recorded PID
  EXPECT_EQ(status("1"), "running pid " + std::to_string(node1_.pid()));
}

TEST_F(ProcessPluginTest, ResurrectRestartsADownNodeAndLeavesARunningOneAlone) {
  const FollowerStatus serving;
  record(serving.port());
  const pid_t first = node1_.pid();
  const ActionResult again = plugin_->resurrect("1");
  EXPECT_TRUE(again.ok);
  EXPECT_EQ(again.detail, "already running (pid " + std::to_string(first) + ")");

  ASSERT_TRUE(plugin_->kill("1", KillSignal::kKill).ok);
  const ActionResult back = plugin_->resurrect("node-1");
  const std::optional<ClusterRecord> after = load_cluster_record();
  ASSERT_TRUE(after);
  other_.reset(after->nodes.at(0).pid);
  EXPECT_TRUE(back.ok) << back.detail;
  EXPECT_NE(other_.pid(), first);
  EXPECT_TRUE(wait_until([&] { return is_node_process(other_.pid(), serving.port()); }, 10s));
  EXPECT_TRUE(contains(back.detail, "pid " + std::to_string(other_.pid()) + " serving on "))
      << back.detail;
  EXPECT_EQ(status("1"), "running pid " + std::to_string(other_.pid()));
}

}  // namespace
}  // namespace bombarder
