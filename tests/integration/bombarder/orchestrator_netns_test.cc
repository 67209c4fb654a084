// `bombarder orchestrator` and `bombarder agent` across network namespaces (issue 17, "Proof":
// "and across network namespaces if the machine allows"). The agent and its 3-node cluster run
// in a network namespace of their own, joined to the test's namespace, where the orchestrator
// runs, by a veth pair with a /30 of 10.213.0.0/16: nothing else connects them, so the agent's
// WebSocket (wss://, as every agent off loopback) crosses a real link. The test makes its own
// namespace and veth pair with unique names and always deletes them; it is skipped, saying why,
// when `ip netns add` is not permitted (not root, no CAP_SYS_ADMIN, a container without netns)
// or `ip`, `openssl` or `curl` is missing. Every process it starts is stopped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>

#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOperatorToken = "netns-operator-token-0123456789abcdef";

struct ShellResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh; the callers quote what they pass (names and paths of their own).
ShellResult shell(const std::string& command) {
  ShellResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char chunk[4096];
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;)
    result.output.append(chunk, n);
  const int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The network namespace `pid` is in, as the kernel names it ("net:[4026531840]").
std::string netns_of(pid_t pid) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/net", ec).string();
}

std::string program(const std::string& name) {
  std::string path = find_program(name);
  for (const char* dir : {"/usr/sbin/", "/sbin/"}) {
    if (path.empty() && ::access((dir + name).c_str(), X_OK) == 0) path = dir + name;
  }
  return path;
}

// A network namespace and a veth pair into it, named after this process (unique on the machine
// while it runs), deleted by the destructor whatever happened.
class NetnsLink {
 public:
  NetnsLink() {
    static std::atomic<int> made{0};
    const int pid = static_cast<int>(::getpid());
    const int n = made.fetch_add(1);
    name_ = "bmbr-it-" + std::to_string(pid) + "-" + std::to_string(n);
    // Interface names are at most 15 bytes.
    const std::string tag = std::to_string((pid * 8 + n) % 10000000);
    veth_outside_ = "bmbr" + tag + "o";
    veth_inside_ = "bmbr" + tag + "i";
    const int net = (pid * 8 + n) % 16384;  // a /30 of 10.213.0.0/16
    const std::string subnet = "10.213." + std::to_string(net / 64) + ".";
    outside_address_ = subnet + std::to_string((net % 64) * 4 + 1);
    inside_address_ = subnet + std::to_string((net % 64) * 4 + 2);
  }
  ~NetnsLink() {
    if (!made_) return;
    (void)shell(ip_ + " netns del " + name_);
    (void)shell(ip_ + " link del " + veth_outside_);  // gone with its peer already, normally
  }
  NetnsLink(const NetnsLink&) = delete;
  NetnsLink& operator=(const NetnsLink&) = delete;

  // Makes the namespace; the reason when this machine does not allow it.
  std::optional<std::string> make(const std::string& ip) {
    ip_ = ip;
    const ShellResult r = shell(ip_ + " netns add " + name_);
    if (r.code != 0) return "`ip netns add` is not permitted here: " + r.output;
    made_ = true;
    return std::nullopt;
  }

  // The veth pair, addressed and up, and the namespace's loopback up (its cluster is on it).
  ShellResult link() {
    const std::string in = ip_ + " -n " + name_ + " ";
    for (const std::string& command :
         {ip_ + " link add " + veth_outside_ + " type veth peer name " + veth_inside_,
          ip_ + " link set " + veth_inside_ + " netns " + name_,
          ip_ + " addr add " + outside_address_ + "/30 dev " + veth_outside_,
          ip_ + " link set " + veth_outside_ + " up",
          in + "addr add " + inside_address_ + "/30 dev " + veth_inside_,
          in + "link set " + veth_inside_ + " up", in + "link set lo up"}) {
      ShellResult r = shell(command);
      if (r.code != 0) {
        r.output = command + ": " + r.output;
        return r;
      }
    }
    return {0, ""};
  }

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& outside_address() const { return outside_address_; }

