// The record a load run leaves under $STRESS_TEST_DATA/runs/<run id>/ (issue 4 "Chaos"):
//   summary.json  the run's JSON summary (load_report.h), chaos actions included
//   acked.jsonl   one line per id the run wrote and got acknowledged: its last acknowledged
//                 value or deletion, and whether a later write's outcome is unknown
// and runs/last, a one-line file naming the latest run id, which `verify` reads by default to
// check that no acknowledged write was lost.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "bombarder/history/acked_write.h"

namespace bombarder {

struct RunRecord {
  std::string id;  // "20261122T074102-storm-12345"
  std::filesystem::path dir;
  nlohmann::json summary;
  std::unordered_map<std::string, AckedWrite> acked;
};

// A new run id and its directory, created. Throws Error(kEnvironment) on failure.
[[nodiscard]] RunRecord begin_run_record(const std::string& command);
// Writes summary.json and acked.jsonl, then points runs/last at this run.
void save_run_record(const RunRecord& record);
// `which`: a run id, a run directory, or "" / "last" for the latest. nullopt when there is no
// run yet (only for the default); throws Error(kEnvironment) when a named or the
// last run cannot be read.
[[nodiscard]] std::optional<RunRecord> load_run_record(const std::string& which);

}  // namespace bombarder
