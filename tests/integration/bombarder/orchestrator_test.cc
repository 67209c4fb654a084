// `bombarder orchestrator` and `bombarder agent` (issue 17) on loopback: an orchestrator, agents
// each owning a local 3-node cluster in its own data root, experiments assigned over REST and run
// through the fault kit; the orchestrator killed with -9 and restarted; an agent cut off from it
// reverting within its dead-man timeout; bad credentials and bad frames refused while the
// orchestrator keeps serving. Every process a test starts is stopped by its destructor.
#include "common/asio.h"
// (asio.h first: design.md §6.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <boost/beast/websocket.hpp>
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
namespace asio = boost::asio;
namespace beast = boost::beast;
using bombarder::Ed25519Key;

constexpr const char* kOperatorToken = "integration-operator-token-0123456789";

pid_t node_pid(const fs::path& root, int id) {
  return static_cast<pid_t>(
      std::stol(read_text_file(root / ("node-" + std::to_string(id)) / "node.pid")));
}

// One agent: its data root with a 3-node cluster, its key (enrolled by the test), its process.
struct TestAgent {
  std::unique_ptr<BombarderEnv> env = std::make_unique<BombarderEnv>();
  std::string id;
  std::unique_ptr<Background> process;
  fs::path key() const { return env->root() / "agent.pem"; }
};

class OrchestratorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (TestAgent& a : agents_) a.process.reset();  // before their clusters stop
  }

  void start_orchestrator(uint16_t port, const std::vector<std::string>& extra = {}) {
    const fs::path token = env_.root() / "operator-token";
    std::ofstream(token) << kOperatorToken << "\n";
    std::vector<std::string> args{"orchestrator",
                                  "--port",
                                  std::to_string(port),
                                  "--data",
                                  (env_.root() / "orch").string(),
                                  "--operator-token-file",
                                  token.string(),
                                  "--heartbeat",
                                  "300ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    orchestrator_ = std::make_unique<Background>(
        env_, args,
        // A log per start: the port is read from the new process's own first line.
        env_.root() / ("orchestrator-" + std::to_string(++starts_) + ".log"));
    port_ = wait_for_printed_port([this] { return orchestrator_->output(); },
                                  std::regex("REST on http://127\\.0\\.0\\.1:([0-9]+)"), 15s);
    ASSERT_NE(port_, 0) << orchestrator_->output();
  }

  HttpResult api(std::string_view method, const std::string& target, const std::string& body = {},
                 const std::string& token = kOperatorToken) {
    return http_request(port_, method, target, body, {{"Authorization", "Bearer " + token}});
  }

  // A cluster started in the agent's root (with `cluster_flags`), a key made and enrolled.
  TestAgent& add_agent(const std::string& name,
                       const std::vector<std::string>& cluster_flags = {}) {
    TestAgent& a = agents_.emplace_back();
    const uint16_t base = BombarderEnv::free_port_range(3);
    std::vector<std::string> args{"cluster",
                                  "start",
                                  "--port",
                                  std::to_string(base),
                                  "--nodes",
                                  "3",
                                  "--tick-ms",
                                  "20",
                                  "--election-ticks",
                                  "10",
                                  "--heartbeat-ticks",
                                  "1"};
    args.insert(args.end(), cluster_flags.begin(), cluster_flags.end());
    const RunResult start = a.env->run(args);
    EXPECT_EQ(exit_code(start), 0) << start.output;
    const RunResult keygen = a.env->run({"agent", "keygen", "--out", a.key().string()});
    EXPECT_EQ(exit_code(keygen), 0) << keygen.output;
    const Json enrol = {{"public_key", read_text_file(a.key().string() + ".pub")},
                        {"labels", {{"name", name}}}};
    const HttpResult r = api("POST", "/agents", enrol.dump());
    EXPECT_EQ(r.status, 201) << r.describe();
    a.id = r.json().value("id", "");
    return a;
  }

  void start_agent(TestAgent& a, const std::string& dead_man) {
    a.process = std::make_unique<Background>(
        *a.env,
        std::vector<std::string>{"agent", "--orchestrator",
                                 "ws://127.0.0.1:" + std::to_string(port_), "--key",
                                 a.key().string(), "--dead-man", dead_man},
        a.env->root() / "agent.log");
  }

  bool connected(const std::string& id) {
    return wait_until([&] { return api("GET", "/agents/" + id).json().value("connected", false); },
                      20s);
  }

  std::string create_experiment(const Json& spec) {
    const HttpResult r = api("POST", "/experiments", spec.dump());
    EXPECT_EQ(r.status, 201) << r.describe();
    return r.json().value("id", "");
  }

  Json wait_run(const std::string& run, std::chrono::milliseconds timeout) {
    Json last;
    (void)wait_until(
        [&] {
          last = api("GET", "/runs/" + run).json();
          return last.value("state", "") != "running";
        },
        timeout);
    return last;
  }

  // Waits until some progress event of `run` says `event`.
  bool wait_event(const std::string& run, const std::string& agent, const std::string& event) {
    return wait_until(
        [&] {
          const Json r = api("GET", "/runs/" + run).json();
          if (!r.contains("agents") || !r["agents"].contains(agent)) return false;
          for (const Json& e : r["agents"][agent]["progress"]) {
            if (e.value("event", "") == event) return true;
          }
          return false;
        },
        30s);
  }

  std::string agent_logs() {
    std::string out;
    for (TestAgent& a : agents_) {
      out += "--- agent " + a.id + "\n" + (a.process ? a.process->output() : std::string());
    }
    return out + "--- orchestrator\n" + (orchestrator_ ? orchestrator_->output() : "");
  }

  BombarderEnv env_;
  std::unique_ptr<Background> orchestrator_;
  uint16_t port_ = 0;
  int starts_ = 0;
  std::deque<TestAgent> agents_;
};

