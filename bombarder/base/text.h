// Text formatting shared by every command (issue 16 "one way of doing each thing"): printf into
// a string, the one duration parser for values that are not flags (schedule files, chaos
// config), and the forms durations and instants are printed in.
//
//   format_seconds(3000ms)        "3.0 s"      a length of time in a plan or a message
//   format_duration_us(12400)     "12.40 ms"   a measured latency (load summaries)
//   utc_timestamp_now()           "2026-12-07T12:00:00.123Z"   the start of a status line
//
// (The HTML report's chart labels use their own three-significant-digit form, history/report.cc:
// an axis reads "1 ms, 2 ms, 5 ms", not "1.00 ms".)
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace bombarder {

// printf into a std::string, any length.
template <typename... Args>
[[nodiscard]] std::string printf_text(const char* format, Args... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

// The longest duration a fault, a schedule or a chaos setting may name.
inline constexpr std::chrono::milliseconds kDurationMax = std::chrono::hours(24);

// "500ms", "2s", "1.5s", "2m" or a bare number of seconds (common::parse_duration), in
// [0, 24 h]. Throws Error(kInvalidInput) naming `what` otherwise.
[[nodiscard]] std::chrono::milliseconds parse_duration(std::string_view text,
                                                       const std::string& what);

// "3.0 s": seconds with one decimal.
[[nodiscard]] std::string format_seconds(std::chrono::milliseconds ms);
[[nodiscard]] std::string format_seconds(double seconds);

// "812 µs", "12.40 ms", "1.20 s".
[[nodiscard]] std::string format_duration_us(uint64_t us);

// Now in UTC, to the millisecond: "2026-12-07T12:00:00.123Z" (ordered as text as in time).
[[nodiscard]] std::string utc_timestamp_now();
[[nodiscard]] std::string utc_timestamp(std::chrono::system_clock::time_point time);

}  // namespace bombarder
