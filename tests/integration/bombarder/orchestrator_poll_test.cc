// `bombarder agent --poll` (issue 17): an agent that talks to the orchestrator by HTTP
// request/response only (orchestrator/poll_session.h) registers, runs an assignment against its
// 3-node cluster and reports it done; the polling routes refuse bad tokens and unknown sessions
// with 401 JSON, and an unenrolled key with 403, while the orchestrator keeps serving; a polling
// agent cut off from the orchestrator reverts its faults within its dead-man timeout. Every
// process a test starts is stopped by its destructor (Background, BombarderEnv).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <regex>

#include "background_process.h"
#include "bombarder/fleet/base64url.h"
#include "bombarder/fleet/ed25519_key.h"
#include "bombarder/fleet/fleet_token.h"
#include "bombarder/fleet/protocol.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;
using bombarder::Ed25519Key;
using bombarder::MessageType;

constexpr const char* kOperatorToken = "integration-operator-token-0123456789";

class OrchestratorPollTest : public ::testing::Test {
 protected:
  void TearDown() override {
    agent_.reset();  // before its cluster stops
    orchestrator_.reset();
  }

  void start_orchestrator() {
    const fs::path token = env_.root() / "operator-token";
    std::ofstream(token) << kOperatorToken << "\n";
    orchestrator_ = std::make_unique<Background>(
        env_,
        std::vector<std::string>{"orchestrator", "--port", "0", "--data",
                                 (env_.root() / "orch").string(), "--operator-token-file",
                                 token.string(), "--heartbeat", "300ms"},
        env_.root() / "orchestrator.log");
    port_ = wait_for_printed_port([this] { return orchestrator_->output(); },
                                  std::regex("REST on http://127\\.0\\.0\\.1:([0-9]+)"), 15s);
    ASSERT_NE(port_, 0) << orchestrator_->output();
  }

  HttpResult api(std::string_view method, const std::string& target, const std::string& body = {}) {
    return http_request(port_, method, target, body,
                        {{"Authorization", std::string("Bearer ") + kOperatorToken}});
  }

  // Enrols the public half of `key` and answers its id.
  std::string enrol(const Ed25519Key& key) {
    const Json body = {{"public_key", key.public_pem()}, {"labels", Json::object()}};
    const HttpResult r = api("POST", "/agents", body.dump());
    EXPECT_EQ(r.status, 201) << r.describe();
    return r.json().value("id", "");
  }

  // A 3-node cluster, the orchestrator, and an enrolled agent with --poll and this dead-man
  // timeout, connected; its id in *id.
  void start_polling_agent(const std::string& dead_man, std::string* id) {
    const uint16_t base = BombarderEnv::free_port_range(3);
    const RunResult start =
        env_.run({"cluster", "start", "--port", std::to_string(base), "--nodes", "3", "--tick-ms",
                  "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
    ASSERT_NO_FATAL_FAILURE(start_orchestrator());
    const fs::path key = env_.root() / "agent.pem";
    ASSERT_EQ(exit_code(env_.run({"agent", "keygen", "--out", key.string()})), 0);
    *id = enrol(Ed25519Key::load_private_file(key));
    agent_ = std::make_unique<Background>(
        env_,
        std::vector<std::string>{"agent", "--poll", "--orchestrator",
                                 "http://127.0.0.1:" + std::to_string(port_), "--key", key.string(),
                                 "--dead-man", dead_man},
        env_.root() / "agent.log");
    const std::string agent_id = *id;
    ASSERT_TRUE(wait_until(
        [&] { return api("GET", "/agents/" + agent_id).json().value("connected", false); }, 20s))
        << logs();
  }

  std::string logs() {
    return "--- agent\n" + (agent_ ? agent_->output() : std::string()) + "--- orchestrator\n" +
           (orchestrator_ ? orchestrator_->output() : std::string());
  }

  BombarderEnv env_;
  std::unique_ptr<Background> orchestrator_;
  std::unique_ptr<Background> agent_;
  uint16_t port_ = 0;
};

TEST_F(OrchestratorPollTest, APollingAgentRegistersRunsItsAssignmentAndReportsDone) {
  std::string id;
  ASSERT_NO_FATAL_FAILURE(start_polling_agent("3s", &id));
  EXPECT_NE(agent_->output().find("(polling)"), std::string::npos) << logs();

  const HttpResult created = api("POST", "/experiments", R"({"name": "pause a follower",
    "steps": [{"kind": "fault", "type": "pause", "node": "follower", "at": "0s", "duration": "1s"},
              {"kind": "verify", "timeout": "30s"}]})");
  ASSERT_EQ(created.status, 201) << created.describe();
  const HttpResult assigned =
      api("POST", "/experiments/" + created.json()["id"].get<std::string>() + "/assign/" + id);
  ASSERT_EQ(assigned.status, 201) << assigned.describe();
  const std::string run = assigned.json()["id"];
  Json last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = api("GET", "/runs/" + run).json();
        return last.value("state", "") != "running";
      },
      60s))
      << last.dump(2) << logs();
  EXPECT_EQ(last["state"], "done") << last.dump(2) << logs();
  const Json& part = last["agents"][id];
  EXPECT_EQ(part["steps"].size(), 2u) << part.dump(2);
  bool applied = false;
  for (const Json& e : part["progress"]) applied |= e.value("event", "") == "fault_applied";
  EXPECT_TRUE(applied) << part.dump(2);
  // Still connected after the run: its heartbeats come through the polling routes.
  EXPECT_TRUE(api("GET", "/agents/" + id).json().value("connected", false)) << logs();
}