// GET /events read on a plain socket: the server-sent events as they come.
class EventReader {
 public:
  EventReader(uint16_t port, const std::string& token) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval timeout{1, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    const std::string request =
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n";
    asio::write(socket_, asio::buffer(request));
  }
  // Everything read so far, after reading until `done(text)` or `timeout`.
  std::string read_until(const std::function<bool(const std::string&)>& done,
                         std::chrono::milliseconds timeout) {
    (void)wait_until(
        [&] {
          char chunk[4096];
          beast::error_code ec;
          const size_t n = socket_.read_some(asio::buffer(chunk), ec);
          text_.append(chunk, n);
          return done(text_);
        },
        timeout);
    return text_;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string text_;
};

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Json kill_load_verify() {
  return Json::parse(R"({"name": "kill the leader under load",
    "steps": [
      {"kind": "fault", "type": "kill", "node": "leader", "at": "0s", "down_for": "1s"},
      {"kind": "load", "duration": "2s", "concurrency": 2},
      {"kind": "verify", "timeout": "30s"}]})");
}

Json load_step(const std::string& command, const std::vector<std::string>& args) {
  return {{"kind", "load"}, {"command", command}, {"args", args}};
}

// A long pause of node 1: a fault that is surely active when the test cuts the orchestrator off.
Json long_pause() {
  return Json::parse(R"({"name": "pause node 1 for a minute",
    "steps": [{"kind": "fault", "type": "pause", "node": "1", "at": "0s", "duration": "60s"}]})");
}

TEST_F(OrchestratorTest, TwoAgentsRunKillLoadVerifyAndReportPerAgent) {
  start_orchestrator(0);
  TestAgent& a = add_agent("a");
  TestAgent& b = add_agent("b");
  start_agent(a, "30s");
  start_agent(b, "30s");
  ASSERT_TRUE(connected(a.id) && connected(b.id)) << agent_logs();
  const std::string experiment = create_experiment(kill_load_verify());
  EventReader events(port_, kOperatorToken);
  const Json assign = {{"agents", {a.id, b.id}}};
  const HttpResult r = api("POST", "/experiments/" + experiment + "/assign", assign.dump());
  ASSERT_EQ(r.status, 201) << r.describe();
  const Json run = wait_run(r.json()["id"], 90s);
  ASSERT_EQ(run.value("state", ""), "done") << run.dump(2) << agent_logs();
  for (const TestAgent* agent : {&a, &b}) {
    const Json& part = run["agents"][agent->id];
    EXPECT_EQ(part["state"], "done") << part.dump(2);
    const Json& steps = part["steps"];
    ASSERT_EQ(steps.size(), 3u) << part.dump(2);
    EXPECT_TRUE(steps[0]["applied"]["ok"].get<bool>()) << steps[0].dump();
    EXPECT_TRUE(steps[0]["reverted"]["ok"].get<bool>()) << steps[0].dump();
    EXPECT_GT(steps[1]["load"]["succeeded"].get<uint64_t>(), 0u) << steps[1].dump();
    EXPECT_TRUE(steps[2]["verify"]["passed"].get<bool>()) << steps[2].dump();
    EXPECT_FALSE(part["progress"].empty());
    // The cluster is whole after the run: every replica agrees.
    const RunResult verify = agent->env->run({"verify", "--timeout", "30s"});
    EXPECT_EQ(exit_code(verify), 0) << verify.output;
  }
  const Json audit = api("GET", "/audit?limit=1000").json();
  size_t sent = 0, results = 0;
  for (const Json& e : audit["entries"]) {
    sent += e["what"] == "assign_sent" ? 1 : 0;
    results += e["what"] == "result" ? 1 : 0;
  }
  EXPECT_EQ(sent, 2u);
  EXPECT_EQ(results, 2u);
  // The event stream saw the run begin, the agents' progress and both results.
  const std::string stream = events.read_until(
      [](const std::string& text) { return count_of(text, "event: result\n") >= 2; }, 10s);
  EXPECT_NE(stream.find("200 OK"), std::string::npos) << stream;
  EXPECT_NE(stream.find("text/event-stream"), std::string::npos) << stream;
  EXPECT_EQ(count_of(stream, "event: run_created\n"), 1u) << stream;
  EXPECT_GE(count_of(stream, "event: progress\n"), 2u) << stream;
  EXPECT_EQ(count_of(stream, "event: result\n"), 2u) << stream;
}

