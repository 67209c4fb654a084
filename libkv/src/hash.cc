#include "hash.h"

#include <xxhash.h>

#include "fatal.h"

namespace kv::detail {

Xxh64::Xxh64() : state_(XXH64_createState()) {
  KV_CHECK(state_ != nullptr, "XXH64 state allocation");
  (void)XXH64_reset(static_cast<XXH64_state_t*>(state_), 0);
}

Xxh64::~Xxh64() { XXH64_freeState(static_cast<XXH64_state_t*>(state_)); }

void Xxh64::update(std::string_view bytes) {
  (void)XXH64_update(static_cast<XXH64_state_t*>(state_), bytes.data(), bytes.size());
}

uint64_t Xxh64::digest() const { return XXH64_digest(static_cast<XXH64_state_t*>(state_)); }

}  // namespace kv::detail