 private:
  std::string ip_;
  std::string name_, veth_outside_, veth_inside_;
  std::string outside_address_;  // the test's end of the veth pair (the orchestrator's)
  std::string inside_address_;   // the namespace's end
  bool made_ = false;
};

class OrchestratorNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ip_ = program("ip");
    openssl_ = program("openssl");
    curl_ = program("curl");
    if (ip_.empty() || openssl_.empty() || curl_.empty()) {
      GTEST_SKIP() << "needs ip (iproute2), openssl and curl in PATH";
    }
    if (const std::optional<std::string> why = netns_.make(ip_)) GTEST_SKIP() << *why;
    const ShellResult linked = netns_.link();
    if (linked.code != 0) GTEST_SKIP() << "no veth pair into a namespace here: " << linked.output;
  }

  void TearDown() override {
    agent_.reset();
    if (cluster_started_) {  // inside the namespace, where its nodes answer
      Background stop(agent_env_, {"cluster", "stop"}, agent_env_.root() / "stop.log",
                      netns_.name());
      EXPECT_EQ(stop.wait(std::chrono::seconds(30)), 0) << stop.output();
    }
    orchestrator_.reset();
  }

  // A certificate for the orchestrator's veth address, its own CA (the agent's --cacert).
  void make_certificate() {
    const ShellResult r = shell(
        openssl_ + " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 " +
        "-subj /CN=bombarder-orchestrator -addext subjectAltName=IP:" + netns_.outside_address() +
        " -keyout " + (env_.root() / "orch.key").string() + " -out " + cert().string());
    ASSERT_EQ(r.code, 0) << r.output;
  }

  fs::path cert() const { return env_.root() / "orch.pem"; }

  void start_orchestrator() {
    const fs::path token = env_.root() / "operator-token";
    std::ofstream(token) << kOperatorToken << "\n";
    orchestrator_ = std::make_unique<Background>(
        env_,
        std::vector<std::string>{"orchestrator", "--host", netns_.outside_address(), "--port", "0",
                                 "--data", (env_.root() / "orch").string(), "--operator-token-file",
                                 token.string(), "--tls-cert", cert().string(), "--tls-key",
                                 (env_.root() / "orch.key").string(), "--heartbeat", "300ms"},
        env_.root() / "orchestrator.log");
    port_ = wait_for_printed_port([this] { return orchestrator_->output(); },
                                  std::regex("REST on https://[0-9.]+:([0-9]+)"), 15s);
    ASSERT_NE(port_, 0) << orchestrator_->output();
  }

  // REST over HTTPS to the orchestrator's veth address: {status, body}.
  std::pair<int, Json> api(const std::string& method, const std::string& target,
                           const Json& body = nullptr) {
    const fs::path body_file = env_.root() / "request.json";
    std::string command = curl_ + " -sS --max-time 10 --cacert " + cert().string() +
                          " -H 'Authorization: Bearer " + kOperatorToken + "' -X " + method +
                          " -w '\\n%{http_code}' https://" + netns_.outside_address() + ":" +
                          std::to_string(port_) + target;
    if (!body.is_null()) {
      std::ofstream(body_file) << body.dump();
      command += " --data-binary @" + body_file.string();
    }
    const ShellResult r = shell(command);
    const size_t last = r.output.rfind('\n');
    if (r.code != 0 || last == std::string::npos) return {0, Json(r.output)};
    return {std::atoi(r.output.c_str() + last + 1),
            Json::parse(r.output.substr(0, last), nullptr, false)};
  }

  // The agent's cluster, started inside the namespace, and its key, enrolled.
  void add_agent() {
    const uint16_t base = BombarderEnv::free_port_range(3);
    Background start(agent_env_,
                     {"cluster", "start", "--port", std::to_string(base), "--nodes", "3",
                      "--tick-ms", "20", "--election-ticks", "10", "--heartbeat-ticks", "1"},
                     agent_env_.root() / "start.log", netns_.name());
    cluster_started_ = true;
    ASSERT_EQ(start.wait(std::chrono::seconds(60)), 0) << start.output();
    const RunResult keygen = agent_env_.run({"agent", "keygen", "--out", agent_key().string()});
    ASSERT_EQ(exit_code(keygen), 0) << keygen.output;
    const auto [status, agent] = api("POST", "/agents",
                                     {{"public_key", read_text_file(agent_key().string() + ".pub")},
                                      {"labels", {{"netns", netns_.name()}}}});
    ASSERT_EQ(status, 201) << agent.dump();
    agent_id_ = agent.value("id", "");
  }

  fs::path agent_key() const { return agent_env_.root() / "agent.pem"; }

  NetnsLink netns_;
  BombarderEnv env_;        // the orchestrator's side
  BombarderEnv agent_env_;  // the agent's data root, its cluster inside the namespace
  std::unique_ptr<Background> orchestrator_;
  std::unique_ptr<Background> agent_;
  bool cluster_started_ = false;
  std::string ip_, openssl_, curl_;
  uint16_t port_ = 0;
  std::string agent_id_;
};