// A load step with a load command's own flags (a storm with --check), then a check step and a
// verify step, on an agent whose cluster was started with --tls: the storm reaches it over
// HTTPS through the load command's own code, and the result carries the checker's verdict.
TEST_F(OrchestratorTest, AStormWithCheckThenCheckAndVerifyStepsReturnTheCheckersVerdict) {
  start_orchestrator(0);
  TestAgent& a = add_agent("a", {"--tls"});
  start_agent(a, "30s");
  ASSERT_TRUE(connected(a.id)) << agent_logs();
  // The orchestrator refuses, at creation, what the load commands' parser or the agent refuses.
  const Json refused = {{"name", "x"}, {"steps", {load_step("storm", {"--nodes", "8080"})}}};
  const HttpResult bad = api("POST", "/experiments", refused.dump());
  EXPECT_EQ(bad.status, 400) << bad.describe();
  EXPECT_NE(bad.body.find("steps[0]: storm --nodes is not taken in a load step"), std::string::npos)
      << bad.body;
  const Json spec = {{"name", "storm, check, verify"},
                     {"steps",
                      {load_step("storm", {"--duration", "3s", "--concurrency", "8", "--read-pct",
                                           "40", "--list-pct", "10", "--check"}),
                       {{"kind", "check"}, {"timeout", "60s"}},
                       {{"kind", "verify"}, {"timeout", "30s"}}}}};
  const HttpResult r = api("POST", "/experiments/" + create_experiment(spec) + "/assign/" + a.id);
  ASSERT_EQ(r.status, 201) << r.describe();
  const Json run = wait_run(r.json()["id"], 90s);
  ASSERT_EQ(run.value("state", ""), "done") << run.dump(2) << agent_logs();
  const Json& steps = run["agents"][a.id]["steps"];
  ASSERT_EQ(steps.size(), 3u) << run.dump(2);
  const Json& load = steps[0]["load"];
  EXPECT_EQ(load["command"], "storm") << load.dump();
  EXPECT_TRUE(load["passed"].get<bool>()) << load.dump();
  EXPECT_GT(load["succeeded"].get<uint64_t>(), 0u) << load.dump();
  EXPECT_EQ(load["check"]["verdict"], "linearizable") << load.dump();
  const Json& check = steps[1]["check"];
  EXPECT_EQ(check["verdict"], "linearizable") << check.dump();
  EXPECT_TRUE(check["linearizable"].get<bool>()) << check.dump();
  EXPECT_EQ(check["histories"], 1u) << check.dump();
  EXPECT_EQ(check["ids_violation"], 0u) << check.dump();
  EXPECT_GT(check["ops"].get<uint64_t>(), 0u) << check.dump();
  EXPECT_EQ(check["per_step"][0]["step"], 0u) << check.dump();
  EXPECT_FALSE(check.contains("smallest_failure")) << check.dump();
  EXPECT_TRUE(steps[2]["verify"]["passed"].get<bool>()) << steps[2].dump();
  // The history is in the agent's run record; `bombarder check` agrees with the step.
  const std::string history = load["history"].get<std::string>();
  EXPECT_EQ(history, check["per_step"][0]["history"].get<std::string>());
  const RunResult checked = a.env->run({"check", history, "--json"});
  EXPECT_EQ(exit_code(checked), 0) << checked.output;
  EXPECT_NE(checked.output.find("\"ops\": " + check["ops"].dump() + ","), std::string::npos)
      << checked.output;
}

