// What every bombarder command shares: how errors end the program, how node addresses are
// written on the command line, where the data root is, and whether output goes to a terminal.
//
// Exit codes (design.md §4: "exits non-zero when what it checks fails"):
//   0  the command did what it was asked and every check held
//   1  the command ran but a check failed (success below --min-success, replicas differ, ...)
//   2  usage error: unknown flag, bad value, bad URL
//   3  the environment refused: no cluster running, ports taken, node binary missing, no leader
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.h"

namespace bombarder {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitEnvironment = 3;

// Thrown by a command to end the program with a one-line message on stderr
// ("bombarder: error: <message>") and `exit_code`.
class CommandError : public std::runtime_error {
 public:
  CommandError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

[[noreturn]] inline void usage_error(const std::string& message) {
  throw CommandError(kExitUsage, message);
}
[[noreturn]] inline void environment_error(const std::string& message) {
  throw CommandError(kExitEnvironment, message);
}

// A node address as users write it: "http://127.0.0.1:8080", "http://host:8080/",
// "127.0.0.1:8080" or "8080" (host 127.0.0.1). Paths other than "/" are refused, and https://
// unless node TLS is configured (node_tls.h).
// Throws CommandError(kExitUsage) naming the bad text.
[[nodiscard]] common::Endpoint parse_node_url(std::string_view text);
// A comma-separated list of node addresses (also accepts repeated flags already split by CLI11).
[[nodiscard]] std::vector<common::Endpoint> parse_node_list(const std::vector<std::string>& items);
// "http://host:port" ("https://" when node TLS is configured, node_tls.h), as printed in tables.
[[nodiscard]] std::string node_url(const common::Endpoint& endpoint);

// $STRESS_TEST_DATA, or "data" (design.md §4), as an absolute path.
[[nodiscard]] std::filesystem::path data_root();

// True when stdout (or stderr for progress) is a terminal: progress lines and in-place redraws
// only then; piped output stays plain.
[[nodiscard]] bool stdout_is_terminal();
[[nodiscard]] bool stderr_is_terminal();

}  // namespace bombarder
