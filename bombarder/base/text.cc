#include "bombarder/base/text.h"

#include <cinttypes>
#include <ctime>

#include "bombarder/base/errors.h"
#include "common/duration.h"

namespace bombarder {

std::chrono::milliseconds parse_duration(std::string_view text, const std::string& what) {
  const std::optional<std::chrono::milliseconds> ms = common::parse_duration(text, kDurationMax);
  if (!ms) {
    invalid_input(what + ": '" + std::string(text) +
                  "' is not a duration in [0, 24h] (250ms, 3s, 1.5s, 2m or seconds)");
  }
  return *ms;
}

std::string format_seconds(std::chrono::milliseconds ms) {
  return format_seconds(static_cast<double>(ms.count()) / 1000.0);
}

std::string format_seconds(double seconds) { return printf_text("%.1f s", seconds); }

std::string format_duration_us(uint64_t us) {
  if (us < 1000) return printf_text("%" PRIu64 " µs", us);
  if (us < 1000000) return printf_text("%.2f ms", static_cast<double>(us) / 1000.0);
  return printf_text("%.2f s", static_cast<double>(us) / 1e6);
}

std::string utc_timestamp_now() { return utc_timestamp(std::chrono::system_clock::now()); }

std::string utc_timestamp(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return printf_text("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     static_cast<int>(ms.count() % 1000));
}

}  // namespace bombarder
