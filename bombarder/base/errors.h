// How bombarder's failures end the program: a one-line message and an exit code.
//
// Exit codes (design.md §4: "exits non-zero when what it checks fails"):
//   0  the command did what it was asked and every check held
//   1  the command ran but a check failed (success below --min-success, replicas differ, ...)
//   2  usage error: unknown flag, bad value, bad URL
//   3  the environment refused: no cluster running, ports taken, node binary missing, no leader
#pragma once

#include <stdexcept>
#include <string>

namespace bombarder {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitEnvironment = 3;

// Thrown to end the program with a one-line message on stderr ("bombarder: error: <message>")
// and `exit_code` (commands/main.cc).
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

}  // namespace bombarder
