// bombarder report HISTORY (issue 5 "Report"): the HTML report (report.h) of a recorded history,
// with the run's summary.json when it lies beside the history (a run directory) or is named,
// and the checker's verdict unless --no-check. Exit 0 written (and linearizable, when checked),
// 1 written but the verdict is a violation or unknown, 2 usage, 3 an unreadable history or
// summary, or an unwritable output.
#include <fstream>
#include <iostream>
#include <memory>

#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"
#include "bombarder/history/report.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

struct ReportFlags {
  std::string history;
  std::string out;
  std::string summary;
  bool no_check = false;
  double check_timeout_s = 60;
  size_t max_points = 20000;
};

std::optional<Json> read_summary(const std::filesystem::path& path, bool required) {
  std::ifstream in(path);
  if (!in) {
    if (required) environment_failure("cannot read the summary " + path.string());
    return std::nullopt;
  }
  Json summary = Json::parse(in, nullptr, false);
  if (summary.is_discarded() || !summary.is_object()) {
    if (required) environment_failure(path.string() + " is not a JSON object");
    return std::nullopt;
  }
  return summary;
}

int run_report(const ReportFlags& f) {
  if (!(f.check_timeout_s > 0) || f.check_timeout_s > 86400) {
    invalid_input("--check-timeout must be a duration in (0s, 86400s]");
  }
  if (f.max_points == 0) invalid_input("--max-points must be at least 1");
  const std::filesystem::path history_path(f.history);
  std::filesystem::path out = f.out;
  if (out.empty()) out = std::filesystem::path(history_path).replace_extension(".html");
  if (std::filesystem::exists(out) && std::filesystem::exists(history_path) &&
      std::filesystem::equivalent(out, history_path)) {
    invalid_input("--out " + out.string() + " is the history itself");
  }
  const History history = load_history(history_path);
  // A run directory holds history.jsonl and summary.json side by side.
  const std::optional<Json> summary =
      f.summary.empty() ? read_summary(history_path.parent_path() / "summary.json", false)
                        : read_summary(f.summary, true);
  std::optional<CheckResult> check;
  if (!f.no_check) {
    CheckOptions options;
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.check_timeout_s * 1000));
    check = check_history(history, options);
  }
  ReportOptions options;
  options.source = history_path.string();
  options.max_points = f.max_points;
  write_report_file(out.string(), render_report(history, summary, check, options));

  std::cout << "report: " << out.string() << "\n  " << history.ops.size() << " operations, "
            << history.faults.size() << " fault actions, " << history.roles.size()
            << " role changes; summary "
            << (summary ? "included" : "not found (no summary.json beside the history)")
            << "; verdict " << (check ? to_string(check->verdict) : "not checked") << "\n";
  return !check || check->verdict == Verdict::kOk ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_report_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write a self-contained HTML report of a recorded history: throughput, latency, every "
      "request, fault windows, node roles, summary and linearizability verdict");
  cmd->add_option("history", flags->history, "The history file (JSON lines, docs/history.md)")
      ->required();
  cmd->add_option("--out", flags->out,
                  "The HTML file to write [default: the history's name "
                  "with .html]");
  cmd->add_option("--summary", flags->summary,
                  "The run's summary.json [default: summary.json beside the history, if any]");
  cmd->add_flag("--no-check", flags->no_check, "Do not run the linearizability checker");
  add_seconds_option(cmd, "--check-timeout", flags->check_timeout_s,
                     "How long the checker may take; past it the verdict is unknown")
      ->capture_default_str();
  cmd->add_option("--max-points", flags->max_points,
                  "Requests drawn as points at most; above, a deterministic sample (stated on "
                  "the page)")
      ->capture_default_str();
  cmd->callback([flags, &exit_code] { exit_code = run_report(*flags); });
}

}  // namespace bombarder
