// bombarder compare RUN_DIR... (issue 18 "Side by side"): one HTML page (compare.h) putting two
// or more recorded runs side by side on shared axes. A run without a recorded check whose
// history is there is checked here (bounded by --check-timeout). Exit 0 written, 2 usage (fewer
// than two runs, a bad flag), 3 a run directory that is missing or is not a run, or an
// unwritable output.
#include <iostream>
#include <memory>

#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/history/compare.h"
#include "bombarder/history/linearizability.h"
#include "bombarder/history/report.h"

namespace bombarder {

namespace {

struct CompareFlags {
  std::vector<std::string> runs;
  std::string out = "compare.html";
  bool no_check = false;
  double check_timeout_s = 60;
};

int run_compare(const CompareFlags& f) {
  if (f.runs.size() < 2) {
    invalid_input("compare needs at least two run directories, got " +
                  std::to_string(f.runs.size()));
  }
  if (!(f.check_timeout_s > 0) || f.check_timeout_s > 86400) {
    invalid_input("--check-timeout must be a duration in (0s, 86400s]");
  }
  std::vector<ComparedRun> runs;
  for (const std::string& dir : f.runs) runs.push_back(load_compared_run(dir));
  for (ComparedRun& run : runs) {
    if (run.check || !run.history || f.no_check) continue;
    CheckOptions options;
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.check_timeout_s * 1000));
    run.check =
        nlohmann::json::parse(check_json(*run.history, check_history(*run.history, options)));
    run.checked_here = true;
  }
  write_report_file(f.out, render_compare(runs));
  std::cout << "compare: " << f.out << "\n";
  for (const ComparedRun& run : runs) {
    std::cout << "  " << run_label(run) << ": "
              << (run.history ? std::to_string(run.history->ops.size()) + " operations"
                              : std::string("no history"))
              << ", verdict "
              << (run.check ? run.check->value("verdict", std::string("?")) : "not checked")
              << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_compare_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Write one self-contained HTML page putting two or more recorded runs side by side: "
      "throughput and p50/p99 over time on shared axes, fault windows, outcomes, verdicts");
  cmd->add_option("runs", flags->runs,
                  "Run directories ($STRESS_TEST_DATA/runs/<id>/, each with summary.json and, "
                  "for the charts, history.jsonl); two or more")
      ->required();
  cmd->add_option("--out", flags->out, "The HTML file to write")->capture_default_str();
  cmd->add_flag("--no-check", flags->no_check,
                "Do not check a history whose run recorded no verdict");
  add_seconds_option(cmd, "--check-timeout", flags->check_timeout_s,
                     "How long the checker may take per run; past it the verdict is unknown")
      ->capture_default_str();
  cmd->callback([flags, &exit_code] { exit_code = run_compare(*flags); });
}

}  // namespace bombarder
