#include "bombarder/history/report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/history/report_charts.h"

namespace bombarder {

using Json = nlohmann::json;
// The shared drawing parts (report_charts.h): this file is their first user.
using namespace charts;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();  // an unknown op's completion

// The CSS class of a role: the node's words, anything else is "other".
std::string role_class(std::string_view role) {
  for (const char* known : {"leader", "follower", "candidate", "pre-candidate", "down"}) {
    if (role == known) return known;
  }
  return "other";
}

// Which operations the scatter draws: all of them up to `max_points`; else every failed and
// unknown one (a budget of half the points, strided if they are more) and every k-th ok one,
// in invocation order, so the same history always gives the same picture.
struct ScatterSample {
  std::vector<size_t> ops;
  std::string note;
};

ScatterSample sample_ops(const History& history, size_t max_points) {
  std::vector<size_t> ok, other;
  for (size_t i = 0; i < history.ops.size(); ++i) {
    (history.ops[i].outcome == Outcome::kOk ? ok : other).push_back(i);
  }
  const auto by_invoke = [&](size_t a, size_t b) {
    const HistoryOp& x = history.ops[a];
    const HistoryOp& y = history.ops[b];
    return std::tie(x.invoke_ns, x.client, a) < std::tie(y.invoke_ns, y.client, b);
  };
  std::sort(ok.begin(), ok.end(), by_invoke);
  std::sort(other.begin(), other.end(), by_invoke);
  ScatterSample sample;
  max_points = std::max<size_t>(max_points, 2);
  if (history.ops.size() <= max_points) {
    sample.ops = ok;
    sample.ops.insert(sample.ops.end(), other.begin(), other.end());
    sample.note = "all " + std::to_string(history.ops.size()) + " requests";
    return sample;
  }
  // Evenly spaced: the j-th of `budget` picks is from[j * n / budget].
  const auto spaced = [](const std::vector<size_t>& from, size_t budget, std::vector<size_t>& to) {
    if (from.size() <= budget) {
      to.insert(to.end(), from.begin(), from.end());
      return from.size();
    }
    for (size_t j = 0; j < budget; ++j) to.push_back(from[j * from.size() / budget]);
    return budget;
  };
  const auto part = [](size_t kept, size_t total, const char* what) {
    if (total == 0) return "no " + std::string(what) + " ones";
    return (kept == total ? "all " : std::to_string(kept) + " of the ") + std::to_string(total) +
           " " + what + " ones";
  };
  const size_t other_budget =
      ok.size() >= max_points ? max_points / 2 : std::max(max_points / 2, max_points - ok.size());
  const size_t other_kept = spaced(other, other_budget, sample.ops);
  const size_t ok_kept = spaced(ok, max_points - other_kept, sample.ops);
  sample.note = "a deterministic sample of " + std::to_string(sample.ops.size()) + " of " +
                std::to_string(history.ops.size()) + " requests (at most " +
                std::to_string(max_points) + "): " + part(ok_kept, ok.size(), "ok") + ", " +
                part(other_kept, other.size(), "failed or unknown") +
                ", evenly spaced in invocation order";
  return sample;
}

void scatter_chart(std::string& out, const History& history, const TimeAxis& axis, LogAxis y,
                   const std::vector<FaultWindow>& windows, const ScatterSample& sample) {
  Chart chart(out, axis, "requests", 360);
  y.top_px = chart.top();
  y.bottom_px = chart.bottom();
  chart.log_ticks(y);
  // One path per outcome, each point a zero-length segment drawn with a round cap: ~15 bytes a
  // point instead of ~60 for a <circle>.
  std::string paths[3];
  size_t counts[3] = {0, 0, 0};
  for (const size_t i : sample.ops) {
    const HistoryOp& op = history.ops[i];
    const size_t o = static_cast<size_t>(op.outcome);
    const double ms = op.complete_ns == kNever ? y.hi_ms : latency_ms(op);
    path_to(paths[o], 'M', axis.x(op.invoke_ns), y.y(ms));
    paths[o] += "h0";
    ++counts[o];
  }
  for (const Outcome o : {Outcome::kOk, Outcome::kUnknown, Outcome::kFail}) {
    const size_t k = static_cast<size_t>(o);
    if (counts[k] == 0) continue;
    out += "<path class=\"points " + std::string(to_string(o)) + "\" data-count=\"" +
           std::to_string(counts[k]) + "\" d=\"" + paths[k] + "\"><title>" +
           std::to_string(counts[k]) + " " + to_string(o) + " requests</title></path>\n";
  }
  // Over the data, translucent, so that a band shows also where bars or lanes fill the plot.
  chart.fault_bands(windows);
  chart.fault_marks(history.faults);
  chart.time_ticks();
  out += "<text class=\"axis-label\" x=\"12\" y=\"" + px(chart.top() + 10) + "\">latency</text>\n";
  chart.end();
}

struct Lane {
  uint64_t node = 0;
  std::string address;
  std::vector<const HistoryRole*> samples;  // by time
};

std::vector<Lane> role_lanes(const History& history) {
  std::map<uint64_t, Lane> lanes;
  for (const HistoryRole& r : history.roles) {
    Lane& lane = lanes[r.node];
    lane.node = r.node;
    if (lane.address.empty()) lane.address = r.address;
    lane.samples.push_back(&r);
  }
  for (const HistoryFault& f : history.faults) {
    if (!is_stop_action(f.action) && !is_start_action(f.action)) continue;
    Lane& lane = lanes[f.node];
    lane.node = f.node;
    if (lane.address.empty()) lane.address = f.address;
  }
  std::vector<Lane> result;
  for (auto& [node, lane] : lanes) {
    std::stable_sort(
        lane.samples.begin(), lane.samples.end(),
        [](const HistoryRole* a, const HistoryRole* b) { return a->at_ns < b->at_ns; });
    result.push_back(std::move(lane));
  }
  return result;
}

void roles_chart(std::string& out, const History& history, const TimeAxis& axis,
                 const std::vector<FaultWindow>& windows, const std::vector<Lane>& lanes) {
  constexpr double kLanePx = 30;
  constexpr double kGapPx = 8;
  const double height = kTopPx + kBottomPx + std::max<size_t>(lanes.size(), 1) * (kLanePx + kGapPx);
  Chart chart(out, axis, "roles", height);
  for (size_t l = 0; l < lanes.size(); ++l) {
    const Lane& lane = lanes[l];
    const double top = chart.top() + kGapPx / 2 + static_cast<double>(l) * (kLanePx + kGapPx);
    out += "<g class=\"lane\" data-node=\"" + std::to_string(lane.node) + "\">";
    out += "<text class=\"lane-label\" x=\"6\" y=\"" + px(top + 12) + "\">node " +
           std::to_string(lane.node) + "</text><text class=\"lane-address\" x=\"6\" y=\"" +
           px(top + 25) + "\">" + html_escape(lane.address) + "</text>\n";
    for (size_t s = 0; s < lane.samples.size(); ++s) {
      const HistoryRole& r = *lane.samples[s];
      const int64_t end_ns =
          s + 1 < lane.samples.size() ? lane.samples[s + 1]->at_ns : axis.data_end_ns;
      const double x0 = axis.x(r.at_ns);
      const double x1 = std::max(axis.x(end_ns), x0 + 0.5);
      const std::string term = r.term ? " term " + std::to_string(*r.term) : "";
      out += "<rect class=\"role-seg role-" + role_class(r.role) + "\" x=\"" + px(x0) + "\" y=\"" +
             px(top) + "\" width=\"" + px(x1 - x0) + "\" height=\"" + px(kLanePx) + "\"><title>" +
             html_escape("node " + std::to_string(lane.node) + " " + r.role + term + ", " +
                         seconds_text(r.at_ns) + " - " + seconds_text(end_ns)) +
             "</title></rect>";
      if (x1 - x0 > 70) {
        out += "<text class=\"seg-label\" x=\"" + px(x0 + 4) + "\" y=\"" + px(top + 19) + "\">" +
               html_escape(r.role + (r.term ? " t" + std::to_string(*r.term) : "")) + "</text>";
      }
      out += "\n";
    }
    out += "</g>\n";
  }
  // Over the data, translucent, so that a band shows also where bars or lanes fill the plot.
  chart.fault_bands(windows);
  chart.fault_marks(history.faults);
  chart.time_ticks();
  chart.end();
}

void table_row(std::string& out, std::string_view key, std::string_view value) {
  out += "<tr><th>" + html_escape(key) + "</th><td>" + html_escape(value) + "</td></tr>\n";
}

std::string json_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return printf_text("%.6g", v.get<double>());
  if (v.is_object()) {
    std::string text;
    for (const auto& [k, item] : v.items()) {
      if (item.is_number() && item == 0 && !k.ends_with("_ms")) continue;  // zero failure counts
      if (!text.empty()) text += ", ";
      text += k + " " + json_text(item);
    }
    return text.empty() ? "none" : text;
  }
  if (v.is_array()) {
    std::string text;
    for (const Json& item : v) {
      if (!text.empty()) text += ", ";
      text += item.is_primitive() ? json_text(item) : std::string("{...}");
    }
    return text;
  }
  return v.dump();
}

