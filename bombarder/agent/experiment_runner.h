// Runs one assigned experiment on the agent's machine (issue 17), blocking, on the agent's worker
// thread. Fault steps are armed at their offset from the run's start and reverted at their end
// by a fault thread of the run, in the background of the steps that follow; a load step runs its
// load command (fleet/load_step.h) against the agent's cluster, recording its history; a check
// step runs the linearizability checker on the histories the load steps before it recorded; a
// verify step waits until every fault fired so far is reverted, then checks the replicas
// (cluster/verify.h). A load or check step that cannot run is a failed step with an "error";
// the steps after it still run.
//
// Every fault is reverted before run() returns: at its end, when the run ends, when `abort` is
// set (the orchestrator's abort, the dead-man timeout, SIGTERM), and when a step throws.
// `on_event` is called from the run's threads (the caller posts it on): "step_started",
// "fault_applied", "fault_reverted", "load_progress", "step_done".
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bombarder/faults/fault_plugin.h"
#include "bombarder/fleet/experiment.h"
#include "common/endpoint.h"

namespace bombarder {

struct RunEvent {
  size_t step = 0;
  std::string event;
  nlohmann::json detail;
};

struct RunOutcome {
  std::string state;     // "done", "failed" (a fault or revert failed, verify failed), "aborted"
  nlohmann::json steps;  // one result object per step
  nlohmann::json reverted = nlohmann::json::array();  // faults reverted because of the abort
  std::string error;
};

struct RunTargets {
  std::vector<common::Endpoint> nodes;  // the cluster the load and verify steps use
  std::string system = "stress_node";   // its store (client/store_system.h)
  common::Endpoint proxy_api;           // network faults' Toxiproxy-compatible API
};

[[nodiscard]] RunOutcome run_experiment(const Experiment& experiment, FaultPlugin& plugin,
                                        const RunTargets& targets, const std::atomic<bool>& abort,
                                        const std::function<void(RunEvent)>& on_event);

}  // namespace bombarder
