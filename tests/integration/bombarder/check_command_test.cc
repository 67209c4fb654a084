// History recording and the linearizability checker against a real cluster (issue 5 "Proof"):
// a storm with chaos records its history, checked linearizable by `storm --check` and by
// `bombarder check`; a hand-made violating history fails; bad input gets one line and exit 3.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

size_t line_count(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

std::vector<Json> read_lines(const std::filesystem::path& path) {
  std::vector<Json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(Json::parse(line, nullptr, false));
  }
  return lines;
}

TEST(CheckCommand, StormWithChaosIsLinearizable) {
  BombarderEnv env;
  const uint16_t port = BombarderEnv::free_port_range(3);
  const RunResult start =
      env.run({"cluster", "start", "--port", std::to_string(port), "--nodes", "3", "--tick-ms",
               "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;

  const std::string file = (env.root() / "storm-history.jsonl").string();
  const RunResult storm =
      env.run({"storm", "--chaos", "--kill-interval", "2", "--downtime", "0.5", "--duration", "6",
               "--concurrency", "16", "--list-pct", "10", "--check", "--history", file, "--json"},
              std::chrono::seconds(120));
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["check"]["verdict"], "linearizable") << storm.output;
  EXPECT_GT(summary["check"]["ops_checked"].get<uint64_t>(), 100u) << storm.output;
  EXPECT_EQ(summary["history"], file);

  // The file: every request once, with sound times; the chaos actions as faults; the nodes'
  // roles (ignored by the checker).
  const std::vector<Json> lines = read_lines(file);
  size_t ops = 0, faults = 0, reads = 0, lists = 0, roles = 0;
  for (const Json& line : lines) {
    ASSERT_TRUE(line.is_object());
    if (line["type"] == "role") {
      ++roles;
      continue;
    }
    if (line["type"] == "fault") {
      ++faults;
      EXPECT_GE(line["at_ns"].get<int64_t>(), 0);
      continue;
    }
    ++ops;
    EXPECT_LE(line["invoke_ns"].get<int64_t>(), line["complete_ns"].get<int64_t>());
    if (line["op"] == "read" && line["outcome"] == "ok") ++reads;
    // A key lookup of a key this run created: its one entry, unless deleted meanwhile.
    if (line["op"] == "list" && line["outcome"] == "ok") {
      ++lists;
      EXPECT_LE(line["result"]["entries"].size(), 1u) << line.dump();
    }
  }
  EXPECT_EQ(ops, summary["requests"].get<uint64_t>()) << storm.output;
  EXPECT_EQ(faults, summary["chaos"].size()) << storm.output;
  EXPECT_GE(faults, 2u);
  EXPECT_GE(roles, 3u);  // at least the first sample of each node
  EXPECT_GT(reads, 0u);
  EXPECT_GT(lists, 0u);

  const RunResult check = env.run({"check", file});
  EXPECT_EQ(exit_code(check), 0) << check.output;
  EXPECT_NE(check.output.find("verdict: linearizable"), std::string::npos) << check.output;
  const RunResult check_json = env.run({"check", file, "--json", "--timeout", "30"});
  EXPECT_EQ(exit_code(check_json), 0) << check_json.output;
  EXPECT_EQ(json_of(check_json)["linearizable"], true) << check_json.output;

  // --check without --history records into the run's directory; mixed goes to the leader.
  const RunResult mixed = env.run({"mixed", "--count", "200", "--check", "--json"});
  ASSERT_EQ(exit_code(mixed), 0) << mixed.output;
  const Json mixed_summary = json_of(mixed);
  EXPECT_EQ(mixed_summary["check"]["verdict"], "linearizable") << mixed.output;
  const std::filesystem::path recorded =
      std::filesystem::path(mixed_summary["record"].get<std::string>()) / "history.jsonl";
  EXPECT_TRUE(std::filesystem::exists(recorded)) << recorded;
  EXPECT_EQ(exit_code(env.run({"check", recorded.string()})), 0);
}

TEST(CheckCommand, ViolationAndBadInput) {
  BombarderEnv env;
  const auto write = [&](const std::string& name, const std::string& text) {
    const auto path = env.root() / name;
    std::ofstream(path) << text;
    return path.string();
  };
  // A stale read: v2 acknowledged at 30, a read invoked at 40 returns v1.
  const std::string stale = write(
      "stale.jsonl",
      R"({"type":"op","client":0,"op":"create","id":"a","key":"k","value":"v1","invoke_ns":0,"complete_ns":10,"outcome":"ok","result":{"id":"a"},"status":201}
{"type":"op","client":0,"op":"update","id":"a","key":null,"value":"v2","invoke_ns":20,"complete_ns":30,"outcome":"ok","result":{},"status":200}
{"type":"op","client":1,"op":"read","id":"a","key":null,"value":null,"invoke_ns":40,"complete_ns":50,"outcome":"ok","result":{"value":"v1"},"status":200}
)");
  const RunResult violation = env.run({"check", stale});
  EXPECT_EQ(exit_code(violation), 1) << violation.output;
  EXPECT_NE(violation.output.find("NOT linearizable"), std::string::npos) << violation.output;
  EXPECT_NE(violation.output.find("smallest failing id a"), std::string::npos) << violation.output;
  const RunResult violation_json = env.run({"check", stale, "--json"});
  EXPECT_EQ(exit_code(violation_json), 1);
  EXPECT_EQ(json_of(violation_json)["failing_id"]["cannot_append"], Json::array({3}))
      << violation_json.output;

  const RunResult missing = env.run({"check", (env.root() / "nope.jsonl").string()});
  EXPECT_EQ(exit_code(missing), 3) << missing.output;
  EXPECT_EQ(line_count(missing.output), 1u) << missing.output;
  EXPECT_NE(missing.output.find("bombarder: error: cannot read"), std::string::npos)
      << missing.output;

  const std::string bad = write("bad.jsonl",
                                R"({"type":"fault","action":"kill","node":1,"at_ns":5}
{"type":"op","client":0,"op":
)");
  const RunResult malformed = env.run({"check", bad});
  EXPECT_EQ(exit_code(malformed), 3) << malformed.output;
  EXPECT_EQ(line_count(malformed.output), 1u) << malformed.output;
  EXPECT_NE(malformed.output.find("line 2"), std::string::npos) << malformed.output;

  const RunResult usage = env.run({"check"});
  EXPECT_EQ(exit_code(usage), 2) << usage.output;
  const RunResult bad_timeout = env.run({"check", stale, "--timeout", "0"});
  EXPECT_EQ(exit_code(bad_timeout), 2) << bad_timeout.output;
}

}  // namespace
}  // namespace integration
