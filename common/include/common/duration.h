// Durations as every flag writes them (design.md §4): "250ms", "3s", "1.5s", "2m", or a bare
// number of seconds. One parser for stress_node and bombarder.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace common {

// The duration rounded to whole milliseconds, or nullopt when `text` is not one of the forms
// above or falls outside [0, max].
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(
    std::string_view text, std::chrono::milliseconds max);

}  // namespace common
