// `bombarder compare` on real runs (issue 18 "Side by side"): the same short storm with chaos and
// the same --seed against a 3-node stress_node cluster and a 3-member etcd cluster, each checked,
// then one page putting both side by side: both systems named, both seeds, both recorded
// command lines, the outcome counts of each history, `verify`'s result where it ran, two charts
// per kind on one scale, the kills shaded. Bad input ends with one line and a non-zero exit. Each
// cluster has its own $STRESS_TEST_DATA; the harness stops every recorded node.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

constexpr const char* kSeed = "1807";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The cell of `field` for run `run` in the page's runs table.
std::string cell(const std::string& html, const std::string& field, int run) {
  const size_t row = html.find("<tr data-field=\"" + field + "\">");
  if (row == std::string::npos) return "<no row " + field + ">";
  const size_t td = html.find("<td data-run=\"" + std::to_string(run) + "\"", row);
  const size_t text = html.find('>', td) + 1;
  return html.substr(text, html.find("</td>", text) - text);
}

// A 6 s checked storm with a kill every 2 s (seed kSeed); returns its summary.
Json chaos_storm(BombarderEnv& env, const std::vector<std::string>& system_flags) {
  std::vector<std::string> args = {"storm", "--duration",    "6s",      "--concurrency",
                                   "8",     "--check",       "--chaos", "--kill-interval",
                                   "2s",    "--downtime",    "0.8s",    "--seed",
                                   kSeed,   "--min-success", "50",      "--json"};
  args.insert(args.begin() + 1, system_flags.begin(), system_flags.end());
  const RunResult storm = env.run(args, std::chrono::seconds(120));
  EXPECT_EQ(exit_code(storm), 0) << storm.output;
  Json summary = Json::parse(storm.output, nullptr, false);
  EXPECT_TRUE(summary.is_object()) << storm.output;
  return summary;
}

size_t history_outcomes(const std::filesystem::path& history, const std::string& outcome) {
  size_t n = 0;
  std::ifstream in(history);
  for (std::string line; std::getline(in, line);) {
    const Json j = Json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == "op" && j.value("outcome", "") == outcome) ++n;
  }
  return n;
}

TEST(CompareCommand, TheSameChaosStormOnStressNodeAndEtcdSideBySide) {
  if (find_program("etcd").empty()) GTEST_SKIP() << "etcd is not installed (etcd-server)";
  BombarderEnv stress_env;
  const uint16_t stress_port = BombarderEnv::free_port_range(3);
  const RunResult start =
      stress_env.run({"cluster", "start", "--port", std::to_string(stress_port), "--nodes", "3"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  const Json stress = chaos_storm(stress_env, {});
  ASSERT_TRUE(stress.is_object());
  // One cluster at a time on the 2 cores.
  ASSERT_EQ(exit_code(stress_env.run({"cluster", "stop"})), 0);

  BombarderEnv etcd_env;
  const uint16_t etcd_port = BombarderEnv::free_port_range(6);
  const RunResult etcd_start =
      etcd_env.run({"cluster", "start", "--system", "etcd", "--port", std::to_string(etcd_port)});
  ASSERT_EQ(exit_code(etcd_start), 0) << etcd_start.output;
  const Json etcd = chaos_storm(etcd_env, {"--system", "etcd"});
  ASSERT_TRUE(etcd.is_object());

  // verify leaves verify.json in the run it checked; compare shows it.
  const RunResult verify = etcd_env.run({"verify"}, std::chrono::seconds(90));
  EXPECT_EQ(exit_code(verify), 0) << verify.output;

  const std::filesystem::path stress_run = stress.at("record").get<std::string>();
  const std::filesystem::path etcd_run = etcd.at("record").get<std::string>();
  const std::filesystem::path page = etcd_env.root() / "compare.html";
  const RunResult compare =
      etcd_env.run({"compare", stress_run.string(), etcd_run.string(), "--out", page.string()});
  ASSERT_EQ(exit_code(compare), 0) << compare.output;
  const std::string html = read_file(page);
  EXPECT_EQ(cell(html, "system", 0), "stress_node");
  EXPECT_EQ(cell(html, "system", 1), "etcd");
  EXPECT_EQ(cell(html, "seed", 0), kSeed);
  EXPECT_EQ(cell(html, "seed", 1), kSeed);
  EXPECT_NE(cell(html, "command_line", 1).find("storm --system etcd --duration 6s"),
            std::string::npos)
      << cell(html, "command_line", 1);
  for (int run = 0; run < 2; ++run) {
    const Json& summary = run == 0 ? stress : etcd;
    const std::filesystem::path history = (run == 0 ? stress_run : etcd_run) / "history.jsonl";
    EXPECT_EQ(cell(html, "ok", run), std::to_string(history_outcomes(history, "ok")));
    EXPECT_EQ(cell(html, "fail", run), std::to_string(history_outcomes(history, "fail")));
    EXPECT_EQ(cell(html, "unknown", run), std::to_string(history_outcomes(history, "unknown")));
    EXPECT_EQ(cell(html, "requests", run), summary["requests"].dump());
    EXPECT_EQ(cell(html, "verdict", run).rfind("linearizable (", 0), 0u)
        << cell(html, "verdict", run);
  }
  EXPECT_EQ(cell(html, "verify", 0).rfind("not recorded", 0), 0u) << cell(html, "verify", 0);
  EXPECT_EQ(cell(html, "verify", 1).rfind("PASS, hashes match", 0), 0u) << cell(html, "verify", 1);
  EXPECT_EQ(count_of(html, "data-chart=\"throughput\""), 2u);
  EXPECT_EQ(count_of(html, "data-chart=\"latency\""), 2u);
  // Each storm killed at least one node: its window is shaded on its charts.
  EXPECT_GE(count_of(html, "class=\"fault-band"), 4u) << "a window on each of the four charts";
  EXPECT_EQ(html.find("http://"), std::string::npos) << "self-contained: nothing fetched";
  EXPECT_NE(compare.output.find("etcd storm"), std::string::npos) << compare.output;

  // Bad input: one line, non-zero.
  const RunResult one = etcd_env.run({"compare", etcd_run.string()});
  EXPECT_EQ(exit_code(one), 2) << one.output;
  const RunResult missing =
      etcd_env.run({"compare", etcd_run.string(), (etcd_env.root() / "nope").string()});
  EXPECT_EQ(exit_code(missing), 3) << missing.output;
  EXPECT_EQ(count_of(missing.output, "\n"), 1u) << missing.output;
  const RunResult not_run = etcd_env.run({"compare", etcd_run.string(), etcd_env.root().string()});
  EXPECT_EQ(exit_code(not_run), 3) << not_run.output;
  EXPECT_NE(not_run.output.find("is not a run directory"), std::string::npos) << not_run.output;
}

}  // namespace
}  // namespace integration
