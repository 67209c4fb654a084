#include "fatal.h"

#include <rocksdb/status.h>

#include <cstdio>
#include <cstdlib>

namespace kv::detail {

void fatal(const char* what, const std::string& detail, const char* file, int line) {
  std::fprintf(stderr, "libkv fatal: %s: %s at %s:%d\n", what, detail.c_str(), file, line);
  std::fflush(stderr);
  std::abort();
}

bool check_read(const rocksdb::Status& status, const char* what, bool allow_not_found,
                const char* file, int line) {
  if (status.ok()) return true;
  if (allow_not_found && status.IsNotFound()) return false;
  fatal("storage read failed", std::string(what) + ": " + status.ToString(), file, line);
}

}  // namespace kv::detail