TEST_F(OrchestratorNetnsTest, AnAgentInAnotherNetworkNamespaceRunsStormCheckVerifyOverWss) {
  make_certificate();
  start_orchestrator();
  add_agent();
  agent_ = std::make_unique<Background>(
      agent_env_,
      std::vector<std::string>{"agent", "--orchestrator",
                               "wss://" + netns_.outside_address() + ":" + std::to_string(port_),
                               "--cacert", cert().string(), "--key", agent_key().string()},
      agent_env_.root() / "agent.log", netns_.name());
  ASSERT_TRUE(wait_until(
      [&] { return api("GET", "/agents/" + agent_id_).second.value("connected", false); }, 20s))
      << agent_->output() << orchestrator_->output();
  // The agent and its nodes are in the other namespace, the orchestrator in the test's.
  const std::string here = netns_of(::getpid());
  EXPECT_EQ(netns_of(orchestrator_->pid()), here);
  EXPECT_NE(netns_of(agent_->pid()), here);
  const pid_t node =
      static_cast<pid_t>(std::stol(read_text_file(agent_env_.root() / "node-0" / "node.pid")));
  EXPECT_EQ(netns_of(node), netns_of(agent_->pid()));
  EXPECT_FALSE(netns_of(node).empty());

  const Json spec = {{"name", "across namespaces"},
                     {"steps",
                      {{{"kind", "load"},
                        {"command", "storm"},
                        {"args", {"--duration", "2s", "--concurrency", "4", "--check"}}},
                       {{"kind", "check"}},
                       {{"kind", "verify"}, {"timeout", "30s"}}}}};
  const auto [created, experiment] = api("POST", "/experiments", spec);
  ASSERT_EQ(created, 201) << experiment.dump();
  const auto [assigned, run] =
      api("POST", "/experiments/" + experiment.value("id", "") + "/assign/" + agent_id_);
  ASSERT_EQ(assigned, 201) << run.dump();
  // (clang 14 refuses a lambda capturing a structured binding: name the id first.)
  const std::string run_id = run.value("id", "");
  Json last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = api("GET", "/runs/" + run_id).second;
        return last.value("state", "running") != "running";
      },
      90s));
  ASSERT_EQ(last.value("state", ""), "done") << last.dump(2) << agent_->output();
  const Json& steps = last["agents"][agent_id_]["steps"];
  EXPECT_TRUE(steps[0]["load"]["passed"].get<bool>()) << steps[0].dump();
  EXPECT_EQ(steps[1]["check"]["verdict"], "linearizable") << steps[1].dump();
  EXPECT_TRUE(steps[2]["verify"]["passed"].get<bool>()) << steps[2].dump();
}

}  // namespace
}  // namespace integration
