#include "bombarder/base/data_root.h"

#include <cstdlib>

namespace bombarder {

std::filesystem::path data_root() {
  const char* env = std::getenv("STRESS_TEST_DATA");
  const std::filesystem::path root = (env != nullptr && *env != '\0') ? env : "data";
  return std::filesystem::absolute(root).lexically_normal();
}

}  // namespace bombarder
