// One seed of the simulation: a randomized plan (cluster size, core configuration, fault and
// client rates), a safety phase with faults, then a liveness phase that must converge.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "sim/sim_node.h"

namespace sim {

struct SeedOptions {
  std::ostream* verbose = nullptr;  // every event, for `raft_sim --seed S --verbose`
  InjectedBug bug = InjectedBug::kNone;
};

struct SeedReport {
  uint64_t seed = 0;
  bool ok = true;
  std::string property;     // the violated property when !ok
  std::string description;  // what happened, with node ids, terms and indexes

  uint64_t ticks = 0;
  uint64_t messages = 0;   // delivered
  uint64_t elections = 0;  // terms that had a leader
  uint64_t commits = 0;    // highest committed index
  uint64_t snapshots_installed = 0;
  uint64_t snapshots_forced = 0;       // operator-forced sends started by leaders
  uint64_t snapshots_reinstalled = 0;  // forced installs at or below the follower's commit
  uint64_t crashes = 0;
  uint64_t liveness_ticks = 0;  // how long the liveness phase took to converge
  uint64_t trace_hash = 0;      // equal for two runs of one seed
};

[[nodiscard]] SeedReport run_seed(uint64_t seed, const SeedOptions& options = {});

// How to reproduce a seed, printed with every failure.
std::string replay_command(uint64_t seed);

}  // namespace sim