// A load step the orchestrator accepts but the agent's cluster cannot run (serializable reads
// are etcd's) is a failed step with its error; the steps after it still run.
TEST_F(OrchestratorTest, ALoadStepTheAgentsClusterRefusesIsAFailedStepAndTheRunGoesOn) {
  start_orchestrator(0);
  TestAgent& a = add_agent("a");
  start_agent(a, "30s");
  ASSERT_TRUE(connected(a.id)) << agent_logs();
  const Json spec = {{"name", "serializable on stress_node"},
                     {"steps",
                      {load_step("flood", {"--count", "10", "--read-consistency", "serializable"}),
                       {{"kind", "verify"}, {"timeout", "30s"}}}}};
  const HttpResult r = api("POST", "/experiments/" + create_experiment(spec) + "/assign/" + a.id);
  ASSERT_EQ(r.status, 201) << r.describe();
  const Json run = wait_run(r.json()["id"], 60s);
  EXPECT_EQ(run.value("state", ""), "failed") << run.dump(2) << agent_logs();
  const Json& steps = run["agents"][a.id]["steps"];
  ASSERT_EQ(steps.size(), 2u) << run.dump(2);
  EXPECT_NE(steps[0].value("error", "").find("serializable is for --system etcd"),
            std::string::npos)
      << steps[0].dump();
  EXPECT_TRUE(steps[1]["verify"]["passed"].get<bool>()) << steps[1].dump();
}

TEST_F(OrchestratorTest, KilledOrchestratorRestartsWithItsStateAndTheRunAborted) {
  const uint16_t port = BombarderEnv::free_port_range(1);
  start_orchestrator(port);
  TestAgent& a = add_agent("a");
  start_agent(a, "2s");
  ASSERT_TRUE(connected(a.id)) << agent_logs();
  const std::string experiment = create_experiment(long_pause());
  const HttpResult assigned = api("POST", "/experiments/" + experiment + "/assign/" + a.id);
  ASSERT_EQ(assigned.status, 201) << assigned.describe();
  const std::string run = assigned.json()["id"];
  ASSERT_TRUE(wait_event(run, a.id, "fault_applied")) << agent_logs();
  const pid_t paused = node_pid(a.env->root(), 1);
  ASSERT_TRUE(process_stopped(paused));
  const uint64_t audit_before = api("GET", "/status").json()["audit_entries"].get<uint64_t>();

  orchestrator_->signal(SIGKILL);
  (void)orchestrator_->wait(5s);
  // Cut off, the agent reverts by itself within its dead-man timeout (2 s).
  EXPECT_TRUE(wait_until([&] { return !process_stopped(paused); }, 10s)) << agent_logs();

  ASSERT_TRUE(BombarderEnv::wait_port_range_free(port, 1, 10s));
  start_orchestrator(port);
  EXPECT_EQ(api("GET", "/experiments/" + experiment).status, 200);
  EXPECT_EQ(api("GET", "/agents/" + a.id).status, 200);
  EXPECT_GE(api("GET", "/status").json()["audit_entries"].get<uint64_t>(), audit_before);
  const Json after = api("GET", "/runs/" + run).json();
  EXPECT_EQ(after["state"], "aborted") << after.dump(2);
  // The agent reconnects, is sent the abort, and answers that nothing of the run is active.
  ASSERT_TRUE(connected(a.id)) << agent_logs();
  EXPECT_TRUE(wait_until(
      [&] {
        return !api("GET", "/runs/" + run).json()["agents"][a.id]["abort_pending"].get<bool>();
      },
      20s))
      << api("GET", "/runs/" + run).describe() << agent_logs();
  const RunResult verify = a.env->run({"verify", "--timeout", "30s"});
  EXPECT_EQ(exit_code(verify), 0) << verify.output;
}

