// bombarder supervise and cluster start --supervise (issue 7 "Supervisor and watchdog"): a
// supervised cluster whose nodes are killed recovers without help, and a node whose event loop
// hangs is aborted by its own watchdog and restarted by the supervisor.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) { return read_text_file(path); }

// Holds a loopback port (bound and listening) so that a node cannot start there; released by
// the destructor or release().
class PortHolder {
 public:
  explicit PortHolder(uint16_t port) : port_(port) {}
  ~PortHolder() { release(); }
  PortHolder(const PortHolder&) = delete;
  PortHolder& operator=(const PortHolder&) = delete;
  // One attempt; the killed node's sockets may still be closing, so callers poll.
  [[nodiscard]] bool hold() {
    if (fd_ >= 0) return true;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 1) == 0) {
      fd_ = fd;
      return true;
    }
    ::close(fd);
    return false;
  }
  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  uint16_t port_;
  int fd_ = -1;
};

class SuperviseCommandTest : public ::testing::Test {
 protected:
  void start_cluster(const std::vector<std::string>& extra) {
    base_port_ = BombarderEnv::free_port_range(3);
    std::vector<std::string> args = {"cluster",
                                     "start",
                                     "--port",
                                     std::to_string(base_port_),
                                     "--nodes",
                                     "3",
                                     "--tick-ms",
                                     "20",
                                     "--election-ticks",
                                     "10",
                                     "--heartbeat-ticks",
                                     "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult start = env_.run(args);
    ASSERT_EQ(exit_code(start), 0) << start.output;
    start_output_ = start.output;
  }
  Json record() const {
    std::ifstream in(env_.root() / "cluster.json");
    return Json::parse(in, nullptr, false);
  }
  pid_t node_pid(size_t i) const {
    const Json r = record();
    return r.is_object() ? r["nodes"][i].value("pid", 0) : 0;
  }
  pid_t supervisor_pid() const {
    const Json r = record();
    return r.is_object() && r.contains("supervisor") ? r["supervisor"].value("pid", 0) : 0;
  }
  uint16_t port(size_t i) const { return static_cast<uint16_t>(base_port_ + i); }
  bool serving(size_t i) const { return http_request(port(i), "GET", "/status", {}, {}, 1s).ok(); }
  // Every node serves and one of them leads.
  bool cluster_healthy() const {
    bool leader = false;
    for (size_t i = 0; i < 3; ++i) {
      const HttpResult r = http_request(port(i), "GET", "/status", {}, {}, 1s);
      if (!r.ok()) return false;
      leader = leader || r.json().value("role", "") == "leader";
    }
    return leader;
  }
  std::optional<size_t> leader() const {
    for (size_t i = 0; i < 3; ++i) {
      const HttpResult r = http_request(port(i), "GET", "/status", {}, {}, 1s);
      if (r.ok() && r.json().value("role", "") == "leader") return i;
    }
    return std::nullopt;
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
  std::string start_output_;
};

TEST_F(SuperviseCommandTest, SupervisedClusterRecoversKilledNodesWithoutHelp) {
  start_cluster({"--supervise"});
  EXPECT_NE(start_output_.find("supervisor: pid"), std::string::npos) << start_output_;
  const pid_t supervisor = supervisor_pid();
  ASSERT_GT(supervisor, 0) << record().dump();
  ASSERT_FALSE(process_gone(supervisor));

  // The leader and a follower at once: no quorum until the supervisor brings one back.
  const std::optional<size_t> lead = leader();
  ASSERT_TRUE(lead);
  const size_t follower = (*lead + 1) % 3;
  const pid_t old_leader_pid = node_pid(*lead);
  const pid_t old_follower_pid = node_pid(follower);
  ASSERT_EQ(::kill(old_leader_pid, SIGKILL), 0);
  ASSERT_EQ(::kill(old_follower_pid, SIGKILL), 0);

  // Default --dead-after is 6 s: both come back with new PIDs and a leader is elected.
  ASSERT_TRUE(wait_until(
      [&] {
        return node_pid(*lead) != old_leader_pid && node_pid(follower) != old_follower_pid &&
               cluster_healthy();
      },
      60s))
      << read_file(env_.root() / "supervisor.log");
  const std::string log = read_file(env_.root() / "supervisor.log");
  for (size_t i : {*lead, follower}) {
    EXPECT_NE(log.find("node " + std::to_string(i) + " is DEAD. Restarting..."), std::string::npos)
        << log;
    EXPECT_NE(
        log.find("node " + std::to_string(i) + " restarted: pid " + std::to_string(node_pid(i))),
        std::string::npos)
        << log;
  }
  // The survivor was never touched.
  EXPECT_EQ(log.find("node " + std::to_string(3 - *lead - follower) + " is DEAD"),
            std::string::npos)
      << log;
  const HttpResult write =
      http_request(port(*leader()), "POST", "/api/kv", R"({"key":"after","value":"recovered"})");
  EXPECT_EQ(write.status, 201) << write.describe();

  // cluster stop stops the supervisor first, so that it does not resurrect what stop ends.
  const RunResult stop = env_.run({"cluster", "stop"});
  EXPECT_EQ(exit_code(stop), 0) << stop.output;
  EXPECT_NE(stop.output.find("supervisor pid " + std::to_string(supervisor)), std::string::npos)
      << stop.output;
  EXPECT_TRUE(wait_until([&] { return process_gone(supervisor); }, 10s));
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(serving(i)) << "node " << i;
}

TEST_F(SuperviseCommandTest, WatchdogAbortsAHungNodeAndTheSupervisorRestartsIt) {
  start_cluster({"--watchdog-ms", "1000", "--debug-endpoints"});
  Background supervise(env_, {"supervise", "--dead-after", "2", "--poll", "0.2"},
                       env_.root() / "supervise.out");
  ASSERT_TRUE(wait_until([&] { return supervisor_pid() == supervise.pid(); }, 10s))
      << supervise.output();
  // A second supervisor is refused while this one runs.
  const RunResult second = env_.run({"supervise"}, 10s);
  EXPECT_EQ(exit_code(second), 3) << second.output;
  EXPECT_NE(second.output.find("already has a supervisor"), std::string::npos) << second.output;

  const std::optional<size_t> lead = leader();
  ASSERT_TRUE(lead);
  const size_t victim = (*lead + 1) % 3;
  const pid_t old_pid = node_pid(victim);
  // /_debug is an admin route: the token `cluster start` wrote into the cluster directory.
  std::string token = read_file(env_.root() / "admin-token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  const HttpResult hang = http_request(port(victim), "POST", "/_debug/hang?loop=raft&ms=600000", {},
                                       {{"Authorization", "Bearer " + token}}, 2s);
  ASSERT_EQ(hang.status, 202) << hang.describe();

  ASSERT_TRUE(wait_until([&] { return node_pid(victim) != old_pid && serving(victim); }, 30s))
      << supervise.output();
  const std::string node_log =
      read_file(env_.root() / ("node-" + std::to_string(victim)) / "node.log");
  EXPECT_NE(node_log.find("watchdog: the raft loop made no progress"), std::string::npos)
      << node_log.substr(node_log.size() > 3000 ? node_log.size() - 3000 : 0);
  const std::string log = supervise.output();
  EXPECT_NE(log.find("node " + std::to_string(victim) + " is DEAD. Restarting... (no heartbeat"),
            std::string::npos)
      << log;
  // The watchdog, not the supervisor, ended the hung process.
  EXPECT_NE(log.find("process gone"), std::string::npos) << log;
  EXPECT_TRUE(wait_until([&] { return cluster_healthy(); }, 20s));

  // Ctrl-C ends the supervisor cleanly and takes it out of the record; the nodes keep running.
  EXPECT_EQ(supervise.stop(), 0) << supervise.output();
  EXPECT_EQ(supervisor_pid(), 0) << record().dump();
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(serving(i)) << "node " << i;
}

TEST_F(SuperviseCommandTest, CrashLoopBacksOffUntilTheNodeCanStartAgain) {
  start_cluster({});
  Background supervise(env_,
                       {"supervise", "--dead-after", "1", "--poll", "0.2", "--backoff-min", "0.5",
                        "--backoff-max", "4", "--stable-after", "30"},
                       env_.root() / "supervise.out");
  ASSERT_TRUE(wait_until([&] { return supervisor_pid() == supervise.pid(); }, 10s))
      << supervise.output();
  const pid_t old_pid = node_pid(2);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return process_gone(old_pid); }, 10s));
  // Every restart fails at once (port taken), so node 2 dies again and again: the waits double.
  PortHolder holder(port(2));
  ASSERT_TRUE(wait_until([&] { return holder.hold(); }, 5s)) << "port " << port(2);
  ASSERT_TRUE(wait_until(
      [&] { return supervise.output().find("waiting 1.0 s") != std::string::npos; }, 30s))
      << supervise.output();
  const std::string looping = supervise.output();
  EXPECT_NE(looping.find("node 2 is DEAD. Restarting... (no heartbeat"), std::string::npos)
      << looping;
  EXPECT_NE(looping.find("waiting 0.5 s"), std::string::npos) << looping;
  EXPECT_LT(looping.find("waiting 0.5 s"), looping.find("waiting 1.0 s")) << looping;
  // With the port free again the next restart serves, and the others were never touched.
  holder.release();
  ASSERT_TRUE(wait_until([&] { return serving(2) && cluster_healthy(); }, 30s))
      << supervise.output();
  const std::string log = supervise.output();
  EXPECT_EQ(log.find("node 0 is DEAD"), std::string::npos) << log;
  EXPECT_EQ(log.find("node 1 is DEAD"), std::string::npos) << log;
}

TEST_F(SuperviseCommandTest, BadInputAndNoClusterAreOneLineErrors) {
  const RunResult none = env_.run({"supervise"}, 10s);
  EXPECT_EQ(exit_code(none), 3) << none.output;
  EXPECT_NE(none.output.find("no cluster recorded"), std::string::npos) << none.output;
  const RunResult bad = env_.run({"supervise", "--dead-after", "0"}, 10s);
  EXPECT_EQ(exit_code(bad), 2) << bad.output;
  const RunResult poll = env_.run({"supervise", "--dead-after", "1", "--poll", "2"}, 10s);
  EXPECT_EQ(exit_code(poll), 2) << poll.output;
  const RunResult help = env_.run({"supervise", "--help"}, 10s);
  EXPECT_EQ(exit_code(help), 0);
  for (const char* flag :
       {"--dead-after", "--poll", "--backoff-min", "--backoff-max", "--stable-after", "--log"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace integration
