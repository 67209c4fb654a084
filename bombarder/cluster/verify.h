// The replica check behind `bombarder verify` (verify_command.cc), for commands that verify as
// one of their steps (scenario): wait until the replicas settle at one applied index, compare
// entry counts and state hashes, optionally every entry, and check a load run's acknowledged
// writes on every node.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/client/store_system.h"
#include "bombarder/history/run_record.h"
#include "common/endpoint.h"

namespace bombarder {

struct VerifyOptions {
  // etcd: members compared by applied index, maintenance hash and key count (etcd_state.h);
  // their keys are the run's ids. redis: nodes compared by replication offset, DEBUG DIGEST and
  // DBSIZE (redis_state.h).
  StoreSystem system = StoreSystem::kStressNode;
  std::vector<common::Endpoint> nodes;
  std::chrono::milliseconds timeout{30000};  // for the replicas to settle
  bool deep = false;                         // compare every entry
  std::optional<RunRecord> run;              // whose acknowledged writes to check
  bool run_wanted = false;                   // say so in the text when `run` is missing
};

struct VerifyOutcome {
  bool passed = false;
  nlohmann::json report;  // what `verify --json` prints
  std::string text;       // what `verify` prints
};

// Throws Error(kEnvironment) when no node answers.
[[nodiscard]] VerifyOutcome verify_cluster(const VerifyOptions& options);

}  // namespace bombarder
