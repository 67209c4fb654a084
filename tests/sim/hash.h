// Small non-cryptographic hashing for the simulator's registries, state-machine digests and
// event trace. Not an on-disk format: only stable within one build of the simulator.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sim {

// SplitMix64's finalizer: a bijective mix with good avalanche.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Folds `value` into the running hash `h` (order-sensitive).
inline uint64_t hash_combine(uint64_t h, uint64_t value) {
  return mix64(h ^ (value + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)));
}

// Word at a time with one multiply per word, because the benchmark hashes every 128-byte
// payload on every replica; finished with a full mix.
inline uint64_t hash_bytes(std::string_view bytes) {
  uint64_t h = 0x243f6a8885a308d3ull ^ (bytes.size() * 0x9e3779b97f4a7c15ull);
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ word) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  if (i < bytes.size()) std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  return mix64(h ^ tail);
}

}  // namespace sim
