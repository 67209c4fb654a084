// XXH64 with seed 0, incremental (internal to libkv). Used for snapshot checksums and the state
// hash; fast enough (several GB/s) that hashing never dominates the I/O it guards.
#pragma once

#include <cstdint>
#include <string_view>

namespace kv::detail {

class Xxh64 {
 public:
  Xxh64();
  ~Xxh64();
  Xxh64(const Xxh64&) = delete;
  Xxh64& operator=(const Xxh64&) = delete;

  void update(std::string_view bytes);
  [[nodiscard]] uint64_t digest() const;

 private:
  void* state_;  // XXH64_state_t*, kept opaque so xxhash.h stays out of our headers
};

}  // namespace kv::detail
