// Where bombarder keeps its files (cluster.json, runs/, node data, TLS files).
#pragma once

#include <filesystem>

namespace bombarder {

// $STRESS_TEST_DATA, or "data" (design.md §4), as an absolute path.
[[nodiscard]] std::filesystem::path data_root();

}  // namespace bombarder
