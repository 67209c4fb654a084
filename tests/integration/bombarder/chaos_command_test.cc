// bombarder chaos (issue 7 "Chaos monkey"): SIGUSR1 kills a node at once, never an excluded one,
// every action is logged with a timestamp and recorded in the history; the config file can
// disable the scheduled kills.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(ChaosCommand, Sigusr1KillsAnEligibleNodeAtOnceAndEveryActionIsRecorded) {
  BombarderEnv env;
  const uint16_t base = BombarderEnv::free_port_range(3);
  const RunResult start =
      env.run({"cluster", "start", "--port", std::to_string(base), "--nodes", "3", "--tick-ms",
               "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  // Scheduled kills every 200 ms would show up at once, but the config disables them: only
  // SIGUSR1 kills, and only node 2 is eligible.
  const fs::path config = env.root() / "chaos.json";
  std::ofstream(config) << R"({"enabled": false, "interval": "200ms", "exclude": [0, 1],
                               "downtime": "300ms"})";
  const fs::path history = env.root() / "chaos.jsonl";
  Background chaos(env, {"chaos", "--config", config.string(), "--history", history.string()},
                   env.root() / "chaos.out");
  ASSERT_TRUE(
      wait_until([&] { return chaos.output().find("kills one now") != std::string::npos; }, 10s))
      << chaos.output();
  EXPECT_NE(chaos.output().find("scheduled kills disabled"), std::string::npos);
  EXPECT_NE(chaos.output().find("(excluded: 0,1)"), std::string::npos) << chaos.output();

  chaos.signal(SIGUSR1);
  ASSERT_TRUE(
      wait_until([&] { return chaos.output().find("restart node 2") != std::string::npos; }, 20s))
      << chaos.output();
  const std::string out = chaos.output();
  EXPECT_NE(out.find("SIGUSR1: killing a node now"), std::string::npos) << out;
  EXPECT_NE(out.find("sigkill node 2 (127.0.0.1:" + std::to_string(base + 2) + ")"),
            std::string::npos)
      << out;
  // Each action line starts with a UTC timestamp.
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[chaos\] \+[0-9.]+s sigkill)")))
      << out;

  chaos.signal(SIGTERM);
  EXPECT_EQ(chaos.wait(30s), 0) << chaos.output();
  const std::string final_out = chaos.output();
  EXPECT_NE(final_out.find("1 kill(s), every node restarted and serving"), std::string::npos)
      << final_out;
  EXPECT_EQ(count_of(final_out, "sigkill node 0"), 0u);
  EXPECT_EQ(count_of(final_out, "sigkill node 1"), 0u);

  const std::string recorded = read_text_file(history);
  EXPECT_NE(recorded.find(R"("type":"fault","action":"sigkill","node":2)"), std::string::npos)
      << recorded;
  EXPECT_NE(recorded.find(R"("action":"restart","node":2)"), std::string::npos) << recorded;
  EXPECT_TRUE(http_request(static_cast<uint16_t>(base + 2), "GET", "/status", {}, {}, 2s).ok());
}

TEST(ChaosCommand, BadInputIsAOneLineUsageErrorAndNoClusterIsAnEnvironmentError) {
  BombarderEnv env;
  const RunResult none = env.run({"chaos", "--duration", "1s"}, 10s);
  EXPECT_EQ(exit_code(none), 3) << none.output;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"chaos", "--interval", "fast"},
                                             {"chaos", "--interval", "10ms"},
                                             {"chaos", "--enabled", "maybe"},
                                             {"chaos", "--signal", "HUP"},
                                             {"chaos", "--config", "/nonexistent.json"}}) {
    const RunResult run = env.run(args, 10s);
    EXPECT_EQ(exit_code(run), 2) << args.back() << ": " << run.output;
    EXPECT_EQ(run.output.rfind("bombarder: error: ", 0), 0u) << run.output;
  }
  const RunResult help = env.run({"chaos", "--help"}, 10s);
  EXPECT_EQ(exit_code(help), 0) << help.output;
  for (const char* flag : {"--config", "--interval", "--downtime", "--signal", "--target",
                           "--exclude", "--enabled", "--duration", "--history", "--seed"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace integration