void run_summary_table(std::string& out, const Json& summary) {
  // The fields people look for first, then the others; chaos and check have sections of their
  // own, operations is the per-kind table.
  static const char* const kFirst[] = {
      "command",   "run_id",  "target",      "concurrency",     "elapsed_s", "requests",
      "succeeded", "failed",  "success_pct", "min_success_pct", "passed",    "throughput_rps",
      "latency",   "retries", "attempts",    "creates_unknown", "failures",  "answers",
      "seed",      "nodes",   "history",     "acked_ids"};
  const std::set<std::string> skip = {"chaos", "check", "operations"};
  std::set<std::string> done;
  out += "<table class=\"kv\" id=\"run-summary\">\n";
  for (const char* key : kFirst) {
    if (!summary.contains(key)) continue;
    table_row(out, key, json_text(summary[key]));
    done.insert(key);
  }
  for (const auto& [key, value] : summary.items()) {
    if (done.count(key) != 0 || skip.count(key) != 0) continue;
    table_row(out, key, json_text(value));
  }
  out += "</table>\n";
}

// What the history's operations add up to, by outcome and by kind.
struct OpCounts {
  size_t by_outcome[3] = {0, 0, 0};
  size_t kind_outcome[kOpKindCount][3] = {};
  std::vector<double> ok_ms[kOpKindCount];  // latencies of ok operations, by kind
  std::vector<double> all_ok_ms;
};

