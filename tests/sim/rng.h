// Seeded randomness for the simulator, split into independent decision streams.
//
// Every random choice of a run comes from one seed. Each kind of decision (network, faults,
// clients, ...) draws from its own stream derived from that seed, so that changing how often one
// kind of decision is drawn (say, a new client action) does not shift every later network or
// fault decision of the same seed: a failing seed stays a good reproducer across small harness
// changes.
#pragma once

#include <cstdint>

#include "raft/rand.h"
#include "sim/hash.h"

namespace sim {

enum class Stream : uint64_t {
  kPlan = 1,             // per-seed configuration: cluster size, fault rates, core config
  kNetwork = 2,          // drop, duplicate, delay of each message
  kFaults = 3,           // partitions, crashes between events, restart times
  kClients = 4,          // proposals, reads, leadership transfers, campaigns
  kCoreSeeds = 5,        // the seed handed to each RaftCore incarnation
  kDisk = 6,             // crash points inside a batch (one sub-stream per node)
  kForcedSnapshots = 7,  // operator-forced snapshot sends (RaftCore::send_snapshot)
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  // The stream `stream` (and sub-stream `sub`, e.g. a node id) of run `seed`.
  static Rng stream(uint64_t seed, Stream stream, uint64_t sub = 0) {
    return Rng(mix64(mix64(seed) ^ mix64((static_cast<uint64_t>(stream) << 32) ^ sub)));
  }

  uint64_t next() { return gen_.next(); }
  // Uniform in [0, bound), bound > 0.
  uint64_t below(uint64_t bound) { return gen_.below(bound); }
  // Uniform in [lo, hi], lo <= hi.
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  // True with probability p. p <= 0 draws nothing, so a disabled fault costs no randomness.
  bool chance(double p) { return p > 0 && unit() < p; }

 private:
  raft::SplitMix64 gen_;
};

}  // namespace sim
