// Runs side by side (issue 18 "Side by side"): `bombarder compare RUN_DIR...` reads two or more
// run directories ($STRESS_TEST_DATA/runs/<id>/, run_record.h) and writes one self-contained
// HTML page in the report's style (report_charts.h): the throughput and the p50/p99 latency of
// each run over time, one chart per run, all on the SAME time axis and the same value scales
// (requests/s from 0 to the highest bin of any run; latency decades holding every run), so that
// a bar or a line means the same in every chart; each run's fault windows shaded on its charts;
// and a table with a column per run: system, command line, seed, outcome counts (ok / fail /
// unknown, from the history), throughput and latency (from the summary), chaos actions, the
// linearizability verdict and `verify`'s result when one is recorded.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"

namespace bombarder {

// One run as compare reads it.
struct ComparedRun {
  std::filesystem::path dir;
  nlohmann::json summary;          // summary.json (an object)
  std::optional<History> history;  // history.jsonl, when the run recorded one
  // summary.json's "check" (the run's --check), else the checker's result on `history` when
  // compare ran it; nullopt when neither.
  std::optional<nlohmann::json> check;
  bool checked_here = false;             // `check` comes from compare, not from the run
  std::optional<nlohmann::json> verify;  // verify.json, when `verify` checked this run
};

// Reads `dir`: summary.json must be there (else it is not a run), history.jsonl and verify.json
// when present. Throws Error(kEnvironment) naming the directory when it is missing, is not a
// run, or a file in it cannot be parsed.
[[nodiscard]] ComparedRun load_compared_run(const std::filesystem::path& dir);

struct CompareOptions {
  std::string title;      // "" : "bombarder compare: N runs"
  size_t max_bins = 600;  // time bins at most, as in ReportOptions
};

// The whole page; `runs` holds at least two (else Error(kInvalidInput)).
[[nodiscard]] std::string render_compare(const std::vector<ComparedRun>& runs,
                                         const CompareOptions& options = {});

// "etcd storm 20261207T191800-storm-26312": what the page calls a run.
[[nodiscard]] std::string run_label(const ComparedRun& run);

}  // namespace bombarder
