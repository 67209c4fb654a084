// Invariant checks that stay on in release builds (style.md habit 4: a broken invariant is a bug;
// crash loudly instead of corrupting replicated state).
#pragma once

namespace raft {
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const char* why);
}  // namespace raft

#define RAFT_ASSERT(expr, why)                                             \
  do {                                                                     \
    if (!(expr)) ::raft::assertion_failed(#expr, __FILE__, __LINE__, why); \
  } while (0)
