// `bombarder compare` (issue 18 "Side by side", compare.h) on two hand-made run directories: the
// numbers in the page are the run records' (outcome counts from the histories, seed, system,
// command line, verdicts, verify), the charts of both runs share one time axis and one value
// scale per kind, fault windows are shaded on the run that had them, and what is not a run is
// refused with one line.
#include "bombarder/history/compare.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "bombarder/base/errors.h"
#include "bombarder/history/report.h"

namespace bombarder {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string op_line(uint64_t client, const std::string& id, int64_t invoke_ms, int64_t latency_ms,
                    const char* outcome) {
  return Json{{"type", "op"},
              {"client", client},
              {"op", "read"},
              {"id", id},
              {"key", nullptr},
              {"value", nullptr},
              {"invoke_ns", invoke_ms * 1'000'000},
              {"complete_ns", (invoke_ms + latency_ms) * 1'000'000},
              {"outcome", outcome},
              {"result", std::string(outcome) == "ok" ? Json{{"value", "v"}} : Json::object()},
              {"status", std::string(outcome) == "ok" ? 200 : 503},
              {"attempts", 1}}
      .dump();
}

// Run 0 (stress_node): 3 s, 12 ok (2 ms each, 10 of them completed in second 0), 2 failed,
// 1 unknown; node 1 SIGKILLed at 1 s and restarted at 2 s.
// Run 1 (etcd): 30 ok in second 1 (the highest bin of both: 30 req/s), 5 ms each, and one
// invoked at 4.9 s that takes 2 s (the run ends at 6.9 s); no fault.
struct Fixture {
  fs::path root;
  fs::path run0, run1;
};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

Fixture make_runs(const std::string& name) {
  Fixture f;
  f.root = fs::path(::testing::TempDir()) / ("compare_test_" + name);
  fs::remove_all(f.root);
  f.run0 = f.root / "runs" / "20261207T100000-storm-1";
  f.run1 = f.root / "runs" / "20261207T100100-storm-2";
  fs::create_directories(f.run0);
  fs::create_directories(f.run1);
  std::string h0;
  for (int i = 0; i < 10; ++i) h0 += op_line(0, "a", 10 + i * 50, 2, "ok") + "\n";
  h0 += op_line(1, "a", 2100, 2, "ok") + "\n" + op_line(1, "a", 2200, 2, "ok") + "\n";
  h0 += op_line(2, "a", 1100, 3, "fail") + "\n" + op_line(2, "a", 1300, 3, "fail") + "\n";
  h0 += op_line(3, "a", 2500, 400, "unknown") + "\n";
  h0 +=
      R"({"type":"fault","action":"sigkill","node":1,"address":"127.0.0.1:8081","at_ns":1000000000,"detail":"follower pid 41"})"
      "\n"
      R"({"type":"fault","action":"restart","node":1,"address":"127.0.0.1:8081","at_ns":2000000000,"detail":"pid 42"})"
      "\n";
  write_file(f.run0 / "history.jsonl", h0);
  std::string h1;
  for (int i = 0; i < 30; ++i) h1 += op_line(0, "b", 1000 + i * 30, 5, "ok") + "\n";
  h1 += op_line(0, "b", 4900, 2000, "ok") + "\n";
  write_file(f.run1 / "history.jsonl", h1);
  const Json check = {{"verdict", "linearizable"}, {"ids", 1}, {"ops_checked", 13}};
  write_file(f.run0 / "summary.json",
             Json{{"command", "storm"},
                  {"run_id", "20261207T100000-storm-1"},
                  {"seed", 18},
                  {"requests", 15},
                  {"throughput_rps", 5.0},
                  {"latency", {{"p50_ms", 2.0}, {"p99_ms", 400.0}, {"max_ms", 400.0}}},
                  {"command_line", {"bombarder", "storm", "--seed", "18", "<script>"}},
                  {"chaos", Json::array({Json::object(), Json::object()})},
                  {"check", check}}
                 .dump());
  const Json violation = {
      {"verdict", "violation"}, {"ids", 4}, {"ids_violation", 1}, {"ops_checked", 31}};
  write_file(f.run1 / "summary.json", Json{{"command", "storm"},
                                           {"run_id", "20261207T100100-storm-2"},
                                           {"system", "etcd"},
                                           {"read_consistency", "serializable"},
                                           {"seed", 18},
                                           {"requests", 31},
                                           {"check", violation}}
                                          .dump());
  write_file(f.run1 / "verify.json",
             Json{{"passed", false},
                  {"hashes_match", true},
                  {"acked",
                   {{"acknowledged_ids", 7},
                    {"nodes",
                     {{"127.0.0.1:1", {{"missing", 1}, {"wrong_value", 0}}},
                      {"127.0.0.1:2", {{"missing", 2}, {"wrong_value", 1}}}}}}}}
                 .dump());
  return f;
}

// The text of the cell of `field` for run `run` in the runs table.
std::string cell(const std::string& html, const std::string& field, int run) {
  const size_t row = html.find("<tr data-field=\"" + field + "\">");
  if (row == std::string::npos) return "<no row " + field + ">";
  const std::string open = "<td data-run=\"" + std::to_string(run) + "\"";
  const size_t td = html.find(open, row);
  const size_t text = html.find('>', td) + 1;
  return html.substr(text, html.find("</td>", text) - text);
}

std::vector<std::string> charts_named(const std::string& html, const std::string& name) {
  std::vector<std::string> charts;
  const std::string open = "<svg class=\"chart\" data-chart=\"" + name + "\"";
  for (size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
    charts.push_back(html.substr(at, html.find("</svg>", at) - at));
  }
  return charts;
}

// The y tick labels of a chart, top to bottom as written.
std::vector<std::string> y_labels(const std::string& chart) {
  std::vector<std::string> labels;
  const std::regex tick(R"(class="tick" x="[0-9.]+" y="[0-9.]+" text-anchor="end">([^<]*)</text>)");
  for (auto it = std::sregex_iterator(chart.begin(), chart.end(), tick);
       it != std::sregex_iterator(); ++it) {
    labels.push_back((*it)[1]);
  }
  return labels;
}

TEST(Compare, TheRunsTableShowsEachRunsRecordedNumbers) {
  const Fixture f = make_runs("table");
  const std::string html = render_compare({load_compared_run(f.run0), load_compared_run(f.run1)});
  EXPECT_EQ(cell(html, "system", 0), "stress_node");
  EXPECT_EQ(cell(html, "system", 1), "etcd");
  EXPECT_EQ(cell(html, "seed", 0), "18");
  EXPECT_EQ(cell(html, "seed", 1), "18");
  EXPECT_EQ(cell(html, "read_consistency", 1), "serializable");
  EXPECT_EQ(cell(html, "ok", 0), "12");
  EXPECT_EQ(cell(html, "fail", 0), "2");
  EXPECT_EQ(cell(html, "unknown", 0), "1");
  EXPECT_EQ(cell(html, "ok", 1), "31");
  EXPECT_EQ(cell(html, "unknown", 1), "0");
  EXPECT_EQ(cell(html, "requests", 1), "31");
  EXPECT_EQ(cell(html, "throughput_rps", 0), "5.0 req/s");
  EXPECT_EQ(cell(html, "p99_ms", 0), "400.00 ms");
  EXPECT_EQ(cell(html, "p99_ms", 1), "-");
  EXPECT_EQ(cell(html, "chaos", 0), "2");
  // Escaped, never markup.
  EXPECT_EQ(cell(html, "command_line", 0), "bombarder storm --seed 18 &lt;script&gt;");
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(cell(html, "command_line", 1), "not recorded");
  EXPECT_EQ(cell(html, "verdict", 0), "linearizable (13 ops checked)");
  EXPECT_EQ(cell(html, "verdict", 1), "NOT linearizable: 1 of 4 ids violate (31 ops checked)");
  EXPECT_NE(html.find("<td data-run=\"1\" class=\"verdict-violation\">"), std::string::npos);
  EXPECT_EQ(cell(html, "verify", 0), "not recorded (no `bombarder verify` after this run)");
  EXPECT_EQ(cell(html, "verify", 1),
            "FAIL, hashes match, 7 acknowledged ids: missing 3, wrong value 1, resurrected 0");
}

TEST(Compare, BothRunsAreDrawnOnOneTimeAxisAndOneScalePerKind) {
  const Fixture f = make_runs("axes");
  const std::string html = render_compare({load_compared_run(f.run0), load_compared_run(f.run1)});
  const std::vector<std::string> throughput = charts_named(html, "throughput");
  const std::vector<std::string> latency = charts_named(html, "latency");
  ASSERT_EQ(throughput.size(), 2u);
  ASSERT_EQ(latency.size(), 2u);
  // Run 1's second 1 holds 30 completions, the highest bin of both runs: run 0's chart (10 req/s
  // at most) has run 1's scale too.
  EXPECT_EQ(y_labels(throughput[0]), y_labels(throughput[1]));
  EXPECT_EQ(y_labels(throughput[0]).back(), "30") << throughput[0];
  EXPECT_EQ(y_labels(latency[0]), y_labels(latency[1]));
  // Latencies from 2 ms (run 0) to 2 s (run 1): decades 1 ms to 10 s on both.
  EXPECT_EQ(y_labels(latency[0]).front(), "1 ms");
  EXPECT_EQ(y_labels(latency[0]).back(), "10 s");
  const std::regex axes(
      R"re(id="shared-axes" data-peak-rate="([0-9.]+)" data-latency-lo-ms="([0-9.e-]+)" data-latency-hi-ms="([0-9.e+]+)" data-time-end-s="([0-9.]+)")re");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, axes)) << html.substr(0, 2000);
  EXPECT_EQ(m[1], "30.0");
  EXPECT_EQ(m[2], "1");
  EXPECT_EQ(m[3], "10000");
  EXPECT_EQ(m[4], "7");  // run 1 ends at 6.9 s: whole bins to 7 s, run 0 (2.9 s) on it too
  // The same x for the same second: the time ticks of every chart are identical.
  const std::regex ticks(R"(text-anchor="middle">[^<]*</text>)");
  const auto tick_text = [&](const std::string& chart) {
    std::string all;
    for (auto it = std::sregex_iterator(chart.begin(), chart.end(), ticks);
         it != std::sregex_iterator(); ++it) {
      all += it->str();
    }
    return all;
  };
  EXPECT_EQ(tick_text(throughput[0]), tick_text(latency[1]));
  // Run 0's SIGKILL window on its two charts, none on run 1's.
  EXPECT_EQ(throughput[0].find("fault-band fault-sigkill") != std::string::npos, true);
  EXPECT_EQ(latency[0].find("fault-band fault-sigkill") != std::string::npos, true);
  EXPECT_EQ(throughput[1].find("fault-band"), std::string::npos);
  EXPECT_EQ(latency[1].find("fault-band"), std::string::npos);
}

