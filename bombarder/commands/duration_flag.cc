#include "bombarder/commands/duration_flag.h"

#include <chrono>
#include <cstdio>

#include "common/duration.h"

namespace bombarder {

namespace {

// A year: far past any run, and well inside a double's exact milliseconds.
constexpr std::chrono::milliseconds kDurationFlagMax = std::chrono::hours(24 * 365);

std::string as_seconds_text(const std::string& text) {
  const std::optional<std::chrono::milliseconds> ms =
      common::parse_duration(text, kDurationFlagMax);
  if (!ms) {
    throw CLI::ValidationError("'" + text +
                               "' is not a duration (500ms, 2s, 1m, or a bare number of seconds)");
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(ms->count()) / 1000.0);
  return seconds;
}

}  // namespace

CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name, double& seconds,
                                const std::string& description) {
  return cmd->add_option(name, seconds, description + kDurationHelp)
      ->transform(as_seconds_text)
      ->type_name("DURATION");
}

CLI::Option* add_duration_option(CLI::App* cmd, const std::string& name, std::string& text,
                                 const std::string& description) {
  return cmd->add_option(name, text, description + kDurationHelp)->type_name("DURATION");
}

}  // namespace bombarder
