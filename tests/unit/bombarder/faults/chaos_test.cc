// faults/chaos.h: which node the chaos monkey picks (running stress_node only, never an excluded
// one, the asked role), that it kills only on a trigger when unscheduled, and the kill-restart
// cycle against a fake node process (fake_node.h) whose /status a test HTTP server answers.
#include "bombarder/faults/chaos.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "../../common/test_http_server.h"
#include "base/temp_data_root.h"
#include "bombarder/base/process.h"
#include "faults/fake_node.h"

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
using common::test::wait_until;
namespace http = boost::beast::http;

// What on_event reported, read by the test thread while the monkey's thread appends.
class EventLog {
 public:
  std::function<void(const ChaosEvent&)> sink() {
    return [this](const ChaosEvent& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
    };
  }
  std::vector<ChaosEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  bool has(const std::string& action) const {
    for (const ChaosEvent& e : events()) {
      if (e.action == action) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<ChaosEvent> events_;
};

std::vector<std::string> actions(const std::vector<ChaosEvent>& events) {
  std::vector<std::string> out;
  for (const ChaosEvent& e : events) out.push_back(e.action);
  return out;
}

// /status of a follower that knows a leader (ready after a restart), or 503 when `serving` is
// false. Its body is not a full StatusResponse, so survey() sees no node leading.
class FakeStatus {
 public:
  explicit FakeStatus(bool serving) : serving_(serving) {}
  [[nodiscard]] uint16_t port() const { return server_.port(); }

 private:
  bool serving_;
  TestHttpServer server_{[this](const Request& r) -> std::optional<Response> {
    if (r.target() != "/status" || !serving_) {
      return json_response(http::status::service_unavailable, {});
    }
    return json_response(http::status::ok, {{"node_id", 1}, {"leader", "127.0.0.1:1"}});
  }};
};

// Unscheduled by default: only trigger() kills, so every test decides when.
ChaosSpec unscheduled(ChaosSpec::Signal signal = ChaosSpec::Signal::kKill) {
  ChaosSpec spec;
  spec.scheduled = false;
  spec.kill_interval = 1ms;  // would kill at once if `scheduled` were ignored
  spec.downtime = 0ms;
  spec.signal = signal;
  spec.term_grace = 5s;
  spec.restart_timeout = 10s;
  spec.seed = 1;
  return spec;
}

class ChaosTest : public test::TempDataRootTest {
 protected:
  void TearDown() override {
    test::stop_recorded_fake_nodes(root_);
    TempDataRootTest::TearDown();
  }
  // Node 1 on `port`, running `args`, recorded in cluster.json (the monkey reads the PIDs there).
  ClusterRecord record_with(uint16_t port, std::vector<std::string> args) {
    NodeRecord node;
    node.id = 1;
    node.endpoint = {"127.0.0.1", port};
    node.data_dir = root_ / "node-1";
    node.output_path = root_ / "node-1" / "console.log";
    std::filesystem::create_directories(node.data_dir);
    node.args = std::move(args);
    node.pid = test::spawn_and_wait_exec(node.args, node.output_path);
    guard_.reset(node.pid);
    ClusterRecord record;
    record.nodes.push_back(node);
    save_cluster_record(record);
    return record;
  }
  // The PID cluster.json names for node 1 now (the restarted process), guarded.
  pid_t recorded_pid() {
    const std::optional<ClusterRecord> record = load_cluster_record();
    if (!record || record->nodes.empty()) return -1;
    const pid_t pid = record->nodes.front().pid;
    if (pid != guard_.pid()) restarted_.reset(pid);
    return pid;
  }
  // Triggers once and waits for the cycle to end (a skip, a restart or a failed one).
  std::vector<ChaosEvent> trigger_and_stop(ChaosMonkey& monkey, const EventLog& log) {
    monkey.start();
    monkey.trigger();
    EXPECT_TRUE(wait_until(
        [&] { return log.has("skip") || log.has("restart") || log.has("restart-failed"); }, 30s));
    return monkey.stop();
  }

  // Nodes 1..n, a running fake node on each port, recorded in cluster.json.
  ClusterRecord fake_cluster(const std::vector<uint16_t>& ports) {
    ClusterRecord record;
    for (size_t i = 0; i < ports.size(); ++i) {
      NodeRecord node;
      node.id = i + 1;
      node.endpoint = {"127.0.0.1", ports[i]};
      node.data_dir = root_ / ("node-" + std::to_string(node.id));
      node.output_path = node.data_dir / "console.log";
      std::filesystem::create_directories(node.data_dir);
      node.args = test::fake_node_args(root_ / "bin", ports[i]);
      node.pid = test::spawn_and_wait_exec(node.args, node.output_path);
      guards_.push_back(std::make_unique<test::ProcessGuard>(node.pid));
      record.nodes.push_back(node);
    }
    save_cluster_record(record);
    return record;
  }
  // Every PID cluster.json names now; the ones not seen before are guarded too.
  std::vector<pid_t> recorded_pids() {
    std::vector<pid_t> pids;
    const std::optional<ClusterRecord> record = load_cluster_record();
    if (!record) return pids;
    for (const NodeRecord& node : record->nodes) {
      pids.push_back(node.pid);
      if (std::none_of(guards_.begin(), guards_.end(),
                       [&](const auto& g) { return g->pid() == node.pid; })) {
        guards_.push_back(std::make_unique<test::ProcessGuard>(node.pid));
      }
    }
    return pids;
  }

  test::ProcessGuard guard_;
  test::ProcessGuard restarted_;
  std::vector<std::unique_ptr<test::ProcessGuard>> guards_;
};

TEST_F(ChaosTest, AnUnscheduledMonkeyActsOnceForOneTriggerAndSkipsWithoutNodes) {
  EventLog log;
  ChaosMonkey monkey(ClusterRecord{}, unscheduled(), log.sink());
  const std::vector<ChaosEvent> events = trigger_and_stop(monkey, log);
  ASSERT_EQ(actions(events), std::vector<std::string>{"skip"});
  EXPECT_EQ(events[0].detail, "no running node matches the target");
  EXPECT_EQ(actions(monkey.stop()), actions(events));  // stop() is idempotent
  EXPECT_TRUE(monkey.all_restarted());
}

TEST_F(ChaosTest, APidThatIsNotAStressNodeIsNeverSignalled) {
  // A recycled PID: the record names a process that is not stress_node --port 1.
  const ClusterRecord record = record_with(1, {"/bin/sleep", "30"});
  EventLog log;
  ChaosMonkey monkey(record, unscheduled(), log.sink());
  EXPECT_EQ(actions(trigger_and_stop(monkey, log)), std::vector<std::string>{"skip"});
  EXPECT_TRUE(process_alive(guard_.pid()));
}

TEST_F(ChaosTest, ANodeStartedFromABinaryOfAnotherNameIsKnownByItsRecordedProgram) {
  // `cluster start --node-bin .../stress_node-glibc`: argv[0] is not "stress_node". Without the
  // record's program the node looked gone, and `cluster stop` dropped the record of a node that
  // kept running.
  const ClusterRecord record =
      record_with(1, test::fake_node_args(root_ / "bin", 1, false, "stress_node-glibc"));
  EXPECT_FALSE(is_node_process(guard_.pid(), 1));
  EXPECT_TRUE(is_node_process(guard_.pid(), 1, record.nodes[0].program()));
  EXPECT_FALSE(is_node_process(guard_.pid(), 2, record.nodes[0].program())) << "another port";
}

TEST_F(ChaosTest, AnExcludedNodeIsNeverChosen) {
  const ClusterRecord record = record_with(1, test::fake_node_args(root_ / "bin", 1));
  ASSERT_TRUE(is_node_process(guard_.pid(), 1));
  ChaosSpec spec = unscheduled();
  spec.exclude = {1};
  EventLog log;
  ChaosMonkey monkey(record, spec, log.sink());
  EXPECT_EQ(actions(trigger_and_stop(monkey, log)), std::vector<std::string>{"skip"});
  EXPECT_TRUE(is_node_process(guard_.pid(), 1));
}

TEST_F(ChaosTest, ALeaderTargetSkipsWhenTheRunningNodeDoesNotLead) {
  const FakeStatus status(true);  // a follower's answer
  const ClusterRecord record =
      record_with(status.port(), test::fake_node_args(root_ / "bin", status.port()));
  ChaosSpec spec = unscheduled();
  spec.target = ChaosSpec::Target::kLeader;
  EventLog log;
  ChaosMonkey monkey(record, spec, log.sink());
  EXPECT_EQ(actions(trigger_and_stop(monkey, log)), std::vector<std::string>{"skip"});
  EXPECT_TRUE(is_node_process(guard_.pid(), status.port()));
}

TEST_F(ChaosTest, AKilledFollowerIsRestartedFromItsRecordedCommandLine) {
  const FakeStatus status(true);
  const ClusterRecord record =
      record_with(status.port(), test::fake_node_args(root_ / "bin", status.port()));
  const pid_t victim = guard_.pid();
  ChaosSpec spec = unscheduled(ChaosSpec::Signal::kKill);
  spec.target = ChaosSpec::Target::kFollower;
  EventLog log;
  ChaosMonkey monkey(record, spec, log.sink());
  const std::vector<ChaosEvent> events = trigger_and_stop(monkey, log);
  ASSERT_EQ(actions(events), (std::vector<std::string>{"sigkill", "restart"}));
  EXPECT_EQ(events[0].node_id, 1u);
  EXPECT_EQ(events[0].detail.rfind(
                "follower pid " + std::to_string(victim) + ": killed (SIGKILL) in ", 0),
            0u)
      << events[0].detail;
  EXPECT_FALSE(process_alive(victim));
  const pid_t now = recorded_pid();
  EXPECT_NE(now, victim);
  EXPECT_TRUE(wait_until([&] { return is_node_process(now, status.port()); }, 10s))
      << "the same command line, restarted";
  EXPECT_NE(events[1].detail.find("pid " + std::to_string(now) + " serving"), std::string::npos)
      << events[1].detail;
  EXPECT_TRUE(monkey.all_restarted());
}

TEST_F(ChaosTest, ARestartThatNeverServesIsReportedAsFailed) {
  const FakeStatus status(false);  // 503 for ever
  const ClusterRecord record =
      record_with(status.port(), test::fake_node_args(root_ / "bin", status.port()));
  ChaosSpec spec = unscheduled(ChaosSpec::Signal::kTerm);
  spec.restart_timeout = 300ms;
  EventLog log;
  ChaosMonkey monkey(record, spec, log.sink());
  const std::vector<ChaosEvent> events = trigger_and_stop(monkey, log);
  ASSERT_EQ(actions(events), (std::vector<std::string>{"sigterm", "restart-failed"}));
  EXPECT_NE(events[0].detail.find("stopped (SIGTERM)"), std::string::npos) << events[0].detail;
  EXPECT_NE(events[1].detail.find("not serving with a leader after 300 ms"), std::string::npos)
      << events[1].detail;
  EXPECT_FALSE(monkey.all_restarted());
  EXPECT_GT(recorded_pid(), 0);  // guarded: the respawned process is still running
}

TEST_F(ChaosTest, StopDuringTheDowntimeRestartsTheVictimAtOnce) {
  const FakeStatus status(true);
  const ClusterRecord record =
      record_with(status.port(), test::fake_node_args(root_ / "bin", status.port()));
  ChaosSpec spec = unscheduled();
  spec.downtime = 10min;
  EventLog log;
  ChaosMonkey monkey(record, spec, log.sink());
  monkey.start();
  monkey.trigger();
  ASSERT_TRUE(wait_until([&] { return log.has("sigkill"); }, 10s));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<ChaosEvent> events = monkey.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  EXPECT_EQ(actions(events), (std::vector<std::string>{"sigkill", "restart"}));
  const pid_t now = recorded_pid();
  EXPECT_TRUE(wait_until([&] { return is_node_process(now, status.port()); }, 10s));
}

TEST_F(ChaosTest, AScheduledMonkeyActsEveryKillIntervalWithoutTriggers) {
  ChaosSpec spec = unscheduled();
  spec.scheduled = true;
  spec.kill_interval = 20ms;
  EventLog log;
  ChaosMonkey monkey(ClusterRecord{}, spec, log.sink());
  monkey.start();
  EXPECT_TRUE(wait_until([&] { return log.events().size() >= 3; }, 10s));
  for (const ChaosEvent& e : monkey.stop()) EXPECT_EQ(e.action, "skip");
}

TEST_F(ChaosTest, ThePidsInClusterJsonWinOverTheOnesItWasGiven) {
  // A supervisor restarted node 1 after the monkey was made: only cluster.json knows the PID.
  const FakeStatus status(true);
  ClusterRecord stale = fake_cluster({status.port()});
  const pid_t running = stale.nodes[0].pid;
  stale.nodes[0].pid = 999999999;
  EventLog log;
  ChaosMonkey monkey(stale, unscheduled(), log.sink());
  const std::vector<ChaosEvent> events = trigger_and_stop(monkey, log);
  ASSERT_EQ(actions(events), (std::vector<std::string>{"sigkill", "restart"}));
  EXPECT_NE(events[0].detail.find("pid " + std::to_string(running) + ":"), std::string::npos)
      << events[0].detail;
  EXPECT_FALSE(process_alive(running));
  (void)recorded_pids();  // guards the restarted node
}

TEST_F(ChaosTest, OneTriggerTakesDownOneOfSeveralNodesAndTheSeedReproducesTheChoice) {
  const uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  RecordProperty("seed", std::to_string(seed));
  const FakeStatus a(true), b(true), c(true);
  const ClusterRecord record = fake_cluster({a.port(), b.port(), c.port()});
  const std::vector<pid_t> before = recorded_pids();
  ChaosSpec spec = unscheduled(ChaosSpec::Signal::kRandom);
  spec.seed = seed;
  EventLog log;
  ChaosMonkey monkey(record, spec, log.sink());
  const std::vector<ChaosEvent> events = trigger_and_stop(monkey, log);
  ASSERT_EQ(events.size(), 2u) << "seed " << seed;
  EXPECT_TRUE(events[0].action == "sigkill" || events[0].action == "sigterm") << events[0].action;
  EXPECT_EQ(events[1].action, "restart");
  const uint64_t victim = events[0].node_id;
  ASSERT_TRUE(victim >= 1 && victim <= 3) << victim;
  const std::vector<pid_t> after = recorded_pids();
  for (size_t i = 0; i < 3; ++i) {
    const uint16_t port = record.nodes[i].endpoint.port;
    if (i + 1 == victim) {
      EXPECT_FALSE(process_alive(before[i]));
      EXPECT_TRUE(wait_until([&] { return is_node_process(after[i], port); }, 10s));
    } else {
      EXPECT_EQ(after[i], before[i]) << "node " << i + 1 << " was not the victim";
      EXPECT_TRUE(is_node_process(before[i], port));
    }
  }
  // Every node runs again, in the same order: the same seed picks the same node and signal.
  const std::optional<ClusterRecord> now = load_cluster_record();
  ASSERT_TRUE(now);
  EventLog again;
  ChaosMonkey second(*now, spec, again.sink());
  const std::vector<ChaosEvent> replay = trigger_and_stop(second, again);
  ASSERT_FALSE(replay.empty());
  EXPECT_EQ(replay[0].node_id, victim) << "seed " << seed;
  EXPECT_EQ(replay[0].action, events[0].action) << "seed " << seed;
  (void)recorded_pids();
}

}  // namespace
}  // namespace bombarder