TEST_F(OrchestratorPollTest, APollingAgentCutOffFromTheOrchestratorRevertsWithinItsDeadManTimeout) {
  std::string id;
  ASSERT_NO_FATAL_FAILURE(start_polling_agent("2s", &id));
  const HttpResult created = api("POST", "/experiments", R"({"name": "pause node 1 for a minute",
    "steps": [{"kind": "fault", "type": "pause", "node": "1", "at": "0s", "duration": "60s"}]})");
  ASSERT_EQ(created.status, 201) << created.describe();
  const HttpResult assigned =
      api("POST", "/experiments/" + created.json()["id"].get<std::string>() + "/assign/" + id);
  ASSERT_EQ(assigned.status, 201) << assigned.describe();
  const pid_t paused =
      static_cast<pid_t>(std::stol(read_text_file(env_.root() / "node-1" / "node.pid")));
  ASSERT_TRUE(wait_until([&] { return process_stopped(paused); }, 20s)) << logs();

  orchestrator_->signal(SIGSTOP);
  const auto cut = std::chrono::steady_clock::now();
  const bool resumed = wait_until([&] { return !process_stopped(paused); }, 15s);
  const auto took = std::chrono::steady_clock::now() - cut;
  orchestrator_->signal(SIGCONT);
  ASSERT_TRUE(resumed) << logs();
  // The dead-man timeout (2 s) plus the last answer's age and the revert itself.
  EXPECT_LT(took, 5s) << std::chrono::duration<double>(took).count() << " s";
  std::printf(
      "polling agent: node resumed %.2f s after the orchestrator was stopped (dead-man 2 s)\n",
      std::chrono::duration<double>(took).count());
  EXPECT_NE(agent_->output().find("dead-man timeout"), std::string::npos) << logs();
}

TEST_F(OrchestratorPollTest, BadTokensAndUnknownSessionsAreRefusedWith401Json) {
  ASSERT_NO_FATAL_FAILURE(start_orchestrator());
  const Ed25519Key key = Ed25519Key::generate();
  const std::string id = enrol(key);

  // An unenrolled key cannot register.
  const Json stranger = bombarder::make_message(
      MessageType::kRegister, {{"public_key", Ed25519Key::generate().public_pem()},
                               {"labels", Json::object()},
                               {"capabilities", Json::object()}});
  const HttpResult refused = http_request(port_, "POST", "/agent/poll/register", stranger.dump());
  EXPECT_EQ(refused.status, 403) << refused.describe();
  EXPECT_EQ(refused.json().value("error", ""), "unknown_key");

  // The enrolled one registers and proves its key by hand, as the agent does.
  const Json hello =
      bombarder::make_message(MessageType::kRegister, {{"public_key", key.public_pem()},
                                                       {"labels", Json::object()},
                                                       {"capabilities", Json::object()}});
  const HttpResult challenge = http_request(port_, "POST", "/agent/poll/register", hello.dump());
  ASSERT_EQ(challenge.status, 200) << challenge.describe();
  const std::string nonce = challenge.json()["nonce"];
  const Json proof = bombarder::make_message(
      MessageType::kProof,
      {{"signature", bombarder::base64url_encode(key.sign(bombarder::challenge_input(nonce)))},
       {"nonce", nonce}});
  const HttpResult welcome = http_request(port_, "POST", "/agent/poll/proof", proof.dump());
  ASSERT_EQ(welcome.status, 200) << welcome.describe();
  const std::string session = welcome.json()["poll_session"];
  const std::string token = welcome.json()["messages"][0]["token"];
  ASSERT_FALSE(token.empty()) << welcome.describe();

  const auto commands = [&](const std::string& bearer, const std::string& with_session) {
    return http_request(port_, "GET", "/agent/poll/commands?wait=0", {},
                        {{"Authorization", "Bearer " + bearer}, {"X-Poll-Session", with_session}});
  };
  const std::string forged = bombarder::issue_token(
      Ed25519Key::generate(),
      bombarder::make_claims(id, bombarder::kAgentAudience, std::chrono::system_clock::now()));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not-a-token", "malformed"}, {forged, "bad_signature"}, {"", "missing_token"}};
  for (const auto& [bearer, code] : bad) {
    const HttpResult r = commands(bearer, session);
    EXPECT_EQ(r.status, 401) << code << ": " << r.describe();
    EXPECT_EQ(r.json().value("error", ""), code) << r.describe();
  }
  const HttpResult no_session = commands(token, "no-such-session");
  EXPECT_EQ(no_session.status, 401) << no_session.describe();
  EXPECT_EQ(no_session.json().value("error", ""), "unknown_session");
  const HttpResult bad_send =
      http_request(port_, "POST", "/agent/poll/send", R"({"messages": []})",
                   {{"Authorization", "Bearer " + forged}, {"X-Poll-Session", session}});
  EXPECT_EQ(bad_send.status, 401) << bad_send.describe();

  // The good token still works, and the refusals were counted.
  const HttpResult ok = commands(token, session);
  EXPECT_EQ(ok.status, 200) << ok.describe();
  const Json refusals = api("GET", "/status").json()["refusals"];
  EXPECT_GE(refusals.value("bad_signature", 0), 2) << refusals.dump();
  EXPECT_GE(refusals.value("unknown_key", 0), 1) << refusals.dump();
}

}  // namespace
}  // namespace integration
