// Duration flags (issue 16 "one duration parser"): every bombarder flag that takes a length of
// time accepts what common::parse_duration accepts, "500ms", "2s", "1.5s", "2m", or a bare number
// of seconds, and its --help says so. (Before, `storm --downtime 2s` was refused while
// `chaos --downtime 2` needed no unit; now both forms work everywhere.) The one exception is
// `burst --pause`, a number of milliseconds by its name.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace bombarder {

// What a duration flag's description ends with.
inline constexpr const char* kDurationHelp = " (500ms, 2s, 1m; a bare number is seconds)";

// --NAME bound to `seconds`: any duration form is accepted and lands as its number of seconds
// (to the millisecond); anything else is a one-line usage error naming the flag.
CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name, double& seconds,
                                const std::string& description);

// --NAME bound to `text`, parsed later with parse_duration (fault schedules, chaos): only the
// description gains the forms.
CLI::Option* add_duration_option(CLI::App* cmd, const std::string& name, std::string& text,
                                 const std::string& description);

}  // namespace bombarder
