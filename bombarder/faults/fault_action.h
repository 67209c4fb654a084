// One fault of a schedule applied and reverted on its target (issue 17: what `bombarder agent`
// does for a fault step, as `inject` does for a schedule entry): kill -> resurrect, pause ->
// resume, memory/disk/cpu -> a stress helper started and ended (stress_helper.h), network -> a
// toxic added to and deleted from a Toxiproxy-compatible API.
//
// (inject keeps its own copy of these four cases in commands/inject_command.cc, interleaved
// with its history and fault windows; moving it onto this is a follow-up.)
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
};

// Applies `f.fault`. A kill that reports failure may still have ended the node, so it stays
// active and its resurrect is still due. Never throws for an operating error.
[[nodiscard]] ActionResult apply_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api,
                                       AppliedFault& f);
// Reverts an active fault (a no-op, ok, when it is not active) and marks it inactive.
[[nodiscard]] ActionResult revert_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api,
                                        AppliedFault& f);

}  // namespace bombarder
