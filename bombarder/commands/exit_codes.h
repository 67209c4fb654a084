// bombarder's exit codes (design.md §4: "exits non-zero when what it checks fails"), the
// command line's policy: only commands/ know them. Library code reports an `Error` of a kind
// (base/errors.h) or returns what happened; a command chooses the code.
//   0  the command did what it was asked and every check held
//   1  the command ran but a check failed (success below --min-success, replicas differ, ...)
//   2  usage error: unknown flag, bad value, bad URL, bad file content
//   3  the environment refused: no cluster running, ports taken, node binary missing, no leader
#pragma once

#include "bombarder/base/errors.h"

namespace bombarder {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitEnvironment = 3;

// The code a command ends with when an `Error` of `kind` reaches main(): invalid input 2,
// environment 3, a failed check 1.
[[nodiscard]] constexpr int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return kExitUsage;
    case ErrorKind::kEnvironment: return kExitEnvironment;
    case ErrorKind::kCheckFailed: return kExitCheckFailed;
  }
  return kExitEnvironment;
}

}  // namespace bombarder
