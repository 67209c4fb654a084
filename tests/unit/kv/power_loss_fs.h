// PowerLossFs: a rocksdb::FileSystem for crash tests that can simulate a power loss, after
// RocksDB's own FaultInjectionTestFS (utilities/fault_injection_fs.h), written for libkv.
//
// It writes through to the real file system and remembers, per file, how many bytes were made
// durable by Sync/Fsync, and per directory, which entries (files or directories created, files
// renamed into it) were not yet made durable by an fsync of that directory. A crash point,
// crash_after(n), stops the machine at the n-th next mutating operation (create, append, sync,
// rename, delete, mkdir, directory fsync, truncate): that operation and every later one happen
// after the stop, so none of them may have any durable effect. They still succeed, so the
// process carries on unaware (as its threads would for the instant before the power goes) and
// no error path runs that the real event would not run (RocksDB 7.8 as Debian builds it asserts
// in CompactionJob::Install when a compaction's output writes fail); a test must not count an
// acknowledgement it observed after crashed() became true. After the stop, writes and creations
// reach the disk (reads stay consistent) but are not tracked, syncs make nothing durable, and
// deletions and truncations are not carried out (they could not be undone). Then lose_power()
// changes the files on disk to what a power loss could have left:
//   - every directory entry not made durable vanishes (a replaced rename target gets its old
//     contents back; a durable name renamed or reused after the stop comes back too);
//   - every file is cut to its synced length, or with keep_unsynced_prefix to its synced length
//     plus a random prefix of the unsynced bytes written before the stop (a torn tail);
// and afterwards everything on disk counts as durable (a new boot).
// Not modelled: deleted files coming back, reordering of unsynced writes within a file other
// than a prefix, RandomRWFile (unused by libkv and RocksDB's default options), I/O errors.
//
// Syncs are not passed to the real file system unless forward_syncs: what is durable is decided
// here, and the tests run at page-cache speed.
//
// Thread-safe (RocksDB's background threads write through it).
#pragma once

#include <rocksdb/file_system.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

namespace kv::test {

class PowerLossFs final : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerLossFs(bool forward_syncs = false,
                       std::shared_ptr<rocksdb::FileSystem> base = rocksdb::FileSystem::Default());
  static const char* kClassName() { return "PowerLossFs"; }
  const char* Name() const override { return kClassName(); }

  // The crash point: the machine stops at the n-th mutating operation from now (n >= 1).
  void crash_after(uint64_t n);
  // No crash point.
  void never_crash();
  [[nodiscard]] bool crashed() const;
  // Mutating operations carried out before the stop, since construction.
  [[nodiscard]] uint64_t mutations() const;

  // Applies the power loss to the files on disk (see above) and clears the crash point. Call it
  // once nothing uses the file system (the Store destroyed).
  void lose_power(std::mt19937_64& rng, bool keep_unsynced_prefix);

  // --- rocksdb::FileSystem ---
  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& path, const std::string& old_path,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& path, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& path, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& path, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& path, const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& path, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& path, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;

  // --- for the file and directory wrappers (power_loss_fs.cc) ---
  // True while the machine runs; false once the crash point is reached (the operation happens
  // after the stop: no durable effect).
  [[nodiscard]] bool begin_mutation();
  void appended(const std::string& path, uint64_t bytes);
  void synced(const std::string& path, uint64_t size_bytes);
  void truncated(const std::string& path, uint64_t size_bytes);
  void dir_synced(const std::string& dir);
  [[nodiscard]] bool forward_syncs() const { return forward_syncs_; }

 private:
  struct FileState {
    uint64_t size_bytes = 0;
    uint64_t synced_bytes = 0;
  };
  // A directory entry not yet durable: what the name held before (nullopt: nothing).
  using PreviousContents = std::optional<std::string>;

  void new_entry_locked(const std::string& path, PreviousContents previous);
  // What a power loss would leave of `path` now: its synced bytes (nullopt: no such file).
  PreviousContents durable_contents_locked(const std::string& path) const;
  void forget_entry_locked(const std::string& path);
  rocksdb::IOStatus wrap_writable(const std::string& path, rocksdb::IOStatus s,
                                  std::unique_ptr<rocksdb::FSWritableFile>* result,
                                  uint64_t size_bytes, bool all_synced);

  const bool forward_syncs_;
  mutable std::mutex mu_;
  uint64_t mutations_ = 0;
  uint64_t crash_at_ = UINT64_MAX;  // mutations_ value at which the machine stops
  bool crashed_ = false;
  std::map<std::string, FileState> files_;  // by normalized path
  std::map<std::string, std::map<std::string, PreviousContents>> unsynced_entries_;  // dir->name
};

}  // namespace kv::test
