// Plain POSIX files for snapshot bodies (internal to libkv): explicit fsync of files and
// directories, because a snapshot install is only crash-safe if the body is durable before the
// WriteBatch that points at it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "kv/status.h"

namespace kv::detail {

class File {
 public:
  File() = default;
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Truncates or creates `path` for writing.
  [[nodiscard]] static Result<File> create(const std::filesystem::path& path);
  // Opens an existing file for appending (writes go to its end).
  [[nodiscard]] static Result<File> open_append(const std::filesystem::path& path);
  [[nodiscard]] static Result<File> open_read(const std::filesystem::path& path);

  [[nodiscard]] Status append(std::string_view bytes);
  // Up to `n` bytes at `offset` into *out (fewer only at end of file).
  [[nodiscard]] Status read_at(uint64_t offset, uint64_t n, std::string* out) const;
  [[nodiscard]] Status sync();
  [[nodiscard]] Result<uint64_t> size() const;
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  File(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::filesystem::path path_;
};

// fsync a directory, making the renames and creations in it durable.
[[nodiscard]] Status sync_dir(const std::filesystem::path& dir);
// create_directories(dir), then fsync of its parent: a directory made by mkdir(2) is only
// durable once the directory entry naming it is (a power loss may otherwise lose `dir` and
// every file later made durable inside it).
[[nodiscard]] Status create_dir_durably(const std::filesystem::path& dir);

// Test hook: when set, called with every directory sync_dir() has just synced (any thread).
// Tests use it to check that a directory entry was made durable; nullptr (the default) turns
// it off.
using SyncDirObserver = void (*)(const std::filesystem::path& dir);
void set_sync_dir_observer(SyncDirObserver observer);
// rename(2) then fsync of the parent directory.
[[nodiscard]] Status rename_durably(const std::filesystem::path& from,
                                    const std::filesystem::path& to);

}  // namespace kv::detail
