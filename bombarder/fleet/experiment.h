// An experiment (issue 17): a named list of steps that an agent runs against the cluster it
// manages. The orchestrator checks an experiment when it is created; the agent parses the same
// JSON again when it is assigned (both with parse_experiment), so both sides agree on it.
//
//   {"name": "kill the leader under load",
//    "steps": [
//      {"kind": "fault", "type": "kill", "node": "leader", "at": "0s", "down_for": "3s"},
//      {"kind": "load", "command": "storm", "args": ["--duration", "20s", "--check"]},
//      {"kind": "check", "timeout": "60s"},
//      {"kind": "verify", "timeout": "30s"}]}
//
// A fault step is a fault of `bombarder inject`'s schedule (faults/fault_schedule.h: type, node
// = the target, at = the start offset, duration or down_for, and the kind's own members) plus
// "kind": "fault". Its offset counts from the start of the run: it fires in the background while
// the following steps run, and is reverted at its end. A load step runs a load command with its
// flags against the agent's cluster, in the foreground (load_step.h); the original form
// {"kind": "load", "duration", "concurrency", "value_bytes"} is a flood with those flags. A check
// step runs the linearizability checker (history/linearizability.h) on the histories the load
// steps before it recorded. A verify step first waits until every fault fired so far is
// reverted, then checks the replicas (cluster/verify.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bombarder/faults/fault_schedule.h"
#include "bombarder/fleet/load_step.h"

namespace bombarder {

inline constexpr size_t kExperimentStepsMax = 64;
inline constexpr size_t kExperimentNameBytesMax = 128;
inline constexpr std::chrono::milliseconds kVerifyStepTimeoutMax = std::chrono::minutes(5);
inline constexpr std::chrono::milliseconds kCheckStepTimeoutMax = std::chrono::minutes(10);

enum class StepKind { kFault, kLoad, kVerify, kCheck };
[[nodiscard]] const char* to_string(StepKind kind);  // "fault", "load", "verify", "check"

struct VerifyStep {
  std::chrono::milliseconds timeout{30000};
  bool deep = false;
};

// How long the checker may search each history; past it the verdict is unknown (a failed step).
struct CheckStep {
  std::chrono::milliseconds timeout{60000};
};

struct ExperimentStep {
  StepKind kind = StepKind::kVerify;
  Fault fault;  // kFault
  LoadStep load;
  VerifyStep verify;
  CheckStep check;
};

struct Experiment {
  std::string name;
  std::vector<ExperimentStep> steps;
};

// Checks an experiment's JSON: a non-empty name within bounds, 1..kExperimentStepsMax steps,
// each of a known kind with valid members (no unknown ones), a load step's flags through the
// installed load commands (load_step.h), a check step after a load step. Throws
// Error(kInvalidInput) naming the step ("steps[2]: ...").
[[nodiscard]] Experiment parse_experiment(const nlohmann::json& body);

}  // namespace bombarder
