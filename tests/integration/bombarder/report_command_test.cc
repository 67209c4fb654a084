// The HTML report against a real cluster (issue 5 "Report"): `storm --chaos --report` records
// the history with role lines and writes a page with a fault band per kill on every chart, a
// role lane per node (the killed node seen down, a leader seen) and the verdict; `bombarder
// report` renders the same history again with the run's summary; bad input gets one line.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t line_count(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

TEST(ReportCommand, StormWithChaosWritesFaultBandsAndRoleLanes) {
  BombarderEnv env;
  const uint16_t port = BombarderEnv::free_port_range(3);
  const RunResult start =
      env.run({"cluster", "start", "--port", std::to_string(port), "--nodes", "3", "--tick-ms",
               "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;

  const std::string page = (env.root() / "storm.html").string();
  const RunResult storm =
      env.run({"storm", "--chaos", "--kill-interval", "2", "--downtime", "0.8", "--duration", "6",
               "--concurrency", "16", "--report", page, "--json"},
              std::chrono::seconds(120));
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = Json::parse(storm.output, nullptr, false);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["report"], page);
  size_t stops = 0;
  for (const Json& e : summary["chaos"]) {
    if (e["action"] == "sigkill" || e["action"] == "sigterm") ++stops;
  }
  // Kills every 2 s; on a loaded machine a restart can take long enough that only one fits.
  ASSERT_GE(stops, 1u) << storm.output;

  // --report records the history in the run directory, role lines included.
  const std::filesystem::path history =
      std::filesystem::path(summary["record"].get<std::string>()) / "history.jsonl";
  ASSERT_EQ(summary["history"], history.string());
  const std::string lines = read_file(history);
  EXPECT_GE(count_of(lines, "\"type\":\"role\""), 3u);
  EXPECT_NE(lines.find("\"role\":\"down\""), std::string::npos);

  const std::string html = read_file(page);
  ASSERT_FALSE(html.empty()) << page;
  EXPECT_EQ(count_of(html, "<svg"), 4u);
  // Every stop was followed by its restart: one window each, shaded on each of the 4 charts.
  EXPECT_EQ(count_of(html, "class=\"fault-band "), 4 * stops) << storm.output;
  EXPECT_EQ(count_of(html, "class=\"lane\""), 3u);
  EXPECT_GE(count_of(html, "class=\"role-seg role-leader\""), 1u);
  EXPECT_GE(count_of(html, "class=\"role-seg role-down\""), 1u);
  EXPECT_GE(count_of(html, "class=\"role-seg "), 3u + stops);
  EXPECT_NE(html.find("Verdict: linearizable"), std::string::npos);
  EXPECT_NE(html.find("id=\"run-summary\""), std::string::npos);
  for (const char* remote : {"http://", "https://", "src=", "href="}) {
    EXPECT_EQ(html.find(remote), std::string::npos) << remote;
  }

  // bombarder report: the same history, summary.json found beside it, default output name.
  const RunResult report = env.run({"report", history.string()});
  ASSERT_EQ(exit_code(report), 0) << report.output;
  std::filesystem::path expected = history;
  expected.replace_extension(".html");
  EXPECT_NE(report.output.find("report: " + expected.string()), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("summary included; verdict linearizable"), std::string::npos)
      << report.output;
  const std::string again = read_file(expected);
  EXPECT_EQ(count_of(again, "class=\"fault-band "), 4 * stops);
  EXPECT_NE(again.find("id=\"run-summary\""), std::string::npos);

  const std::string unchecked = (env.root() / "unchecked.html").string();
  const RunResult no_check =
      env.run({"report", history.string(), "--no-check", "--out", unchecked});
  EXPECT_EQ(exit_code(no_check), 0) << no_check.output;
  EXPECT_NE(read_file(unchecked).find("id=\"verdict\">Not checked"), std::string::npos);
}

TEST(ReportCommand, BadInputGetsOneLine) {
  BombarderEnv env;
  const RunResult missing = env.run({"report", (env.root() / "nope.jsonl").string()});
  EXPECT_EQ(exit_code(missing), 3) << missing.output;
  EXPECT_EQ(line_count(missing.output), 1u) << missing.output;
  EXPECT_NE(missing.output.find("bombarder: error: cannot read"), std::string::npos)
      << missing.output;

  const auto bad = env.root() / "bad.jsonl";
  std::ofstream(bad) << "{\"type\":\"role\",\"node\":0,\"at_ns\":1}\n";
  const RunResult malformed = env.run({"report", bad.string()});
  EXPECT_EQ(exit_code(malformed), 3) << malformed.output;
  EXPECT_EQ(line_count(malformed.output), 1u) << malformed.output;
  EXPECT_NE(malformed.output.find("line 1: missing \"role\""), std::string::npos)
      << malformed.output;

  const auto good = env.root() / "good.jsonl";
  std::ofstream(good) << "{\"type\":\"fault\",\"action\":\"sigkill\",\"node\":1,\"at_ns\":5}\n";
  const RunResult unwritable =
      env.run({"report", good.string(), "--out", "/nonexistent-dir/x.html"});
  EXPECT_EQ(exit_code(unwritable), 3) << unwritable.output;
  EXPECT_EQ(line_count(unwritable.output), 1u) << unwritable.output;

  EXPECT_EQ(exit_code(env.run({"report"})), 2);
  EXPECT_EQ(exit_code(env.run({"report", good.string(), "--check-timeout", "0"})), 2);
  EXPECT_EQ(exit_code(env.run({"report", good.string(), "--summary", "/nonexistent.json"})), 3);

  // A load command refuses an unwritable report before it sends anything.
  const RunResult load =
      env.run({"storm", "--nodes", "127.0.0.1:1", "--report", "/nonexistent-dir/x.html"});
  EXPECT_EQ(exit_code(load), 3) << load.output;
  EXPECT_EQ(line_count(load.output), 1u) << load.output;
  EXPECT_NE(load.output.find("cannot write the report /nonexistent-dir/x.html"), std::string::npos)
      << load.output;
  // A writable report of a run that cannot start is not left behind empty.
  const auto later = env.root() / "later.html";
  const RunResult no_cluster = env.run({"storm", "--nodes", "127.0.0.1:1", "--report", later});
  EXPECT_EQ(exit_code(no_cluster), 3) << no_cluster.output;
  EXPECT_FALSE(std::filesystem::exists(later));
}

}  // namespace
}  // namespace integration
