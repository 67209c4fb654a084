// `bombarder orchestrator --store raft://...` (issue 17): the orchestrator's state in a 3-node
// stress_node cluster started by the test. Killed with -9 and restarted on the same store, the
// orchestrator finds its experiments, agents and audit log; with the store's leader killed, it
// keeps serving once the cluster has elected another; without a quorum it refuses changes with
// 503 JSON and still serves reads. Every process a test starts is stopped by
// its destructor (Background, BombarderEnv).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <regex>

#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOperatorToken = "integration-operator-token-0123456789";

class OrchestratorStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = BombarderEnv::free_port_range(3);
    const RunResult start =
        env_.run({"cluster", "start", "--port", std::to_string(base_), "--nodes", "3", "--tick-ms",
                  "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
    // A fixed port, so that the agent finds the orchestrator again after its restart.
    orchestrator_port_ = BombarderEnv::free_port_range(1);
    store_ = "raft://127.0.0.1:" + std::to_string(base_) +
             ",127.0.0.1:" + std::to_string(base_ + 1) + ",127.0.0.1:" + std::to_string(base_ + 2);
  }
  void TearDown() override {
    agent_.reset();  // before the orchestrator and the cluster
    orchestrator_.reset();
  }

  void start_orchestrator() {
    const fs::path token = env_.root() / "operator-token";
    std::ofstream(token) << kOperatorToken << "\n";
    orchestrator_ = std::make_unique<Background>(
        env_,
        std::vector<std::string>{"orchestrator", "--port", std::to_string(orchestrator_port_),
                                 "--store", store_, "--operator-token-file", token.string(),
                                 "--key-file", (env_.root() / "orchestrator-key.pem").string(),
                                 "--heartbeat", "300ms"},
        env_.root() / ("orchestrator-" + std::to_string(++starts_) + ".log"));
    port_ = wait_for_printed_port([this] { return orchestrator_->output(); },
                                  std::regex("REST on http://127\\.0\\.0\\.1:([0-9]+)"), 40s);
    ASSERT_NE(port_, 0) << orchestrator_->output();
  }

  HttpResult api(std::string_view method, const std::string& target, const std::string& body = {},
                 std::chrono::milliseconds timeout = kRequestTimeout) {
    return http_request(port_, method, target, body,
                        {{"Authorization", std::string("Bearer ") + kOperatorToken}}, timeout);
  }

  // How many entries the cluster holds under `key`, read from the node on `port`.
  size_t entries_under(uint16_t port, const std::string& key) {
    const HttpResult r = http_request(port, "GET", "/api/kv?key=" + key);
    return r.status == 200 ? r.json().size() : 0;
  }

  // The port of the node that leads, or 0.
  uint16_t leader_port() {
    for (uint16_t p = base_; p < base_ + 3; ++p) {
      const HttpResult r = http_request(p, "GET", "/status");
      if (r.status == 200 && r.json().value("role", "") == "leader") return p;
    }
    return 0;
  }

  std::string output() { return orchestrator_ ? orchestrator_->output() : std::string(); }

  BombarderEnv env_;
  uint16_t base_ = 0;
  std::string store_;
  std::unique_ptr<Background> orchestrator_;
  std::unique_ptr<Background> agent_;
  uint16_t orchestrator_port_ = 0;
  uint16_t port_ = 0;
  int starts_ = 0;
};

const char* kExperiment = R"({"name": "pause a follower",
  "steps": [{"kind": "fault", "type": "pause", "node": "follower", "at": "0s", "duration": "1s"},
            {"kind": "verify", "timeout": "30s"}]})";

TEST_F(OrchestratorStoreTest, AKilledOrchestratorRestartsOnTheSameStoreWithItsState) {
  ASSERT_NO_FATAL_FAILURE(start_orchestrator());
  const fs::path key = env_.root() / "agent.pem";
  ASSERT_EQ(exit_code(env_.run({"agent", "keygen", "--out", key.string()})), 0);
  const Json enrol = {{"public_key", read_text_file(key.string() + ".pub")},
                      {"labels", {{"zone", "a"}}}};
  const HttpResult enrolled = api("POST", "/agents", enrol.dump());
  ASSERT_EQ(enrolled.status, 201) << enrolled.describe();
  const std::string agent = enrolled.json()["id"];
  agent_ = std::make_unique<Background>(
      env_,
      std::vector<std::string>{"agent", "--orchestrator", "ws://127.0.0.1:" + std::to_string(port_),
                               "--key", key.string(), "--labels", "zone=a"},
      env_.root() / "agent.log");
  ASSERT_TRUE(wait_until(
      [&] { return api("GET", "/agents/" + agent).json().value("connected", false); }, 20s))
      << agent_->output() << output();
  const HttpResult created = api("POST", "/experiments", kExperiment);
  ASSERT_EQ(created.status, 201) << created.describe();
  const std::string experiment = created.json()["id"];
  // Answered means committed by the cluster: the record is there, on every node.
  for (uint16_t p = base_; p < base_ + 3; ++p) {
    EXPECT_TRUE(wait_until(
        [&] { return entries_under(p, "bombarder-orchestrator/experiment/" + experiment) == 1; },
        10s))
        << "node on " << p;
  }
  const Json status = api("GET", "/status").json();
  EXPECT_EQ(status["store"]["kind"], "raft") << status.dump();
  const uint64_t audit_before = status["audit_entries"].get<uint64_t>();

  const pid_t killed = orchestrator_->pid();
  orchestrator_->signal(SIGKILL);
  (void)orchestrator_->wait(5s);
  ASSERT_TRUE(process_gone(killed));
  ASSERT_TRUE(BombarderEnv::wait_port_range_free(orchestrator_port_, 1, 10s));
  ASSERT_NO_FATAL_FAILURE(start_orchestrator());
  const HttpResult found = api("GET", "/experiments/" + experiment);
  EXPECT_EQ(found.status, 200) << found.describe();
  EXPECT_EQ(found.json()["name"], "pause a follower");
  const Json agent_view = api("GET", "/agents/" + agent).json();
  EXPECT_EQ(agent_view["labels"]["zone"], "a") << agent_view.dump();
  // What the agent reported when it connected was written too.
  EXPECT_TRUE(agent_view["capabilities"].contains("plugins")) << agent_view.dump();
  EXPECT_GE(api("GET", "/status").json()["audit_entries"].get<uint64_t>(), audit_before);
  const Json audit = api("GET", "/audit?limit=1000").json();
  bool enrolled_audited = false;
  for (const Json& e : audit["entries"]) enrolled_audited |= e["what"] == "agent_enrolled";
  EXPECT_TRUE(enrolled_audited) << audit.dump();
  // The agent reconnects to the restarted orchestrator: the same signing key, from its file.
  EXPECT_TRUE(wait_until(
      [&] { return api("GET", "/agents/" + agent).json().value("connected", false); }, 30s))
      << agent_->output() << output();
  EXPECT_EQ(agent_->output().find("key changed"), std::string::npos) << agent_->output();
}

