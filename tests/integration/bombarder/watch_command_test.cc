// watch as the built bombarder runs it (issue 4 "Verify and watch"): rounds in a pipe, JSON
// lines, a node that goes down, Ctrl-C, and the errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

void expect_one_line_error(const RunResult& run, int code, const std::string& needle) {
  EXPECT_EQ(exit_code(run), code) << run.output;
  const std::vector<std::string> lines = lines_of(run.output);
  ASSERT_EQ(lines.size(), 1u) << run.output;
  EXPECT_EQ(lines[0].rfind("bombarder: error: ", 0), 0u) << run.output;
  EXPECT_NE(lines[0].find(needle), std::string::npos) << "want '" << needle << "' in\n"
                                                      << run.output;
}

// Gone: no such process, or a zombie its new parent has not reaped yet (it runs no more).
bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

class WatchCommandTest : public ::testing::Test {
 protected:
  void start_cluster() {
    base_port_ = BombarderEnv::free_port_range(3);
    const RunResult start =
        env_.run({"cluster", "start", "--port", std::to_string(base_port_), "--tick-ms", "20",
                  "--election-ticks", "10", "--heartbeat-ticks", "1"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
  }
  std::string address(size_t i) const { return "127.0.0.1:" + std::to_string(base_port_ + i); }
  pid_t recorded_pid(size_t i) const {
    std::ifstream in(env_.root() / "cluster.json");
    return Json::parse(in)["nodes"].at(i)["pid"];
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
};

TEST_F(WatchCommandTest, PipedWatchPrintsOneBlockPerRoundWithEveryNode) {
  start_cluster();
  const RunResult watch = env_.run({"watch", "--count", "2", "--interval", "0.2"});
  ASSERT_EQ(exit_code(watch), 0) << watch.output;
  // Plain text in a pipe: no cursor movement.
  EXPECT_EQ(watch.output.find('\033'), std::string::npos) << watch.output;
  const std::vector<std::string> lines = lines_of(watch.output);
  ASSERT_EQ(lines.size(), 2u * 5u) << watch.output;  // per round: summary, header, 3 nodes
  for (size_t round = 0; round < 2; ++round) {
    const std::string& summary = lines[round * 5];
    EXPECT_EQ(summary.find("Z  leader: 127.0.0.1:"), 23u) << summary;  // after the timestamp
    EXPECT_NE(summary.find("nodes up 3/3"), std::string::npos) << summary;
    EXPECT_EQ(lines[round * 5 + 1].rfind("id  address", 0), 0u) << watch.output;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_NE(lines[round * 5 + 2 + i].find(address(i)), std::string::npos) << watch.output;
    }
  }
  EXPECT_EQ(count_of(watch.output, " leader "), 2u) << watch.output;  // one leader row per round
}

TEST_F(WatchCommandTest, JsonWatchPrintsOneParsableObjectPerRound) {
  start_cluster();
  const RunResult watch = env_.run({"watch", "--count", "3", "--interval", "0.2", "--json"});
  ASSERT_EQ(exit_code(watch), 0) << watch.output;
  const std::vector<std::string> lines = lines_of(watch.output);
  ASSERT_EQ(lines.size(), 3u) << watch.output;
  for (size_t round = 0; round < 3; ++round) {
    const Json json = Json::parse(lines[round], nullptr, false);
    ASSERT_TRUE(json.is_object()) << lines[round];
    EXPECT_EQ(json["round"], round + 1);
    EXPECT_EQ(json["reachable"], 3);
    EXPECT_TRUE(json["leader"].is_string()) << lines[round];
    ASSERT_EQ(json["nodes"].size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const Json& node = json["nodes"][i];
      EXPECT_EQ(node["address"], address(i));
      EXPECT_TRUE(node["reachable"].get<bool>());
      EXPECT_TRUE(node["applied_index"].is_number());
      EXPECT_TRUE(node["lag"].is_number());
      // A rate needs a previous round.
      EXPECT_EQ(node["writes_per_s"].is_null(), round == 0) << lines[round];
    }
  }
}

TEST_F(WatchCommandTest, ANodeThatGoesDownIsShownDownAndWatchKeepsGoing) {
  start_cluster();
  const pid_t victim = recorded_pid(2);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return process_gone(victim); }, 5s));
  const RunResult watch = env_.run({"watch", "--count", "2", "--interval", "0.2", "--json"});
  ASSERT_EQ(exit_code(watch), 0) << watch.output;
  const std::vector<std::string> lines = lines_of(watch.output);
  ASSERT_EQ(lines.size(), 2u) << watch.output;
  for (const std::string& line : lines) {
    const Json json = Json::parse(line, nullptr, false);
    ASSERT_TRUE(json.is_object()) << line;
    EXPECT_EQ(json["reachable"], 2) << line;
    EXPECT_FALSE(json["nodes"][2]["reachable"].get<bool>()) << line;
    EXPECT_TRUE(json["nodes"][2]["error"].is_string()) << line;
  }
}