TEST_F(OrchestratorTest, AnAgentCutOffFromTheOrchestratorRevertsWithinItsDeadManTimeout) {
  start_orchestrator(0);
  TestAgent& a = add_agent("a");
  start_agent(a, "2s");
  ASSERT_TRUE(connected(a.id)) << agent_logs();
  const std::string experiment = create_experiment(long_pause());
  const HttpResult assigned = api("POST", "/experiments/" + experiment + "/assign/" + a.id);
  ASSERT_EQ(assigned.status, 201) << assigned.describe();
  ASSERT_TRUE(wait_event(assigned.json()["id"], a.id, "fault_applied")) << agent_logs();
  const pid_t paused = node_pid(a.env->root(), 1);
  ASSERT_TRUE(process_stopped(paused));

  orchestrator_->signal(SIGSTOP);
  const auto cut = std::chrono::steady_clock::now();
  const bool resumed = wait_until([&] { return !process_stopped(paused); }, 15s);
  const auto took = std::chrono::steady_clock::now() - cut;
  orchestrator_->signal(SIGCONT);
  ASSERT_TRUE(resumed) << agent_logs();
  // The dead-man timeout (2 s) plus the last heartbeat's age and the revert itself.
  EXPECT_LT(took, 5s) << std::chrono::duration<double>(took).count() << " s";
  std::printf("node resumed %.2f s after the orchestrator was stopped (dead-man 2 s)\n",
              std::chrono::duration<double>(took).count());
  EXPECT_NE(a.process->output().find("dead-man timeout"), std::string::npos) << agent_logs();
}

// A WebSocket client speaking the protocol by hand, to send what a real agent never would.
class RawAgent {
 public:
  explicit RawAgent(uint16_t port) : ws_(io_) {
    asio::ip::tcp::resolver resolver(io_);
    asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    // Bounded reads: a missing answer fails the test instead of hanging it.
    timeval timeout{10, 0};
    ::setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                 sizeof(timeout));
    ws_.read_message_max(1 << 20);
    ws_.handshake("127.0.0.1", "/agent/ws");
  }
  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  // The next message, or a discarded value when the connection ended.
  Json receive() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec) return Json(Json::value_t::discarded);
    return Json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  }
  // Registers with `key` and proves it; the welcome.
  Json register_with(const Ed25519Key& key) {
    send(bombarder::make_message(bombarder::MessageType::kRegister,
                                 {{"public_key", key.public_pem()}})
             .dump());
    const Json challenge = receive();
    if (challenge.value("type", "") != "challenge") return challenge;
    const std::string nonce = challenge["nonce"];
    send(bombarder::make_message(bombarder::MessageType::kProof,
                                 {{"signature", bombarder::base64url_encode(
                                                    key.sign(bombarder::challenge_input(nonce)))}})
             .dump());
    return receive();
  }

 private:
  asio::io_context io_;
  beast::websocket::stream<asio::ip::tcp::socket> ws_;
};

Json heartbeat_with(const std::string& token) {
  return bombarder::make_message(bombarder::MessageType::kHeartbeat,
                                 {{"token", token}, {"seq", 1}});
}