TEST_F(OrchestratorStoreTest, TheOrchestratorKeepsServingWhenTheStoresLeaderIsKilled) {
  ASSERT_NO_FATAL_FAILURE(start_orchestrator());
  ASSERT_EQ(api("POST", "/experiments", kExperiment).status, 201);
  uint16_t leader = 0;
  ASSERT_TRUE(wait_until([&] { return (leader = leader_port()) != 0; }, 10s));
  const int leader_id = leader - base_;
  const pid_t pid = static_cast<pid_t>(
      std::stol(read_text_file(env_.root() / ("node-" + std::to_string(leader_id)) / "node.pid")));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  // Every answer meanwhile is a 201 or a JSON 503 store_unavailable; a 201 comes again once the
  // remaining two nodes have elected a leader.
  std::string created;
  std::vector<int> statuses;
  ASSERT_TRUE(wait_until(
      [&] {
        const HttpResult r = api("POST", "/experiments", kExperiment);
        statuses.push_back(r.status);
        if (r.status == 503) {
          EXPECT_EQ(r.json().value("error", ""), "store_unavailable");
        }
        if (r.status == 201) created = r.json()["id"];
        return r.status == 201;
      },
      30s))
      << output();
  for (int s : statuses) EXPECT_TRUE(s == 201 || s == 503) << s;
  const uint16_t survivor = leader == base_ ? base_ + 1 : base_;
  EXPECT_EQ(entries_under(survivor, "bombarder-orchestrator/experiment/" + created), 1u);
  EXPECT_EQ(api("GET", "/experiments").json()["experiments"].size(), 2u);
  EXPECT_FALSE(process_gone(orchestrator_->pid()));
}

TEST_F(OrchestratorStoreTest, WithoutAQuorumChangesAre503JsonAndReadsAreServed) {
  ASSERT_NO_FATAL_FAILURE(start_orchestrator());
  ASSERT_EQ(api("POST", "/experiments", kExperiment).status, 201);
  for (int id : {0, 1}) {
    const pid_t pid = static_cast<pid_t>(
        std::stol(read_text_file(env_.root() / ("node-" + std::to_string(id)) / "node.pid")));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
  }
  // The first change waits for a commit that cannot come (5 s), then every change is refused
  // at once while the store takes no writes.
  const HttpResult waited = api("POST", "/experiments", kExperiment, 15s);
  EXPECT_EQ(waited.status, 503) << waited.describe();
  EXPECT_EQ(waited.json().value("error", ""), "store_unavailable") << waited.describe();
  const HttpResult refused = api("POST", "/experiments", kExperiment);
  EXPECT_EQ(refused.status, 503) << refused.describe();
  EXPECT_EQ(refused.json().value("error", ""), "store_unavailable") << refused.describe();
  const HttpResult read = api("GET", "/experiments");
  EXPECT_EQ(read.status, 200) << read.describe();
  const Json status = api("GET", "/status").json();
  EXPECT_NE(status["store"].value("unavailable", ""), "") << status.dump();
  EXPECT_FALSE(process_gone(orchestrator_->pid())) << output();
}

TEST_F(OrchestratorStoreTest, StoreAndDataTogetherAreAUsageError) {
  const RunResult r = env_.run({"orchestrator", "--store", store_, "--data",
                                (env_.root() / "orch").string(), "--port", "0"});
  EXPECT_EQ(exit_code(r), 2) << r.output;
  EXPECT_NE(r.output.find("exclusive"), std::string::npos) << r.output;
  const RunResult bad = env_.run({"orchestrator", "--store", "etcd://127.0.0.1:1", "--port", "0",
                                  "--operator-token-file", "/dev/null", "--key-file",
                                  (env_.root() / "unused-key.pem").string()});
  EXPECT_EQ(exit_code(bad), 2) << bad.output;
  EXPECT_NE(bad.output.find("raft://"), std::string::npos) << bad.output;
  // The signing key is never kept in the cluster: --store needs a key file of its own.
  const RunResult keyless = env_.run(
      {"orchestrator", "--store", store_, "--port", "0", "--operator-token-file", "/dev/null"});
  EXPECT_EQ(exit_code(keyless), 2) << keyless.output;
  EXPECT_NE(keyless.output.find("--key-file"), std::string::npos) << keyless.output;
}

}  // namespace
}  // namespace integration
