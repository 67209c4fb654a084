#include "bombarder/history/compare.h"

#include <algorithm>
#include <fstream>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/history/report.h"
#include "bombarder/history/report_charts.h"

namespace bombarder {

using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A JSON object file, or nullopt when absent; throws when present but not an object.
std::optional<Json> read_json_object(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path);
  if (!in) environment_failure("cannot read " + path.string());
  Json value = Json::parse(in, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    environment_failure(path.string() + " is not a JSON object");
  }
  return value;
}

std::string string_field(const Json& object, const char* key, const std::string& fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string system_of(const ComparedRun& run) {
  // A stress_node run's summary leaves "system" out (load_command.cc).
  return string_field(run.summary, "system", "stress_node");
}

std::string number_text(const Json& object, const char* key, const char* format) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return "-";
  return printf_text(format, it->get<double>());
}

std::string command_line_text(const Json& summary) {
  const auto it = summary.find("command_line");
  if (it == summary.end() || !it->is_array()) return "not recorded";
  std::string text;
  for (const Json& arg : *it) {
    if (!text.empty()) text += ' ';
    const std::string word = arg.is_string() ? arg.get<std::string>() : arg.dump();
    const bool plain = !word.empty() && word.find_first_of(" \t'\"\\$") == std::string::npos;
    text += plain ? word : "'" + word + "'";
  }
  return text;
}

struct OutcomeCounts {
  size_t ok = 0;
  size_t fail = 0;
  size_t unknown = 0;
};

OutcomeCounts outcome_counts(const History& history) {
  OutcomeCounts c;
  for (const HistoryOp& op : history.ops) {
    (op.outcome == Outcome::kOk ? c.ok : op.outcome == Outcome::kFail ? c.fail : c.unknown)++;
  }
  return c;
}

std::string verdict_text(const ComparedRun& run) {
  if (!run.check) return "not checked (the run recorded no history)";
  const Json& c = *run.check;
  const std::string verdict = string_field(c, "verdict", "?");
  std::string text = verdict == "linearizable" ? "linearizable"
                     : verdict == "violation"  ? "NOT linearizable"
                                               : "unknown (" + verdict + ")";
  if (verdict == "violation" && c.contains("ids_violation") && c.contains("ids")) {
    text += ": " + c["ids_violation"].dump() + " of " + c["ids"].dump() + " ids violate";
  }
  if (c.contains("ops_checked")) text += " (" + c["ops_checked"].dump() + " ops checked)";
  if (run.checked_here) text += ", checked by compare";
  return text;
}

std::string verdict_class(const ComparedRun& run) {
  if (!run.check) return "none";
  const std::string verdict = string_field(*run.check, "verdict", "unknown");
  return verdict == "linearizable" || verdict == "violation" ? verdict : "unknown";
}

std::string verify_text(const ComparedRun& run) {
  if (!run.verify) return "not recorded (no `bombarder verify` after this run)";
  const Json& v = *run.verify;
  const auto passed = v.find("passed");
  std::string text = passed != v.end() && passed->is_boolean()
                         ? (passed->get<bool>() ? "PASS" : "FAIL")
                         : std::string("recorded");
  if (v.contains("hashes_match") && v["hashes_match"].is_boolean()) {
    text += v["hashes_match"].get<bool>() ? ", hashes match" : ", hashes DIFFER";
  }
  if (v.contains("acked") && v["acked"].is_object() && v["acked"].contains("nodes")) {
    uint64_t missing = 0, wrong = 0, resurrected = 0;
    for (const auto& [address, node] : v["acked"]["nodes"].items()) {
      missing += node.value("missing", uint64_t{0});
      wrong += node.value("wrong_value", uint64_t{0});
      resurrected += node.value("resurrected", uint64_t{0});
    }
    text += printf_text(", %s acknowledged ids: missing %llu, wrong value %llu, resurrected %llu",
                        v["acked"].value("acknowledged_ids", Json(0)).dump().c_str(),
                        static_cast<unsigned long long>(missing),
                        static_cast<unsigned long long>(wrong),
                        static_cast<unsigned long long>(resurrected));
  }
  return text;
}

// One row of the runs table: a header and a cell per run, marked for tests and tools.
void row(std::string& out, const char* field, const char* heading,
         const std::vector<std::string>& cells, const std::vector<std::string>& classes = {}) {
  // Appended piece by piece: GCC 12 reports a false -Wrestrict on `"literal" + std::string`.
  out.append("<tr data-field=\"").append(field).append("\"><th>");
  out.append(html_escape(heading)).append("</th>");
  for (size_t i = 0; i < cells.size(); ++i) {
    out.append("<td data-run=\"").append(std::to_string(i)).append("\"");
    if (i < classes.size() && !classes[i].empty()) {
      out.append(" class=\"").append(classes[i]).append("\"");
    }
    out.append(">").append(html_escape(cells[i])).append("</td>");
  }
  out += "</tr>\n";
}

