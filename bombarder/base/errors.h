// The one error type of bombarder's library code: what failed, not how the program ends.
//
// Library code throws `Error` through the [[noreturn]] helpers below. A failure almost always
// ends the command, after the cleanup on the way up (a failed `cluster start` stops the nodes it
// started, `inject` reverts its active faults), and commands/main.cc turns the kind into the
// exit code (commands/exit_codes.h: the only place that knows exit codes). Where a caller's normal
// path is to handle a failure (the supervisor retries a restart with backoff, the process plugin
// reports a failed resurrect, inject reports a failed fault and goes on), it catches `Error` right
// there, or the library returns an explicit outcome (a bool, a std::optional, a small struct)
// instead of throwing. Other exceptions (nlohmann::json, std::filesystem) are the environment's
// failures unless a module wraps them.
#pragma once

#include <stdexcept>
#include <string>

namespace bombarder {

enum class ErrorKind {
  // The user's input is wrong: a flag's value, a file's content (schedule, config), a node URL.
  kInvalidInput,
  // The world refused: no cluster recorded or running, a port taken, a binary missing, no
  // leader, a file that cannot be read or written, a fork or pipe that failed.
  kEnvironment,
  // The work was done, and a check the user asked for did not hold (a resync that did not
  // complete, a leader refusing a resync for a reason other than the request itself).
  kCheckFailed,
};

// "invalid input", "environment", "check failed" (test messages, logs).
[[nodiscard]] constexpr const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid input";
    case ErrorKind::kEnvironment: return "environment";
    case ErrorKind::kCheckFailed: return "check failed";
  }
  return "unknown";
}

// `what()` is one line meant for the user ("--nodes must be between 1 and 9, not 12"); main()
// prints it as "bombarder: error: <what>".
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  [[nodiscard]] ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void invalid_input(const std::string& message) {
  throw Error(ErrorKind::kInvalidInput, message);
}
[[noreturn]] inline void environment_failure(const std::string& message) {
  throw Error(ErrorKind::kEnvironment, message);
}
[[noreturn]] inline void check_failed(const std::string& message) {
  throw Error(ErrorKind::kCheckFailed, message);
}

}  // namespace bombarder
