// A tiny seeded PRNG (SplitMix64). The core may not use <random>'s global engines or clocks;
// every random choice it makes (election timeouts) comes from this, seeded by the caller.
#pragma once

#include <cstdint>

namespace raft {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), bound > 0. The modulo bias is irrelevant for the small bounds used.
  uint64_t below(uint64_t bound) { return next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace raft