OpCounts count_ops(const History& history) {
  OpCounts c;
  for (const HistoryOp& op : history.ops) {
    const size_t o = static_cast<size_t>(op.outcome);
    const size_t k = static_cast<size_t>(op.kind);
    ++c.by_outcome[o];
    ++c.kind_outcome[k][o];
    if (op.outcome == Outcome::kOk) {
      c.ok_ms[k].push_back(latency_ms(op));
      c.all_ok_ms.push_back(latency_ms(op));
    }
  }
  return c;
}

// "node 1 in term 2, node 0 in term 3": every leader the role lines saw, by term.
std::string leaders_seen(const History& history) {
  std::string leaders;
  std::set<std::pair<uint64_t, uint64_t>> seen;  // (term, node)
  for (const HistoryRole& r : history.roles) {
    if (r.role == "leader" && r.term) seen.insert({*r.term, r.node});
  }
  for (const auto& [term, node] : seen) {
    leaders += (leaders.empty() ? "" : ", ") + printf_text("node %llu in term %llu",
                                                           static_cast<unsigned long long>(node),
                                                           static_cast<unsigned long long>(term));
  }
  return leaders;
}

void by_operation_table(std::string& out, OpCounts& c) {
  out +=
      "<table class=\"grid-table\" id=\"by-operation\"><tr><th>operation</th><th>ok</th>"
      "<th>fail</th><th>unknown</th><th>p50 (ok)</th><th>p99 (ok)</th><th>max (ok)</th></tr>\n";
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const size_t total = c.kind_outcome[k][0] + c.kind_outcome[k][1] + c.kind_outcome[k][2];
    if (total == 0) continue;
    out += "<tr><td>" + html_escape(to_string(static_cast<OpKind>(k))) + "</td>";
    for (size_t o = 0; o < 3; ++o) out += "<td>" + std::to_string(c.kind_outcome[k][o]) + "</td>";
    for (const double p : {50.0, 99.0, 100.0}) {
      out += "<td>" +
             (c.ok_ms[k].empty() ? std::string("-") : latency_text(percentile(c.ok_ms[k], p))) +
             "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
}

void history_tables(std::string& out, const History& history, const TimeAxis& axis,
                    const std::vector<FaultWindow>& windows) {
  OpCounts c = count_ops(history);  // percentile() reorders the latencies
  const double n = std::max<double>(1, static_cast<double>(history.ops.size()));
  out += "<table class=\"kv\" id=\"history-summary\">\n";
  table_row(out, "time span",
            seconds_text(axis.begin_ns) + " - " + seconds_text(axis.data_end_ns) + " (bins of " +
                printf_text("%g", static_cast<double>(axis.bin_ns) / 1e9) + " s)");
  table_row(out, "operations", std::to_string(history.ops.size()));
  table_row(out, "outcomes",
            printf_text("ok %zu (%.2f%%), fail %zu (%.2f%%), unknown %zu (%.2f%%)", c.by_outcome[0],
                        100.0 * static_cast<double>(c.by_outcome[0]) / n, c.by_outcome[1],
                        100.0 * static_cast<double>(c.by_outcome[1]) / n, c.by_outcome[2],
                        100.0 * static_cast<double>(c.by_outcome[2]) / n));
  if (!c.all_ok_ms.empty()) {
    std::string text;
    for (const double p : {50.0, 90.0, 99.0, 99.9, 100.0}) {
      text += (p == 100.0 ? std::string("max ") : printf_text("p%g ", p)) +
              latency_text(percentile(c.all_ok_ms, p)) + (p == 100.0 ? "" : ", ");
    }
    table_row(out, "latency of ok requests", text);
  }
  table_row(out, "faults",
            std::to_string(history.faults.size()) + " actions, " + std::to_string(windows.size()) +
                " fault windows");
  table_row(out, "role samples",
            std::to_string(history.roles.size()) + " changes recorded" +
                (history.roles.empty() ? " (none: the history has no role lines)" : ""));
  const std::string leaders = leaders_seen(history);
  if (!leaders.empty()) table_row(out, "leaders seen", leaders);
  out += "</table>\n";
  by_operation_table(out, c);
}

void faults_table(std::string& out, const History& history) {
  std::vector<const HistoryFault*> faults;
  for (const HistoryFault& f : history.faults) faults.push_back(&f);
  std::stable_sort(faults.begin(), faults.end(), [](const HistoryFault* a, const HistoryFault* b) {
    return a->at_ns < b->at_ns;
  });
  if (faults.empty()) {
    out += "<p>No faults were recorded.</p>\n";
    return;
  }
  out +=
      "<table class=\"grid-table\" id=\"faults\"><tr><th>time</th><th>action</th><th>node</th>"
      "<th>address</th><th>detail</th></tr>\n";
  for (const HistoryFault* f : faults) {
    out += "<tr><td>" + seconds_text(f->at_ns) + "</td><td>" + html_escape(f->action) +
           "</td><td>" + std::to_string(f->node) + "</td><td>" + html_escape(f->address) +
           "</td><td>" + html_escape(f->detail) + "</td></tr>\n";
  }
  out += "</table>\n";
}

void verdict_section(std::string& out, const History& history,
                     const std::optional<CheckResult>& check) {
  out += "<h2>Linearizability</h2>\n";
  if (!check) {
    out +=
        "<p class=\"verdict verdict-none\" id=\"verdict\">Not checked (run <code>bombarder "
        "report HISTORY</code> without --no-check, or the load with --check).</p>\n";
    return;
  }
  std::string headline;
  switch (check->verdict) {
    case Verdict::kOk: headline = "Verdict: linearizable"; break;
    case Verdict::kViolation:
      headline = "Verdict: NOT linearizable (" + std::to_string(check->ids_violation) + " of " +
                 std::to_string(check->ids) + " ids violate)";
      break;
    case Verdict::kUnknown:
      headline = "Verdict: unknown (the search did not finish for " +
                 std::to_string(check->ids_unknown) + " ids)";
      break;
  }
  out += "<p class=\"verdict verdict-" + std::string(to_string(check->verdict)) +
         "\" id=\"verdict\">" + html_escape(headline) + "</p>\n<pre class=\"check\">" +
         html_escape(describe_check(history, *check)) + "</pre>\n";
}

std::string page_title(const std::optional<Json>& summary, const ReportOptions& options) {
  if (!options.title.empty()) return options.title;
  std::string title = "bombarder run";
  if (summary && summary->is_object()) {
    if (summary->contains("command") && (*summary)["command"].is_string()) {
      title = "bombarder " + (*summary)["command"].get<std::string>();
    }
    if (summary->contains("run_id") && (*summary)["run_id"].is_string()) {
      title += " " + (*summary)["run_id"].get<std::string>();
    }
  }
  return title;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::vector<FaultWindow> fault_windows(const std::vector<HistoryFault>& faults, int64_t end_ns) {
  std::vector<const HistoryFault*> ordered;
  for (const HistoryFault& f : faults) ordered.push_back(&f);
  std::stable_sort(
      ordered.begin(), ordered.end(),
      [](const HistoryFault* a, const HistoryFault* b) { return a->at_ns < b->at_ns; });
  std::vector<FaultWindow> windows;
  std::map<uint64_t, size_t> open;  // node -> its open window
  for (const HistoryFault* f : ordered) {
    if (is_stop_action(f->action)) {
      if (open.count(f->node) != 0) continue;  // already down: the first stop's window goes on
      open[f->node] = windows.size();
      windows.push_back({f->node, f->address, f->action, f->detail, f->at_ns, end_ns, true});
    } else if (is_start_action(f->action)) {
      const auto it = open.find(f->node);
      if (it == open.end()) continue;
      windows[it->second].end_ns = f->at_ns;
      windows[it->second].open_ended = false;
      open.erase(it);
    }
  }
  return windows;
}

std::pair<int64_t, int64_t> history_span_ns(const History& history) {
  int64_t begin = 0;
  int64_t end = 0;
  for (const HistoryOp& op : history.ops) {
    begin = std::min(begin, op.invoke_ns);
    end = std::max(end, completion_or_invoke(op));
  }
  for (const HistoryFault& f : history.faults) {
    begin = std::min(begin, f.at_ns);
    end = std::max(end, f.at_ns);
  }
  for (const HistoryRole& r : history.roles) {
    begin = std::min(begin, r.at_ns);
    end = std::max(end, r.at_ns);
  }
  return {begin, end};
}

namespace {

// <head>, the title, the counts line and the verdict banner.
void page_head(std::string& out, const std::string& title, const History& history, size_t windows,
               const std::optional<CheckResult>& check, const ReportOptions& options) {
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(title) + "</title>\n";
  out += style_sheet();
  out += "</head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n";
  out +=
      "<p class=\"sub\">" +
      html_escape(std::to_string(history.ops.size()) + " operations, " +
                  std::to_string(history.faults.size()) + " fault actions (" +
                  std::to_string(windows) + " windows), " + std::to_string(history.roles.size()) +
                  " role changes" + (options.source.empty() ? "" : ", from " + options.source)) +
      "</p>\n";
  if (check) {
    out += "<p class=\"verdict verdict-" + std::string(to_string(check->verdict)) + "\">" +
           html_escape(check->verdict == Verdict::kOk          ? "linearizable"
                       : check->verdict == Verdict::kViolation ? "NOT linearizable"
                                                               : "linearizability unknown") +
           "</p>\n";
  }
}

// The throughput, latency and every-request charts with their headings and notes.
void request_charts(std::string& out, const History& history, const TimeAxis& axis,
                    const std::vector<FaultWindow>& windows, const std::string& bin_text,
                    const ReportOptions& options) {
  const LogAxis latency = latency_axis(history);
  const ScatterSample sample = sample_ops(history, options.max_points);
  out += "<h2>Throughput per " + bin_text + ", by outcome</h2>\n";
  out += legend({{"#43a047", "ok"},
                 {"#fb8c00", "unknown"},
                 {"#e53935", "fail"},
                 {"rgba(229,57,53,0.3)", "SIGKILL window"},
                 {"rgba(251,140,0,0.3)", "SIGTERM window"}});
  out +=
      "<p class=\"note\">Requests completed in each bin, stacked by outcome. Shaded on every "
      "chart: from the chaos action that stopped a node (recorded once it was down) to its "
      "restart (recorded once it served again), or to the end.</p>\n";
  throughput_chart(out, history, axis, windows);

  out += "<h2>Latency per " + bin_text + " (p50, p99 of ok requests)</h2>\n";
  out += legend({{"#1e88e5", "p50"}, {"#6a1b9a", "p99"}});
  out +=
      "<p class=\"note\">Ok requests by invocation time, log scale; retries are inside a "
      "request's latency.</p>\n";
  latency_chart(out, history, axis, latency, windows);

  out += "<h2>Every request: invocation time and latency</h2>\n";
  out += legend({{"#43a047", "ok"}, {"#ff6d00", "unknown"}, {"#d50000", "fail"}});
  out += "<p class=\"note\" id=\"points-note\">Showing " + html_escape(sample.note) +
         ". Log scale.</p>\n";
  scatter_chart(out, history, axis, latency, windows, sample);
}

void roles_section(std::string& out, const History& history, const TimeAxis& axis,
                   const std::vector<FaultWindow>& windows) {
  out += "<h2>Node roles</h2>\n";
  out += legend({{"#6a1b9a", "leader"},
                 {"#90caf9", "follower"},
                 {"#ffb300", "candidate"},
                 {"#ffe082", "pre-candidate"},
                 {"#424242", "down (no answer)"}});
  out +=
      "<p class=\"note\">Sampled from each node's /_raft/health (another store's status "
      "through its adapter: etcd's maintenance status, leader or follower) about every 200 ms; "
      "a change is drawn from the first sample that saw it.</p>\n";
  if (history.roles.empty()) {
    out +=
        "<p class=\"note\">This history has no role lines (recorded before they existed, or "
        "by hand).</p>\n";
  }
  roles_chart(out, history, axis, windows, role_lanes(history));
}

}  // namespace

std::string render_report(const History& history, const std::optional<Json>& summary,
                          const std::optional<CheckResult>& check, const ReportOptions& options) {
  const auto [begin_ns, end_ns] = history_span_ns(history);
  const TimeAxis axis = time_axis(begin_ns, end_ns, options.max_bins);
  const std::vector<FaultWindow> windows = fault_windows(history.faults, end_ns);

  std::string out;
  out.reserve(1 << 20);
  page_head(out, page_title(summary, options), history, windows.size(), check, options);
  request_charts(out, history, axis, windows, axis.bin_text(), options);
  roles_section(out, history, axis, windows);
  out += "<h2>Summary</h2>\n<h3>From the history</h3>\n";
  history_tables(out, history, axis, windows);
  if (summary && summary->is_object()) {
    out += "<h3>From the run</h3>\n";
    run_summary_table(out, *summary);
  } else {
    out += "<p class=\"note\">No run summary (summary.json) was available.</p>\n";
  }
  verdict_section(out, history, check);
  out += "<h2>Faults</h2>\n";
  faults_table(out, history);
  out += "</body>\n</html>\n";
  return out;
}

void write_report_file(const std::string& path, const std::string& html) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) environment_failure("cannot write " + path + ": " + std::strerror(errno));
  const size_t written = std::fwrite(html.data(), 1, html.size(), file);
  const bool closed = std::fclose(file) == 0;
  if (written != html.size() || !closed) {
    environment_failure("cannot write " + path + ": " + std::strerror(errno));
  }
}

}  // namespace bombarder