TEST_F(WatchCommandTest, LeaderFlagWatchesEveryMemberOfThatNode) {
  start_cluster();
  const RunResult watch =
      env_.run({"watch", "--leader", "http://" + address(1), "--count", "1", "--json"});
  ASSERT_EQ(exit_code(watch), 0) << watch.output;
  const Json json = Json::parse(watch.output, nullptr, false);
  ASSERT_TRUE(json.is_object()) << watch.output;
  ASSERT_EQ(json["nodes"].size(), 3u) << watch.output;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(json["nodes"][i]["address"], address(i));
}

// Ctrl-C (SIGINT) ends an unbounded watch cleanly with exit 0.
TEST_F(WatchCommandTest, InterruptEndsWatchWithExitZero) {
  start_cluster();
  const fs::path output = env_.root() / "watch.out";
  // Everything the child needs is built before fork(); after it only async-signal-safe calls.
  std::vector<std::string> env_strings = {"STRESS_TEST_DATA=" + env_.root().string()};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("STRESS_TEST_DATA=", 0) != 0) env_strings.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {BOMBARDER_BIN, "watch", "--interval", "0.1"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  const auto read_output = [&] {
    std::ifstream in(output);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  // Two rounds printed: it runs (and is past its setup) when the signal comes.
  const bool running = wait_until([&] { return count_of(read_output(), "nodes up") >= 2; }, 10s);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  const bool ended = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 5s);
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  EXPECT_TRUE(running) << read_output();
  ASSERT_TRUE(ended) << "watch did not end on SIGINT";
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_output();
  EXPECT_EQ(read_output().find("error"), std::string::npos) << read_output();
}

TEST_F(WatchCommandTest, NoReachableNodeIsAOneLineErrorAtOnce) {
  const std::string nowhere = std::to_string(BombarderEnv::free_port_range(1));
  expect_one_line_error(env_.run({"watch", "--nodes", nowhere, "--count", "3"}, 10s), 3,
                        "no node answers /status");
  expect_one_line_error(env_.run({"watch", "--leader", nowhere, "--count", "3"}, 10s), 3,
                        "does not answer /status");
}

TEST_F(WatchCommandTest, BadInputIsAOneLineUsageError) {
  expect_one_line_error(env_.run({"watch", "--nodes", "http://x:notaport"}), 2,
                        "'http://x:notaport' is not a node address");
  expect_one_line_error(env_.run({"watch", "--interval", "0"}), 2, "--interval");
  expect_one_line_error(env_.run({"watch", "--count", "-1"}), 2, "--count");
  expect_one_line_error(env_.run({"watch", "--nodes", "1", "--leader", "2"}), 2, "not both");
  expect_one_line_error(env_.run({"watch", "--bogus"}), 2, "--bogus");
  const RunResult help = env_.run({"watch", "--help"});
  EXPECT_EQ(exit_code(help), 0);
  for (const char* flag : {"--nodes", "--leader", "--interval", "--count", "--json"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace integration
