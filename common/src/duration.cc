#include "common/duration.h"

#include <cmath>
#include <exception>
#include <string>

namespace common {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        std::chrono::milliseconds max) {
  std::string number(text);
  double scale_ms = 1000;
  if (number.ends_with("ms")) {
    scale_ms = 1;
    number.resize(number.size() - 2);
  } else if (number.ends_with("s")) {
    number.resize(number.size() - 1);
  } else if (number.ends_with("m")) {
    scale_ms = 60'000;
    number.resize(number.size() - 1);
  }
  // std::stod accepts leading blanks, "inf" and "nan": only plain decimals are durations.
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos) {
    return std::nullopt;
  }
  size_t used = 0;
  double value = -1;
  try {
    value = std::stod(number, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const double ms = value * scale_ms;
  if (used != number.size() || !std::isfinite(ms) || ms < 0 ||
      ms > static_cast<double>(max.count())) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

}  // namespace common
