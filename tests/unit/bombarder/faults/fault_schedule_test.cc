// The injector's schedule parsing, exec templates and fault-window arithmetic (issue 7).
#include "bombarder/faults/fault_schedule.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bombarder/base/errors.h"
#include "bombarder/faults/fault_plugin.h"
#include "bombarder/faults/interval_load.h"

namespace bombarder {
namespace {

using std::chrono::milliseconds;

TEST(FaultSchedule, ScheduleFileFormsEveryFaultType) {
  const auto faults = parse_schedule(nlohmann::json::parse(R"({"faults": [
      {"type": "kill", "node": "2", "at": "3s", "down_for": "5s", "signal": "TERM"},
      {"type": "kill", "node": 1, "at": 1},
      {"type": "pause", "node": "leader", "at": "2s", "duration": "4s"},
      {"type": "memory", "node": "1", "at": "1s", "duration": "5s", "mib": 256},
      {"type": "disk", "node": "1", "at": "1s", "duration": "5s", "mib_per_s": 20},
      {"type": "cpu", "node": "1", "duration": "5s", "workers": 2}]})"),
                                     "s.json");
  ASSERT_EQ(faults.size(), 6u);
  EXPECT_EQ(faults[0].type, FaultType::kKill);
  EXPECT_EQ(faults[0].signal, KillSignal::kTerm);
  EXPECT_EQ(faults[0].at, milliseconds(3000));
  EXPECT_EQ(faults[0].duration, milliseconds(5000));
  EXPECT_EQ(faults[1].node, "1");
  EXPECT_EQ(faults[1].signal, KillSignal::kKill);
  EXPECT_EQ(faults[1].duration, milliseconds(0));  // down until the run ends
  EXPECT_EQ(faults[2].node, "leader");
  EXPECT_EQ(faults[3].mib, 256u);
  EXPECT_EQ(faults[4].mib, 20u);
  EXPECT_EQ(faults[5].workers, 2u);
  EXPECT_EQ(faults[5].at, milliseconds(0));
  EXPECT_EQ(faults[0].describe(), "kill node 2 (SIGTERM) at 3.0 s, down for 5.0 s");
  EXPECT_EQ(faults[3].describe(), "memory node 1 (256 MiB) at 1.0 s for 5.0 s");
}

TEST(FaultSchedule, TomlScheduleFileReadsLikeItsJsonForm) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("fault_schedule_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "schedule.toml";
  std::ofstream(path) << R"(# two faults
[[faults]]
type = "kill"
node = "2"
at = "3s"
down_for = "5s"
signal = "TERM"

[[faults]]
type = "network"
node = "node1"
duration = "3s"
toxic = "latency"
toxicity = 0.5
attributes = { latency = 500 }
)";
  const auto faults = read_schedule_file(path);
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].describe(), "kill node 2 (SIGTERM) at 3.0 s, down for 5.0 s");
  EXPECT_EQ(faults[1].type, FaultType::kNetwork);
  EXPECT_EQ(faults[1].attributes["latency"], 500);
  std::ofstream(dir / "bad.toml") << "[[faults]]\ntype = \"kill\"\nnode = \n";
  try {
    (void)read_schedule_file(dir / "bad.toml");
    ADD_FAILURE() << "a broken TOML file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << to_string(e.kind());
    EXPECT_NE(std::string(e.what()).find("bad.toml:3:"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(FaultSchedule, NetworkFaultCarriesItsToxic) {
  const auto faults = parse_schedule(nlohmann::json::parse(R"({"faults": [
      {"type": "network", "node": "node1", "at": "2s", "duration": "3s", "toxic": "latency",
       "stream": "upstream", "toxicity": 0.5, "attributes": {"latency": 500}}]})"),
                                     "s.json");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].type, FaultType::kNetwork);
  EXPECT_EQ(faults[0].toxic, "latency");
  EXPECT_EQ(faults[0].stream, "upstream");
  EXPECT_DOUBLE_EQ(faults[0].toxicity, 0.5);
  EXPECT_EQ(faults[0].attributes, nlohmann::json({{"latency", 500}}));
  EXPECT_EQ(faults[0].describe(),
            "network proxy node1 (latency upstream {\"latency\":500}) at 2.0 s for 3.0 s");
  for (const char* bad : {
           R"({"faults": [{"type": "network", "node": "p", "duration": "1s"}]})",
           R"({"faults": [{"type": "network", "node": "p", "duration": "1s", "toxic": "latency",
               "stream": "sideways"}]})",
           R"({"faults": [{"type": "network", "node": "p", "duration": "1s", "toxic": "latency",
               "toxicity": 2}]})",
           R"({"faults": [{"type": "network", "node": "p", "duration": "1s", "toxic": "latency",
               "attributes": [1]}]})",
       }) {
    EXPECT_THROW((void)parse_schedule(nlohmann::json::parse(bad), "s.json"), Error) << bad;
  }
}

