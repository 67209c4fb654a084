// Snapshot files and directories (internal to libkv), through the node's rocksdb::FileSystem
// (Db::file_system()): the same file system RocksDB uses, so that a test's fault-injecting file
// system (kv::DbOptions::file_system) sees and can drop the unsynced bytes and directory entries
// of the snapshot files exactly as it does for RocksDB's own files.
//
// Syncs are explicit: a snapshot install is only crash-safe if the body is durable before the
// WriteBatch that points at it, and a created or renamed file only survives a power loss once
// its directory is synced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kv/status.h"

namespace rocksdb {
class FileSystem;
class FSWritableFile;
class FSRandomAccessFile;
}  // namespace rocksdb

namespace kv::detail {

// One open file: written front to back (create) or read at offsets (open_read). Move-only; the
// FileSystem must outlive it.
class File {
 public:
  File();
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Truncates or creates `path` for writing. The new directory entry is durable only after
  // sync_dir() of its parent (rename_durably() does it).
  [[nodiscard]] static Result<File> create(rocksdb::FileSystem& fs,
                                           const std::filesystem::path& path);
  [[nodiscard]] static Result<File> open_read(rocksdb::FileSystem& fs,
                                              const std::filesystem::path& path);

  // Writer only.
  [[nodiscard]] Status append(std::string_view bytes);
  // Reader only. Up to `n` bytes at `offset` into *out (fewer only at end of file).
  [[nodiscard]] Status read_at(uint64_t offset, uint64_t n, std::string* out) const;
  // Writer only: makes the appended bytes durable (fdatasync).
  [[nodiscard]] Status sync();
  [[nodiscard]] Result<uint64_t> size() const;
  [[nodiscard]] bool is_open() const { return writer_ != nullptr || reader_ != nullptr; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  rocksdb::FileSystem* fs_ = nullptr;
  std::unique_ptr<rocksdb::FSWritableFile> writer_;
  std::unique_ptr<rocksdb::FSRandomAccessFile> reader_;
  std::filesystem::path path_;
};

// fsync a directory, making the creations, renames and removals in it durable.
[[nodiscard]] Status sync_dir(rocksdb::FileSystem& fs, const std::filesystem::path& dir);

// Test hook: when set, called with every directory sync_dir() has just synced (any thread).
// Tests use it to check that a directory entry was made durable; nullptr (the default) turns
// it off.
using SyncDirObserver = void (*)(const std::filesystem::path& dir);
void set_sync_dir_observer(SyncDirObserver observer);
// rename then fsync of the target's directory.
[[nodiscard]] Status rename_durably(rocksdb::FileSystem& fs, const std::filesystem::path& from,
                                    const std::filesystem::path& to);
// Creates `dir` and its missing parents, fsyncing the parent of each directory it creates, so
// that the new directory itself survives a power loss (not only the files later put in it).
[[nodiscard]] Status create_directories_durably(rocksdb::FileSystem& fs,
                                                const std::filesystem::path& dir);
// Names (not paths) of the entries in `dir`.
[[nodiscard]] Result<std::vector<std::string>> list_dir(rocksdb::FileSystem& fs,
                                                        const std::filesystem::path& dir);
// Best effort: a file left behind is removed on the next open.
void remove_file_if_exists(rocksdb::FileSystem& fs, const std::filesystem::path& path);

}  // namespace kv::detail
