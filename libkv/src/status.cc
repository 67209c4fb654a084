#include "kv/status.h"

#include <cstdio>
#include <cstdlib>

namespace kv {

const char* to_string(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kIoError: return "I/O error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(kv::to_string(code_)) + ": " + message_;
}

namespace detail {

void result_value_of_error(const Status& status) {
  std::fprintf(stderr, "libkv bug: value of a failed Result (%s)\n", status.to_string().c_str());
  std::fflush(stderr);
  std::abort();
}

void result_of_ok_status() {
  std::fprintf(stderr, "libkv bug: a failed Result built from an ok Status\n");
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail
}  // namespace kv
