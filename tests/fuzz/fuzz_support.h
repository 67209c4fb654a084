// Shared by the libFuzzer targets in tests/fuzz/ (scripts/fuzz.sh, docs/testing.md "Fuzzing").
//
// A target's oracle failing is a finding: FUZZ_CHECK prints what broke and aborts, so libFuzzer
// saves the input as a crash artifact, exactly as for a sanitizer report.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#define FUZZ_CHECK(condition, what)                                                               \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "fuzz: %s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                                    \
      std::abort();                                                                               \
    }                                                                                             \
  } while (false)

namespace fuzz {

// A scratch directory for one fuzzing process, removed at exit. Under $TEST_TMPDIR when set,
// else /dev/shm (RocksDB's syncs are free on tmpfs: a target that writes runs several times
// faster), else /tmp.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view name) {
    const char* root = std::getenv("TEST_TMPDIR");
    std::string base = root != nullptr                             ? root
                       : std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                                                   : "/tmp";
    std::string pattern = base + "/" + std::string(name) + ".XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("fuzz: mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fuzz