TEST(FaultSchedule, BadSchedulesNameTheFault) {
  for (const char* text : {
           R"([])",
           R"({"faults": []})",
           R"({"faults": [{"type": "kill"}]})",
           R"({"faults": [{"type": "flood", "node": "1"}]})",
           R"({"faults": [{"type": "pause", "node": "1"}]})",
           R"({"faults": [{"type": "memory", "node": "1", "duration": "1s"}]})",
           R"({"faults": [{"type": "memory", "node": "1", "duration": "1s", "mib": 1000000}]})",
           R"({"faults": [{"type": "kill", "node": "1", "signal": "HUP"}]})",
           R"({"faults": [{"type": "kill", "node": "1", "colour": "red"}]})",
           R"({"faults": [{"type": "cpu", "node": "1", "duration": "1s", "workers": 0}]})",
       }) {
    try {
      (void)parse_schedule(nlohmann::json::parse(text), "s.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << to_string(e.kind());
      EXPECT_NE(std::string(e.what()).find("s.json"), std::string::npos) << e.what();
    }
  }
}

// Counts (node index, mib, mib_per_s, workers) are whole non-negative numbers. Reading them with
// nlohmann's get<uint64_t>() converted a fraction or a negative silently, a double out of range
// was undefined behaviour (UBSan: float-cast-overflow, found writing tests/fuzz/
// fault_schedule_fuzz), and workers = 2^32 + 1 wrapped to 1 and passed the bound.
TEST(FaultSchedule, CountsMustBeWholeNonNegativeNumbersInRange) {
  for (const char* text : {
           R"({"faults": [{"type": "cpu", "node": "1", "duration": "1s", "workers": 4294967297}]})",
           R"({"faults": [{"type": "cpu", "node": "1", "duration": "1s", "workers": 1e300}]})",
           R"({"faults": [{"type": "cpu", "node": "1", "duration": "1s", "workers": 2.5}]})",
           R"({"faults": [{"type": "memory", "node": "1", "duration": "1s", "mib": 1e300}]})",
           R"({"faults": [{"type": "memory", "node": "1", "duration": "1s", "mib": -5}]})",
           R"({"faults": [{"type": "disk", "node": "1", "duration": "1s", "mib_per_s": 1.5}]})",
           R"({"faults": [{"type": "pause", "node": -1, "duration": "1s"}]})",
           R"({"faults": [{"type": "pause", "node": 1e300, "duration": "1s"}]})",
       }) {
    try {
      (void)parse_schedule(nlohmann::json::parse(text), "s.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << to_string(e.kind());
      EXPECT_NE(std::string(e.what()).find("s.json"), std::string::npos) << e.what();
    }
  }
  const auto ok = parse_schedule(
      nlohmann::json::parse(
          R"({"faults": [{"type": "cpu", "node": 2, "duration": "1s", "workers": 256}]})"),
      "s.json");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].node, "2");
  EXPECT_EQ(ok[0].workers, 256u);
}

TEST(ExecTemplates, NameIsShellQuotedAndSignalSubstituted) {
  EXPECT_EQ(expand_template("docker kill --signal {signal} {name}", "web-2", "KILL"),
            "docker kill --signal KILL 'web-2'");
  EXPECT_EQ(expand_template("ssh {name} systemctl restart x", "it's; rm -rf /", ""),
            "ssh 'it'\\''s; rm -rf /' systemctl restart x");
  EXPECT_EQ(expand_template("{name}{name}", "a", ""), "'a''a'");
}

TEST(IntervalLoadSummary, ExpectedFailuresAreTheRequestsAimedAtANodeInItsWindow) {
  const std::vector<LoadTarget> targets = {{"0", {"127.0.0.1", 1}}, {"1", {"127.0.0.1", 2}}};
  std::vector<LoadSample> samples;
  // Round robin every 100 ms for 2 s; node 1 is down in [500, 1500).
  for (uint64_t seq = 0; seq < 20; ++seq) {
    LoadSample s;
    s.seq = seq;
    s.scheduled_ms = static_cast<int64_t>(seq * 100);
    s.target = seq % 2;
    const bool down = s.target == 1 && s.scheduled_ms >= 500 && s.scheduled_ms < 1500;
    s.status = down ? 0 : 201;
    samples.push_back(s);
  }
  samples[0].status = 503;  // one failure outside any window
  const LoadSummary summary = summarize(samples, targets, {{"1", 500, 1500}});
  EXPECT_EQ(summary.total, 20u);
  EXPECT_EQ(summary.expected_failures, 5u);  // 500, 700, 900, 1100, 1300
  EXPECT_EQ(summary.failures_in_windows, 5u);
  EXPECT_EQ(summary.failures_outside, 1u);
  EXPECT_EQ(summary.ok, 14u);
  const std::vector<std::pair<std::string, uint64_t>> codes = {{"503", 1}, {"no answer", 5}};
  EXPECT_EQ(summary.failures_by_code, codes);
}

}  // namespace
}  // namespace bombarder