template <typename F>
std::vector<std::string> per_run(const std::vector<ComparedRun>& runs, F&& text) {
  std::vector<std::string> cells;
  for (const ComparedRun& run : runs) cells.push_back(text(run));
  return cells;
}

std::string outcome_cell(const ComparedRun& run, size_t OutcomeCounts::*field) {
  if (!run.history) return "-";
  return std::to_string(outcome_counts(*run.history).*field);
}

void outcome_rows(std::string& out, const std::vector<ComparedRun>& runs) {
  row(out, "ok", "ok (history)",
      per_run(runs, [](const ComparedRun& r) { return outcome_cell(r, &OutcomeCounts::ok); }));
  row(out, "fail", "fail (history)",
      per_run(runs, [](const ComparedRun& r) { return outcome_cell(r, &OutcomeCounts::fail); }));
  row(out, "unknown", "unknown (history)",
      per_run(runs, [](const ComparedRun& r) { return outcome_cell(r, &OutcomeCounts::unknown); }));
}

void latency_rows(std::string& out, const std::vector<ComparedRun>& runs) {
  for (const auto& [field, heading] :
       {std::pair{"p50_ms", "latency p50"}, std::pair{"p99_ms", "latency p99"},
        std::pair{"max_ms", "latency max"}}) {
    row(out, field, heading, per_run(runs, [field = field](const ComparedRun& r) {
          const auto it = r.summary.find("latency");
          if (it == r.summary.end() || !it->is_object()) return std::string("-");
          return number_text(*it, field, "%.2f ms");
        }));
  }
}

}  // namespace

std::string run_label(const ComparedRun& run) {
  return system_of(run) + " " + string_field(run.summary, "command", "run") + " " +
         string_field(run.summary, "run_id", run.dir.filename().string());
}

ComparedRun load_compared_run(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) environment_failure("compare: " + dir.string() + " does not exist");
  if (!fs::is_directory(dir, ec)) {
    environment_failure("compare: " + dir.string() + " is not a directory (a run directory, " +
                        "$STRESS_TEST_DATA/runs/<id>/)");
  }
  ComparedRun run;
  run.dir = dir;
  std::optional<Json> summary = read_json_object(dir / "summary.json");
  if (!summary) {
    environment_failure("compare: " + dir.string() +
                        " is not a run directory (no summary.json; runs are under "
                        "$STRESS_TEST_DATA/runs/)");
  }
  run.summary = std::move(*summary);
  if (fs::is_regular_file(dir / "history.jsonl", ec))
    run.history = load_history(dir / "history.jsonl");
  if (run.summary.contains("check") && run.summary["check"].is_object()) {
    run.check = run.summary["check"];
  }
  run.verify = read_json_object(dir / "verify.json");
  return run;
}

namespace {

void page_head(std::string& out, const std::string& title, const std::vector<ComparedRun>& runs) {
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(title) + "</title>\n";
  out += charts::style_sheet();
  out += "</head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n<p class=\"sub\">";
  for (size_t i = 0; i < runs.size(); ++i) {
    out += std::string(i == 0 ? "" : " &middot; ") + "<span class=\"verdict-" +
           verdict_class(runs[i]) + "\">" + html_escape(run_label(runs[i])) + "</span>";
  }
  out += "</p>\n";
}

void runs_table(std::string& out, const std::vector<ComparedRun>& runs) {
  out += "<h2>Runs</h2>\n<table class=\"grid-table\" id=\"runs\">\n";
  row(out, "system", "system", per_run(runs, system_of));
  row(out, "run_id", "run", per_run(runs, [](const ComparedRun& r) {
        return string_field(r.summary, "run_id", "") + " (" + r.dir.string() + ")";
      }));
  row(out, "command_line", "command line",
      per_run(runs, [](const ComparedRun& r) { return command_line_text(r.summary); }));
  row(out, "seed", "seed (load and chaos)", per_run(runs, [](const ComparedRun& r) {
        return r.summary.contains("seed") ? r.summary["seed"].dump() : std::string("-");
      }));
  row(out, "read_consistency", "read consistency", per_run(runs, [](const ComparedRun& r) {
        return string_field(r.summary, "read_consistency", "linearizable");
      }));
  row(out, "target", "target",
      per_run(runs, [](const ComparedRun& r) { return string_field(r.summary, "target", "-"); }));
  row(out, "concurrency", "concurrency", per_run(runs, [](const ComparedRun& r) {
        return number_text(r.summary, "concurrency", "%.0f");
      }));
  row(out, "elapsed_s", "elapsed", per_run(runs, [](const ComparedRun& r) {
        return number_text(r.summary, "elapsed_s", "%.2f s");
      }));
  row(out, "requests", "requests", per_run(runs, [](const ComparedRun& r) {
        return number_text(r.summary, "requests", "%.0f");
      }));
  outcome_rows(out, runs);
  row(out, "throughput_rps", "throughput", per_run(runs, [](const ComparedRun& r) {
        return number_text(r.summary, "throughput_rps", "%.1f req/s");
      }));
  latency_rows(out, runs);
  row(out, "chaos", "chaos actions", per_run(runs, [](const ComparedRun& r) {
        const auto it = r.summary.find("chaos");
        return it != r.summary.end() && it->is_array() ? std::to_string(it->size())
                                                       : std::string("0");
      }));
  row(out, "verdict", "linearizability", per_run(runs, verdict_text),
      per_run(runs, [](const ComparedRun& r) { return "verdict-" + verdict_class(r); }));
  row(out, "verify", "verify", per_run(runs, verify_text));
  out += "</table>\n";
}

}  // namespace

