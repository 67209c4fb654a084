// Crashing loudly on broken invariants and unreadable storage (internal to libkv).
//
// raft::Storage's contract: a node that cannot read its own disk cannot make progress safely,
// so read errors abort instead of returning a made-up answer. The same holds for a record in our
// own database that fails to decode: it was written by us, so that is corruption.
#pragma once

#include <string>

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace kv::detail {

[[noreturn]] void fatal(const char* what, const std::string& detail, const char* file, int line);

// Aborts unless `status` is ok (or NotFound when allowed). Returns true iff found.
bool check_read(const rocksdb::Status& status, const char* what, bool allow_not_found,
                const char* file, int line);

}  // namespace kv::detail

#define KV_CHECK(expr, why)                                                                    \
  do {                                                                                         \
    if (!(expr))                                                                               \
      ::kv::detail::fatal("libkv invariant violated", why " (" #expr ")", __FILE__, __LINE__); \
  } while (0)

#define KV_FATAL(what, why) ::kv::detail::fatal(what, why, __FILE__, __LINE__)

// Returns whether the key was found; aborts on any other error.
#define KV_READ_FOUND(status, what) ::kv::detail::check_read(status, what, true, __FILE__, __LINE__)
#define KV_READ_OK(status, what) \
  (void)::kv::detail::check_read(status, what, false, __FILE__, __LINE__)
