// What bombarder's library code throws on bad input or a refusing environment is a
// std::runtime_error with a one-line message: tests assert on the message, not on the type that
// carries the exit code (commands choose exit codes).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace bombarder::test {

inline constexpr const char* kNoError = "<no error>";

// The message of the std::runtime_error `f` throws, or kNoError when it returns.
inline std::string runtime_error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return kNoError;
}

}  // namespace bombarder::test