TEST_F(OrchestratorTest, BadCredentialsAndFramesAreRefusedAndTheOrchestratorKeepsServing) {
  start_orchestrator(0);
  // REST: no token, a wrong token, an oversized body, malformed JSON, a bad experiment.
  EXPECT_EQ(http_request(port_, "GET", "/experiments").status, 401);
  EXPECT_EQ(http_request(port_, "GET", "/events").status, 401);
  EXPECT_EQ(api("GET", "/events", {}, "not-the-operator-token-at-all").status, 403);
  EXPECT_EQ(api("GET", "/experiments", {}, "not-the-operator-token-at-all").status, 403);
  EXPECT_EQ(api("POST", "/experiments", std::string(70 << 10, ' ')).status, 413);
  EXPECT_EQ(api("POST", "/experiments", "{not json").status, 400);
  Json too_long = {{"name", "x"}, {"steps", Json::array()}};
  for (int i = 0; i < 65; ++i) too_long["steps"].push_back({{"kind", "verify"}});
  const HttpResult refused = api("POST", "/experiments", too_long.dump());
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.json().value("error", ""), "invalid_experiment") << refused.describe();
  EXPECT_EQ(api("POST", "/experiments/exp-missing/assign/nobody").status, 404);

  // WebSocket: a key nobody enrolled.
  {
    RawAgent raw(port_);
    const Json answer = raw.register_with(Ed25519Key::generate());
    EXPECT_EQ(answer.value("code", ""), "unknown_key") << answer.dump();
  }
  // An enrolled key, then forged, expired and malformed messages after the welcome.
  const Ed25519Key key = Ed25519Key::generate();
  ASSERT_EQ(api("POST", "/agents", Json{{"public_key", key.public_pem()}}.dump()).status, 201);
  RawAgent raw(port_);
  const Json welcome = raw.register_with(key);
  ASSERT_EQ(welcome.value("type", ""), "welcome") << welcome.dump();
  raw.send(heartbeat_with(welcome["token"]).dump());
  EXPECT_EQ(raw.receive().value("type", ""), "heartbeat_ack");

  const Ed25519Key forger = Ed25519Key::generate();
  const std::string forged = bombarder::issue_token(
      forger, bombarder::make_claims(key.fingerprint(), bombarder::kAgentAudience,
                                     std::chrono::system_clock::now()));
  raw.send(heartbeat_with(forged).dump());
  EXPECT_EQ(raw.receive().value("code", ""), "bad_signature");

  const Ed25519Key orchestrator_key =
      Ed25519Key::load_private_file(env_.root() / "orch" / "orchestrator_key.pem");
  const std::string expired = bombarder::issue_token(
      orchestrator_key, bombarder::make_claims(key.fingerprint(), bombarder::kAgentAudience,
                                               std::chrono::system_clock::now() - 10min, 5min));
  raw.send(heartbeat_with(expired).dump());
  EXPECT_EQ(raw.receive().value("code", ""), "expired");

  raw.send("{this is not json");
  EXPECT_EQ(raw.receive().value("code", ""), "malformed");
  raw.send(
      R"({"type":"assign","run":"r","agent":"a","experiment":{},"issued_at":1,"signature":"s"})");
  EXPECT_EQ(raw.receive().value("code", ""), "unexpected_type");

  // A frame over the protocol's bound ends that connection only.
  raw.send(std::string(bombarder::kMessageBytesMax + 1024, 'x'));
  EXPECT_TRUE(raw.receive().is_discarded());

  const HttpResult status = api("GET", "/status");
  ASSERT_EQ(status.status, 200);
  const Json refusals = status.json()["refusals"];
  for (const char* code : {"unauthorized", "forbidden", "unknown_key", "bad_signature", "expired",
                           "malformed", "unexpected_type", "too_large"}) {
    EXPECT_GE(refusals.value(code, 0), 1) << code << " in " << refusals.dump();
  }
  RawAgent again(port_);
  EXPECT_EQ(again.register_with(key).value("type", ""), "welcome");
}

// Issue 17's limits: a token first used on one connection is refused on another (replayed); an
// agent over its message rate and a bearer token over its REST rate are refused (rate_limited,
// 429); all are counted; the audit log keeps only its newest --audit-max entries.
TEST_F(OrchestratorTest, ReplayedTokensFloodsAndAnOverfullAuditLogAreBounded) {
  start_orchestrator(0,
                     {"--rate-limit-agent", "2", "--rate-limit-rest", "20", "--audit-max", "50"});
  const Ed25519Key key = Ed25519Key::generate();
  ASSERT_EQ(api("POST", "/agents", Json{{"public_key", key.public_pem()}}.dump()).status, 201);
  std::string first_token;
  {
    RawAgent a(port_);
    const Json welcome = a.register_with(key);
    ASSERT_EQ(welcome.value("type", ""), "welcome") << welcome.dump();
    first_token = welcome["token"];
    a.send(heartbeat_with(first_token).dump());
    ASSERT_EQ(a.receive().value("type", ""), "heartbeat_ack");
  }
  // The same agent on a new connection: its own new token works, the old one is a replay.
  RawAgent b(port_);
  const Json welcome = b.register_with(key);
  ASSERT_EQ(welcome.value("type", ""), "welcome") << welcome.dump();
  b.send(heartbeat_with(first_token).dump());
  EXPECT_EQ(b.receive().value("code", ""), "replayed");
  b.send(heartbeat_with(welcome["token"]).dump());
  EXPECT_EQ(b.receive().value("type", ""), "heartbeat_ack");
  // 2 messages/s, burst 8: a flood of 30 is cut.
  for (int i = 0; i < 30; ++i) b.send(heartbeat_with(welcome["token"]).dump());
  size_t limited = 0;
  for (int i = 0; i < 30; ++i) limited += b.receive().value("code", "") == "rate_limited" ? 1 : 0;
  EXPECT_GE(limited, 15u);
  // REST: 20/s, burst 40, per bearer token: a flood of 100 is cut with 429.
  size_t too_many = 0;
  for (int i = 0; i < 100; ++i) too_many += api("GET", "/status").status == 429 ? 1 : 0;
  EXPECT_GE(too_many, 40u);
  // Distinct wrong tokens: each its own bucket, each refusal audited: 100 more entries.
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(api("GET", "/runs", {}, "wrong-token-number-" + std::to_string(i)).status, 403);
  }
  // The operator's own bucket refills at 20/s: poll past the 429s.
  const auto when_allowed = [&](const std::string& target) {
    HttpResult r;
    EXPECT_TRUE(wait_until(
        [&] {
          r = api("GET", target);
          return r.status != 429;
        },
        10s));
    return r.json();
  };
  const Json status = when_allowed("/status");
  const Json refusals = status["refusals"];
  EXPECT_GE(refusals.value("replayed", 0), 1) << refusals.dump();
  EXPECT_GE(refusals.value("rate_limited", 0), 55) << refusals.dump();
  EXPECT_GE(refusals.value("forbidden", 0), 100) << refusals.dump();
  const Json audit = when_allowed("/audit?limit=1000");
  ASSERT_EQ(audit["entries"].size(), 50u) << audit.dump().substr(0, 2000);
  const uint64_t last = audit["last_seq"];
  EXPECT_GT(last, 100u);
  EXPECT_EQ(audit["first_seq"], last - 49);
  EXPECT_EQ(audit["entries"][0]["seq"], last - 49);
  EXPECT_EQ(audit["entries"][49]["seq"], last);
}

