// Random histories that are linearizable by construction (for the checker's property tests and
// benchmark): `clients` simulated clients issue operations on a sequential in-memory KV model;
// each operation takes effect at one instant strictly inside its [invoke, complete] interval.
// Some writes end with an unknown outcome, applied or not. Lists see the model at their instant.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bombarder/history/history.h"

namespace bombarder {

struct GeneratorOptions {
  uint64_t seed = 1;
  size_t clients = 5;
  size_t ops = 200;
  // Non-create operations pick among the `hot_ids` most recently created ids (0: among all):
  // small values concentrate the concurrency on few ids.
  size_t hot_ids = 3;
  double unknown_pct = 5;  // percentage of writes whose outcome is unknown
  // Percentage of operations that are lists: three in four a key lookup of a hot id's key, one in
  // four a page of every key (limit 5, after a random known id or from the first).
  double list_pct = 0;
};

[[nodiscard]] History generate_linearizable_history(const GeneratorOptions& options);

}  // namespace bombarder
