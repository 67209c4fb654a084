// One fault of a schedule applied and reverted on its target, the one copy of these cases for
// `bombarder inject` (a schedule entry) and `bombarder agent` (a fault step, issue 17): kill ->
// resurrect, pause -> resume, memory/disk/cpu -> a stress helper started and ended
// (stress_helper.h), network -> a toxic added to and deleted from a Toxiproxy-compatible API
// (plain HTTP, whatever node TLS says).
//
// Not thread-safe per AppliedFault; every action is bounded (kActionTimeout, the proxy timeout).
#pragma once

#include <string>

#include "bombarder/faults/fault_plugin.h"
#include "bombarder/faults/fault_schedule.h"
#include "bombarder/faults/stress_helper.h"
#include "common/endpoint.h"

namespace bombarder {

struct AppliedFault {
  Fault fault;
  std::string toxic_name;  // network: the toxic's name on the proxy (unique per fault)
  std::string node;        // resolved when applied ("leader" -> "2")
  bool active = false;     // applied and not yet reverted (a failed kill counts: see apply)
  StressHelper helper;     // memory, disk, cpu
  // The stress helper's lines go to stderr (inject --json: stdout carries the JSON).
  bool helper_output_to_stderr = true;
};

// The target `f.fault` names, as the plugin resolves it ("leader" -> "2"); a network fault's is
// its proxy's name. Throws Error when the plugin cannot resolve it (no leader).
[[nodiscard]] std::string resolve_fault_node(FaultPlugin& plugin, const Fault& fault);

// Applies `f.fault`. A kill that reports failure may still have ended the node, so it stays
// active and its resurrect is still due. Never throws for an operating error: a target that
// does not resolve is a failed action.
[[nodiscard]] ActionResult apply_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api,
                                       AppliedFault& f);
// The same on `f.node`, already resolved (resolve_fault_node).
[[nodiscard]] ActionResult apply_resolved_fault(FaultPlugin& plugin,
                                                const common::Endpoint& proxy_api, AppliedFault& f);
// Reverts an active fault (a no-op, ok, when it is not active) and marks it inactive.
// Its action's name, as histories and inject's log call it: resurrect, resume, network-revert,
// memory-revert, disk-revert, cpu-revert.
[[nodiscard]] ActionResult revert_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api,
                                        AppliedFault& f);
[[nodiscard]] std::string revert_action_name(FaultType type);

}  // namespace bombarder
