// The HTML report (issue 5 "Report", report.h) rendered from hand-made histories: one <svg> per
// chart, one shaded band per fault window on each, one role segment per role line, the
// verdict, escaped text, nothing fetched from the network, and a deterministic sample of the
// points of a big history.
#include "bombarder/history/report.h"

#include <gtest/gtest.h>

#include <sstream>

namespace bombarder {
namespace {

size_t count_of(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The <svg ...>...</svg> elements of a page, in order.
std::vector<std::string> charts_of(const std::string& html) {
  std::vector<std::string> charts;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    const size_t end = html.find("</svg>", at);
    if (end == std::string::npos) break;
    charts.push_back(html.substr(at, end - at));
  }
  return charts;
}

// Five seconds of a 3-node run: ops with every outcome; node 1 SIGKILLed at 1.0 s and restarted
// at 1.8 s, the leader (node 0) SIGTERMed at 3.0 s and never restarted, a skipped kill; the roles
// the sampler would have seen (8 lines). Parsed from JSONL, as `bombarder report` reads it.
constexpr const char* kHistory = R"(
{"type":"role","node":0,"address":"127.0.0.1:8080","at_ns":50000000,"role":"leader","term":1}
{"type":"role","node":1,"address":"127.0.0.1:8081","at_ns":50000000,"role":"follower","term":1}
{"type":"role","node":2,"address":"127.0.0.1:8082","at_ns":50000000,"role":"follower","term":1}
{"type":"op","client":0,"op":"create","id":"a","key":"k","value":"v1","invoke_ns":100000000,"complete_ns":102000000,"outcome":"ok","result":{"id":"a"},"status":201,"attempts":1}
{"type":"op","client":1,"op":"read","id":"a","key":null,"value":null,"invoke_ns":200000000,"complete_ns":201000000,"outcome":"ok","result":{"value":"v1"},"status":200,"attempts":1}
{"type":"fault","action":"sigkill","node":1,"address":"127.0.0.1:8081","at_ns":1000000000,"detail":"follower pid 41: <script>alert('x')</script> & more"}
{"type":"role","node":1,"address":"127.0.0.1:8081","at_ns":1050000000,"role":"down","term":null}
{"type":"op","client":0,"op":"update","id":"a","key":null,"value":"v2","invoke_ns":1100000000,"complete_ns":1500000000,"outcome":"ok","result":{},"status":200,"attempts":3}
{"type":"op","client":2,"op":"update","id":"b","key":null,"value":"w","invoke_ns":1200000000,"complete_ns":1300000000,"outcome":"fail","result":{},"status":404,"attempts":1,"error":"404 not_found"}
{"type":"fault","action":"restart","node":1,"address":"127.0.0.1:8081","at_ns":1800000000,"detail":"pid 42 serving after 300 ms"}
{"type":"role","node":1,"address":"127.0.0.1:8081","at_ns":1900000000,"role":"follower","term":1}
{"type":"op","client":1,"op":"read","id":"a","key":null,"value":null,"invoke_ns":2000000000,"complete_ns":2003000000,"outcome":"ok","result":{"value":"v2"},"status":200,"attempts":1}
{"type":"fault","action":"sigterm","node":0,"address":"127.0.0.1:8080","at_ns":3000000000,"detail":"leader pid 40: stopped (SIGTERM) in 20 ms"}
{"type":"role","node":0,"address":"127.0.0.1:8080","at_ns":3050000000,"role":"down","term":null}
{"type":"op","client":3,"op":"create","id":null,"key":"k2","value":"v3","invoke_ns":3100000000,"complete_ns":4100000000,"outcome":"unknown","result":{},"status":504,"attempts":2,"error":"504 commit_timeout"}
{"type":"role","node":2,"address":"127.0.0.1:8082","at_ns":3300000000,"role":"candidate","term":2}
{"type":"role","node":2,"address":"127.0.0.1:8082","at_ns":3500000000,"role":"leader","term":2}
{"type":"fault","action":"skip","node":0,"address":"","at_ns":4000000000,"detail":"no running node matches the target"}
{"type":"op","client":1,"op":"delete","id":"a","key":null,"value":null,"invoke_ns":4200000000,"complete_ns":4300000000,"outcome":"ok","result":{},"status":204,"attempts":1}
)";

History parse(const std::string& text) {
  std::istringstream in(text);
  return parse_history(in);
}

TEST(Report, FaultWindowsRunFromAStopToTheNodesRestartOrTheEnd) {
  const History h = parse(kHistory);
  ASSERT_EQ(h.faults.size(), 4u);
  ASSERT_EQ(h.roles.size(), 8u);
  const auto [begin_ns, end_ns] = history_span_ns(h);
  EXPECT_EQ(begin_ns, 0);
  EXPECT_EQ(end_ns, 4'300'000'000);
  const std::vector<FaultWindow> windows = fault_windows(h.faults, end_ns);
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_EQ(windows[0].node, 1u);
  EXPECT_EQ(windows[0].action, "sigkill");
  EXPECT_EQ(windows[0].begin_ns, 1'000'000'000);
  EXPECT_EQ(windows[0].end_ns, 1'800'000'000);
  EXPECT_FALSE(windows[0].open_ended);
  EXPECT_EQ(windows[1].node, 0u);
  EXPECT_EQ(windows[1].end_ns, end_ns);
  EXPECT_TRUE(windows[1].open_ended);

  // A second stop of a node already down opens no window; a restart without a stop closes none.
  std::vector<HistoryFault> faults = {{"restart", 2, "", 5, ""},
                                      {"sigkill", 2, "", 10, ""},
                                      {"sigterm", 2, "", 20, ""},
                                      {"restart", 2, "", 30, ""}};
  const std::vector<FaultWindow> once = fault_windows(faults, 100);
  ASSERT_EQ(once.size(), 1u);
  EXPECT_EQ(once[0].begin_ns, 10);
  EXPECT_EQ(once[0].end_ns, 30);
}

// kHistory's roles chart: three lanes, one segment per role line.
void expect_role_lanes(const std::string& roles) {
  EXPECT_EQ(count_of(roles, "class=\"lane\""), 3u);
  EXPECT_EQ(count_of(roles, "class=\"role-seg "), 8u);
  EXPECT_EQ(count_of(roles, "class=\"role-seg role-leader\""), 2u);
  EXPECT_EQ(count_of(roles, "class=\"role-seg role-follower\""), 3u);
  EXPECT_EQ(count_of(roles, "class=\"role-seg role-down\""), 2u);
  EXPECT_EQ(count_of(roles, "class=\"role-seg role-candidate\""), 1u);
  EXPECT_NE(roles.find("node 2 leader term 2, 3.50 s - 4.30 s"), std::string::npos);
}

// Text from the history and the summary is escaped; the page has no script and fetches nothing.
void expect_escaped_and_self_contained(const std::string& html) {
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"),
            std::string::npos);
  EXPECT_NE(html.find("random ops on 3 nodes &lt;script&gt;x&lt;/script&gt;"), std::string::npos);

  // Self-contained: nothing to fetch.
  for (const char* remote : {"http://", "https://", "src=", "href=", "url(", "@import", "//cdn"}) {
    EXPECT_EQ(html.find(remote), std::string::npos) << remote;
  }
}

TEST(Report, HasOneSvgPerChartWithTheFaultBandsRoleLanesAndVerdict) {
  const History h = parse(kHistory);
  const CheckResult check = check_history(h);
  ASSERT_EQ(check.verdict, Verdict::kOk);
  nlohmann::json summary = {{"command", "storm"},
                            {"run_id", "20261202T010000-storm-1"},
                            {"requests", 6},
                            {"target", "random ops on 3 nodes <script>x</script>"}};
  const std::string html = render_report(h, summary, check);

  const std::vector<std::string> charts = charts_of(html);
  ASSERT_EQ(charts.size(), 4u);
  EXPECT_EQ(count_of(html, "<svg"), 4u);
  EXPECT_EQ(count_of(html, "</svg>"), 4u);
  const char* names[] = {"throughput", "latency", "requests", "roles"};
  for (size_t i = 0; i < charts.size(); ++i) {
    SCOPED_TRACE(names[i]);
    EXPECT_NE(charts[i].find(std::string("data-chart=\"") + names[i] + "\""), std::string::npos);
    // Every chart shades both windows: the kill of node 1 and the never-restarted node 0.
    EXPECT_EQ(count_of(charts[i], "class=\"fault-band "), 2u);
    EXPECT_EQ(count_of(charts[i], "class=\"fault-band fault-sigkill\" data-node=\"1\""), 1u);
    EXPECT_EQ(count_of(charts[i], "class=\"fault-band fault-sigterm\" data-node=\"0\""), 1u);
    EXPECT_EQ(count_of(charts[i], "class=\"fault-mark\""), 1u);  // the skip
  }

  // Throughput: bars of each outcome. Requests: one path per outcome with its point count.
  EXPECT_GE(count_of(charts[0], "class=\"bar ok\""), 3u);
  EXPECT_EQ(count_of(charts[0], "class=\"bar fail\""), 1u);
  EXPECT_EQ(count_of(charts[0], "class=\"bar unknown\""), 1u);
  EXPECT_EQ(count_of(charts[1], "class=\"pline p50\""), 1u);
  EXPECT_EQ(count_of(charts[1], "class=\"pline p99\""), 1u);
  EXPECT_NE(charts[2].find("class=\"points ok\" data-count=\"5\""), std::string::npos);
  EXPECT_NE(charts[2].find("class=\"points fail\" data-count=\"1\""), std::string::npos);
  EXPECT_NE(charts[2].find("class=\"points unknown\" data-count=\"1\""), std::string::npos);

  expect_role_lanes(charts[3]);

  // Summary and verdict.
  EXPECT_NE(html.find("<title>bombarder storm 20261202T010000-storm-1</title>"), std::string::npos);
  EXPECT_NE(html.find("id=\"verdict\">Verdict: linearizable</p>"), std::string::npos);
  EXPECT_NE(html.find("ok 5 (71.43%), fail 1 (14.29%), unknown 1 (14.29%)"), std::string::npos);
  EXPECT_NE(html.find("node 0 in term 1, node 2 in term 2"), std::string::npos);
  EXPECT_NE(html.find("id=\"run-summary\""), std::string::npos);
  EXPECT_NE(html.find("id=\"faults\""), std::string::npos);

  expect_escaped_and_self_contained(html);
}

TEST(Report, AViolationShowsTheFailingId) {
  // A stale read: v2 acknowledged at 30 ns, a read invoked at 40 ns returns v1.
  const History h = parse(
      R"({"type":"op","client":0,"op":"create","id":"a","key":"k","value":"v1","invoke_ns":0,"complete_ns":10,"outcome":"ok","result":{"id":"a"},"status":201}
{"type":"op","client":0,"op":"update","id":"a","key":null,"value":"v2","invoke_ns":20,"complete_ns":30,"outcome":"ok","result":{},"status":200}
{"type":"op","client":1,"op":"read","id":"a","key":null,"value":null,"invoke_ns":40,"complete_ns":50,"outcome":"ok","result":{"value":"v1"},"status":200}
)");
  const CheckResult check = check_history(h);
  ASSERT_EQ(check.verdict, Verdict::kViolation);
  const std::string html = render_report(h, std::nullopt, check);
  EXPECT_NE(html.find("class=\"verdict verdict-violation\" id=\"verdict\">Verdict: NOT "
                      "linearizable (1 of 1 ids violate)"),
            std::string::npos);
  EXPECT_NE(html.find("smallest failing id a"), std::string::npos);
  EXPECT_NE(html.find("No run summary"), std::string::npos);
  EXPECT_NE(html.find("This history has no role lines"), std::string::npos);
  EXPECT_EQ(charts_of(html).size(), 4u);

  const std::string unchecked = render_report(h, std::nullopt, std::nullopt);
  EXPECT_NE(unchecked.find("id=\"verdict\">Not checked"), std::string::npos);
}

TEST(Report, ABigHistoryIsSampledDeterministicallyAndSaysSo) {
  // 30,000 ok operations over 60 s and 300 failed ones: more than the 20,000-point budget.
  History h;
  for (size_t i = 0; i < 30000; ++i) {
    HistoryOp op;
    op.client = i % 50;
    op.kind = OpKind::kRead;
    op.id = "id-" + std::to_string(i);
    op.read_absent = true;
    op.invoke_ns = static_cast<int64_t>(i) * 2'000'000;
    op.complete_ns = op.invoke_ns + 1'000'000 + static_cast<int64_t>(i % 97) * 100'000;
    op.outcome = i % 100 == 0 ? Outcome::kFail : Outcome::kOk;
    h.ops.push_back(op);
  }
  ReportOptions options;
  options.max_points = 20000;
  const std::string html = render_report(h, std::nullopt, std::nullopt, options);
  EXPECT_EQ(html, render_report(h, std::nullopt, std::nullopt, options));
  EXPECT_NE(html.find("a deterministic sample of 20000 of 30000 requests (at most 20000): 19700 "
                      "of the 29700 ok ones, all 300 failed or unknown ones, evenly spaced"),
            std::string::npos)
      << html.substr(html.find("points-note"), 300);
  EXPECT_NE(html.find("class=\"points ok\" data-count=\"19700\""), std::string::npos);
  EXPECT_NE(html.find("class=\"points fail\" data-count=\"300\""), std::string::npos);
  EXPECT_EQ(count_of(html, "class=\"fault-band "), 0u);

  // Only ok requests, over a small budget: the note says there were no others.
  History ok_only;
  for (const HistoryOp& op : h.ops) {
    if (op.outcome == Outcome::kOk) ok_only.ops.push_back(op);
  }
  options.max_points = 100;
  EXPECT_NE(render_report(ok_only, std::nullopt, std::nullopt, options)
                .find(": 100 of the 29700 ok ones, no failed or unknown ones, evenly spaced"),
            std::string::npos);

  // A run longer than max_bins seconds gets wider bins, and says so.
  options.max_bins = 25;  // 60 s in at most 25 bins: 3 s each
  const std::string coarse = render_report(h, std::nullopt, std::nullopt, options);
  EXPECT_NE(coarse.find("<h2>Throughput per 3 seconds, by outcome</h2>"), std::string::npos);
  EXPECT_LE(count_of(coarse, "<g class=\"bin\">"), 25u);
  EXPECT_GE(count_of(coarse, "<g class=\"bin\">"), 20u);
}

TEST(Report, HtmlEscapeCoversMarkupAndQuotes) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

}  // namespace
}  // namespace bombarder