// A stand-in orchestrator in the test process: it welcomes one agent with `key` as the
// orchestrator's key, then sends whatever the test gives, to see what the agent refuses.
class FakeOrchestrator {
 public:
  FakeOrchestrator()
      : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), ws_(io_) {}
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Accepts the agent (polled, bounded) and runs the handshake; the agent's id, "" on failure.
  std::string welcome(const Ed25519Key& key) {
    acceptor_.non_blocking(true);
    beast::error_code ec = asio::error::would_block;
    if (!wait_until(
            [&] {
              acceptor_.accept(ws_.next_layer(), ec);
              return !ec;
            },
            20s)) {
      return {};
    }
    ws_.next_layer().non_blocking(false);
    timeval timeout{10, 0};
    ::setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                 sizeof(timeout));
    ws_.accept();
    const Json hello = receive();
    if (hello.value("type", "") != "register") return {};
    send(bombarder::make_message(bombarder::MessageType::kChallenge, {{"nonce", "n"}}));
    if (receive().value("type", "") != "proof") return {};
    id_ = Ed25519Key::from_public_pem(hello["public_key"].get<std::string>()).fingerprint();
    const std::string token = bombarder::issue_token(
        key,
        bombarder::make_claims(id_, bombarder::kAgentAudience, std::chrono::system_clock::now()));
    send(bombarder::make_message(bombarder::MessageType::kWelcome,
                                 {{"agent_id", id_},
                                  {"token", token},
                                  {"orchestrator_key", key.public_pem()},
                                  {"heartbeat_ms", 60000}}));
    return id_;
  }
  void send(const Json& message) {
    ws_.text(true);
    ws_.write(asio::buffer(message.dump()));
  }
  // The next message that is not a heartbeat; discarded when the connection ended.
  Json receive() {
    while (true) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec) return Json(Json::value_t::discarded);
      Json message = Json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
      if (message.value("type", "") != "heartbeat") return message;
    }
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  beast::websocket::stream<asio::ip::tcp::socket> ws_;
  std::string id_;
};

Json assign_of(const std::string& run, const std::string& agent, const Json& experiment) {
  return bombarder::make_message(
      bombarder::MessageType::kAssign,
      {{"run", run}, {"agent", agent}, {"experiment", experiment}, {"issued_at", 1}});
}

