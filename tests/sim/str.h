// Builds a string from streamable parts: descriptions of violations and trace lines. (Also
// sidesteps GCC 12's -Wrestrict false positive on `"literal" + std::to_string(...)`.)
#pragma once

#include <sstream>
#include <string>

namespace sim {

template <typename... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  return s.str();
}

}  // namespace sim