TEST(Compare, WhatIsNotARunIsRefusedWithOneLine) {
  const Fixture f = make_runs("refused");
  try {
    (void)load_compared_run(f.root / "no-such-run");
    FAIL() << "a missing directory was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
  }
  try {
    (void)load_compared_run(f.root / "runs");
    FAIL() << "a directory without summary.json was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment);
    EXPECT_NE(std::string(e.what()).find("is not a run directory"), std::string::npos) << e.what();
  }
  write_file(f.run1 / "summary.json", "[1, 2]");
  EXPECT_THROW((void)load_compared_run(f.run1), Error);
  try {
    (void)render_compare({load_compared_run(f.run0)});
    FAIL() << "one run was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  }
}

TEST(Compare, ARunWithoutAHistoryKeepsItsColumnAndSaysWhyItHasNoChart) {
  const Fixture f = make_runs("nohistory");
  fs::remove(f.run1 / "history.jsonl");
  const std::string html = render_compare({load_compared_run(f.run0), load_compared_run(f.run1)});
  EXPECT_EQ(charts_named(html, "throughput").size(), 1u);
  EXPECT_EQ(cell(html, "ok", 1), "-");
  EXPECT_EQ(cell(html, "requests", 1), "31");
  EXPECT_NE(html.find("No history recorded"), std::string::npos);
}

}  // namespace
}  // namespace bombarder
