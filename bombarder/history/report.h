// The HTML report of a recorded run (issue 5 "Report"): `--report FILE.html` on the load commands
// and `bombarder report HISTORY`. One self-contained page, viewable offline: every chart is an
// inline <svg> generated here (no script, no stylesheet or font from elsewhere, no src= or
// href=), tooltips are SVG <title> elements.
//
// Charts, all on the history's time axis (seconds since its origin): throughput per time bin by
// outcome; latency p50/p99 per bin; every request as a point (invoke time, latency), colored by
// outcome; one role lane per node. Fault windows are shaded on each of them. Then the run's
// summary and the checker's verdict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"

namespace bombarder {

// A time during which a fault was active on one node: from a stopping action (sigkill, sigterm,
// kill, stop, pause) to the next restarting action (restart, start, resume) of the same node, or
// to the end of the history when none follows. A second stop of a node that is already down
// opens no new window.
struct FaultWindow {
  uint64_t node = 0;
  std::string address;
  std::string action;  // the stopping action
  std::string detail;  // its detail
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  bool open_ended = false;  // no restart followed: the window lasts to the end of the history
};

// Windows in order of their beginning; faults that neither stop nor restart a node (skip,
// restart-failed, ...) are not windows (the report marks them as instants).
[[nodiscard]] std::vector<FaultWindow> fault_windows(const std::vector<HistoryFault>& faults,
                                                     int64_t end_ns);

// [begin_ns, end_ns] of everything in the history: the origin (0) or the earliest time, to the
// latest completion (an unknown operation that never completed counts at its invocation), fault
// or role sample.
[[nodiscard]] std::pair<int64_t, int64_t> history_span_ns(const History& history);

struct ReportOptions {
  std::string title;          // "" : from the summary's command and run id, else "bombarder run"
  std::string source;         // the history file, shown on the page ("" : not shown)
  size_t max_points = 20000;  // scatter points at most; above, a deterministic sample (stated)
  size_t max_bins = 600;      // time bins at most; above, bins wider than one second (stated)
};

// The whole page. `summary` is a load command's JSON summary (load_report.h, as in summary.json);
// `check` the checker's result for this history. Both optional: the page says what is missing.
[[nodiscard]] std::string render_report(const History& history,
                                        const std::optional<nlohmann::json>& summary,
                                        const std::optional<CheckResult>& check,
                                        const ReportOptions& options = {});

// Text made safe for HTML element content and attribute values (& < > " ').
[[nodiscard]] std::string html_escape(std::string_view text);

// Writes `html` to `path` (truncating); throws Error(kEnvironment) when it cannot.
void write_report_file(const std::string& path, const std::string& html);

}  // namespace bombarder