namespace {

// The shared axes: one time axis over every run's history, the highest rate of any bin, and
// latency decades holding every run.
struct SharedAxes {
  charts::TimeAxis time;
  double peak_rate = 1;
  charts::LogAxis latency;
};

SharedAxes shared_axes(const std::vector<ComparedRun>& runs, size_t max_bins) {
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  std::optional<charts::LogAxis> latency;
  for (const ComparedRun& run : runs) {
    if (!run.history) continue;
    const auto [b, e] = history_span_ns(*run.history);
    begin_ns = std::min(begin_ns, b);
    end_ns = std::max(end_ns, e);
    const charts::LogAxis own = charts::latency_axis(*run.history);
    latency = latency ? charts::widest(*latency, own) : own;
  }
  SharedAxes axes;
  axes.time = charts::time_axis(begin_ns, end_ns, max_bins);
  if (latency) axes.latency = *latency;
  for (const ComparedRun& run : runs) {
    if (run.history)
      axes.peak_rate = std::max(axes.peak_rate, charts::peak_rate(*run.history, axes.time));
  }
  return axes;
}

// The heading above one run's chart, and the note when it has no history to draw.
bool run_chart_heading(std::string& out, size_t index, const ComparedRun& run) {
  out += "<h3 class=\"run-chart\" data-run=\"" + std::to_string(index) + "\">" +
         html_escape(run_label(run)) + "</h3>\n";
  if (run.history) return true;
  out += "<p class=\"note\">No history recorded (run with --check or --history to draw it).</p>\n";
  return false;
}

void chart_sections(std::string& out, const std::vector<ComparedRun>& runs,
                    const SharedAxes& axes) {
  out += "<h2>Throughput per " + axes.time.bin_text() + ", by outcome</h2>\n";
  out += charts::legend({{"#43a047", "ok"},
                         {"#fb8c00", "unknown"},
                         {"#e53935", "fail"},
                         {"rgba(229,57,53,0.3)", "SIGKILL window"},
                         {"rgba(251,140,0,0.3)", "SIGTERM window"}});
  out += "<p class=\"note\" id=\"shared-axes\" data-peak-rate=\"" +
         printf_text("%.1f", axes.peak_rate) + "\" data-latency-lo-ms=\"" +
         printf_text("%g", axes.latency.lo_ms) + "\" data-latency-hi-ms=\"" +
         printf_text("%g", axes.latency.hi_ms) + "\" data-time-end-s=\"" +
         printf_text("%g", static_cast<double>(axes.time.end_ns) / 1e9) +
         "\">Every chart on this page has the same time axis (seconds since each run's start) "
         "and, per kind, the same value scale: a bar or a line is at the same height for the same "
         "value in every run. Shaded: the run's fault windows (a node stopped until its "
         "restart).</p>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!run_chart_heading(out, i, runs[i])) continue;
    const auto [begin_ns, end_ns] = history_span_ns(*runs[i].history);
    charts::throughput_chart(out, *runs[i].history, axes.time,
                             fault_windows(runs[i].history->faults, end_ns), axes.peak_rate);
  }
  out += "<h2>Latency per " + axes.time.bin_text() + " (p50, p99 of ok requests)</h2>\n";
  out += charts::legend({{"#1e88e5", "p50"}, {"#6a1b9a", "p99"}});
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!run_chart_heading(out, i, runs[i])) continue;
    const auto [begin_ns, end_ns] = history_span_ns(*runs[i].history);
    charts::latency_chart(out, *runs[i].history, axes.time, axes.latency,
                          fault_windows(runs[i].history->faults, end_ns));
  }
}

}  // namespace

std::string render_compare(const std::vector<ComparedRun>& runs, const CompareOptions& options) {
  if (runs.size() < 2) invalid_input("compare needs at least two runs");
  const std::string title = options.title.empty()
                                ? "bombarder compare: " + std::to_string(runs.size()) + " runs"
                                : options.title;
  std::string out;
  out.reserve(1 << 20);
  page_head(out, title, runs);
  runs_table(out, runs);
  chart_sections(out, runs, shared_axes(runs, options.max_bins));
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace bombarder