TEST_F(OrchestratorTest, AnAgentRefusesCommandsNotSignedByItsOrchestratorOrNotForIt) {
  FakeOrchestrator fake;
  TestAgent& a = agents_.emplace_back();
  ASSERT_EQ(exit_code(a.env->run({"agent", "keygen", "--out", a.key().string()})), 0);
  a.process = std::make_unique<Background>(
      *a.env,
      std::vector<std::string>{"agent", "--orchestrator",
                               "ws://127.0.0.1:" + std::to_string(fake.port()), "--key",
                               a.key().string()},
      a.env->root() / "agent.log");
  const Ed25519Key key = Ed25519Key::generate();
  const std::string id = fake.welcome(key);
  ASSERT_FALSE(id.empty()) << a.process->output();
  const Json experiment = long_pause();

  fake.send(bombarder::sign_command(assign_of("r1", id, experiment), Ed25519Key::generate()));
  Json refusal = fake.receive();
  EXPECT_EQ(refusal.value("code", ""), "bad_signature") << refusal.dump();
  EXPECT_EQ(refusal.value("run", ""), "r1");

  fake.send(assign_of("r2", id, experiment));  // no signature at all
  EXPECT_EQ(fake.receive().value("code", ""), "missing_field");

  fake.send(bombarder::sign_command(assign_of("r3", "ed25519:someoneelse", experiment), key));
  refusal = fake.receive();
  EXPECT_EQ(refusal.value("code", ""), "not_for_me") << refusal.dump();

  fake.send(bombarder::sign_command(assign_of("r4", id, {{"name", "x"}, {"steps", 3}}), key));
  EXPECT_EQ(fake.receive().value("code", ""), "invalid_experiment");

  fake.send(bombarder::sign_command(
      bombarder::make_message(bombarder::MessageType::kAbort,
                              {{"run", "r1"}, {"agent", id}, {"reason", "x"}, {"issued_at", 1}}),
      Ed25519Key::generate()));
  EXPECT_EQ(fake.receive().value("code", ""), "bad_signature");
  // Nothing ran: no run was ever started on the agent.
  EXPECT_EQ(a.process->output().find("run r"), std::string::npos) << a.process->output();
}

}  // namespace
}  // namespace integration

namespace integration {
namespace {

// The scale path of issue 17 in small: `agent --simulate 50` (one process, 50 keys enrolled over
// REST, 50 connections) all register, and one assignment by label reaches each of them and
// comes back as 50 results.
TEST_F(OrchestratorTest, FiftySimulatedAgentsRegisterAndAnExperimentFansOutToAll) {
  constexpr size_t kAgents = 50;
  start_orchestrator(0);
  const fs::path stats = env_.root() / "fleet.json";
  Background fleet(
      env_,
      {"agent", "--simulate", std::to_string(kAgents), "--orchestrator",
       "ws://127.0.0.1:" + std::to_string(port_), "--key-dir", (env_.root() / "keys").string(),
       "--enroll-token-file", (env_.root() / "operator-token").string(), "--labels", "fleet=sim",
       "--stats-file", stats.string()},
      env_.root() / "fleet.log");
  ASSERT_TRUE(wait_until(
      [&] { return api("GET", "/status").json().value("agents_connected", 0u) == kAgents; }, 60s))
      << api("GET", "/status").body << fleet.output();
  Json ids = Json::array();
  const Json listed = api("GET", "/agents").json();  // named: the loop must not outlive it
  for (const Json& agent : listed["agents"]) {
    EXPECT_EQ(agent["labels"], Json({{"fleet", "sim"}})) << agent.dump();
    EXPECT_TRUE(agent["capabilities"].value("simulated", false)) << agent.dump();
    ids.push_back(agent["id"]);
  }
  ASSERT_EQ(ids.size(), kAgents);
  const std::string experiment = create_experiment(kill_load_verify());
  // By label: no agent has fleet=other; all 50 have fleet=sim.
  const HttpResult none = api("POST", "/experiments/" + experiment + "/assign?label=fleet=other");
  EXPECT_EQ(none.status, 409) << none.describe();
  EXPECT_EQ(none.json().value("error", ""), "no_agents") << none.describe();
  const HttpResult r = api("POST", "/experiments/" + experiment + "/assign?label=fleet=sim");
  ASSERT_EQ(r.status, 201) << r.describe();
  const Json run = wait_run(r.json()["id"], 60s);
  ASSERT_EQ(run.value("state", ""), "done") << run.dump(2).substr(0, 4000) << fleet.output();
  ASSERT_EQ(run["agents"].size(), kAgents);
  for (const auto& [id, part] : run["agents"].items()) {
    EXPECT_EQ(part["state"], "done") << id;
    ASSERT_EQ(part["steps"].size(), 3u) << part.dump();
    EXPECT_TRUE(part["steps"][0].value("simulated", false)) << part.dump();
  }
  // The simulator saw every assignment arrive, and heartbeats answered.
  Json figures;
  ASSERT_TRUE(wait_until(
      [&] {
        if (!fs::exists(stats)) return false;
        figures = Json::parse(read_text_file(stats), nullptr, false);
        return !figures.is_discarded() && figures.value("assigns_received", 0u) == kAgents;
      },
      10s))
      << figures.dump();
  EXPECT_EQ(figures["registered"], kAgents);
  EXPECT_EQ(figures["refusals_received"], 0u);
  EXPECT_TRUE(figures["all_registered_ms"].is_number()) << figures.dump();
}

}  // namespace
}  // namespace integration
