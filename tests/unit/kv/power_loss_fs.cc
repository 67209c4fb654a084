#include "power_loss_fs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace kv::test {

namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

std::string normalized(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string parent_of(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

std::string name_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Forwards everything to the real file, telling the file system what was written and synced.
class TrackedWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedWritableFile(PowerLossFs* fs, std::string path,
                      std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  IODebugContext* dbg) override {
    const bool running = fs_->begin_mutation();
    IOStatus s = target()->Append(data, options, dbg);
    if (s.ok() && running) fs_->appended(path_, data.size());
    return s;
  }
  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& /*info*/, IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    const bool running = fs_->begin_mutation();
    const uint64_t before = target()->GetFileSize(options, dbg);
    IOStatus s = target()->PositionedAppend(data, offset, options, dbg);
    const uint64_t end = offset + data.size();
    if (s.ok() && running && end > before) fs_->appended(path_, end - before);
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& /*info*/,
                            IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    if (!fs_->begin_mutation()) return IOStatus::OK();  // could cut synced bytes: not done
    IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_->truncated(path_, size);
    return s;
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    return sync([&] { return target()->Sync(options, dbg); });
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    return sync([&] { return target()->Fsync(options, dbg); });
  }
  // sync_file_range(2) starts writeback but promises nothing: not a sync in this model.
  IOStatus RangeSync(uint64_t /*offset*/, uint64_t /*nbytes*/, const IOOptions& /*options*/,
                     IODebugContext* /*dbg*/) override {
    return IOStatus::OK();
  }

 private:
  template <typename Forward>
  IOStatus sync(Forward&& forward) {
    if (!fs_->begin_mutation()) return IOStatus::OK();
    if (fs_->forward_syncs()) {
      if (IOStatus s = forward(); !s.ok()) return s;
    }
    fs_->synced(path_, 0);
    return IOStatus::OK();
  }

  PowerLossFs* fs_;
  const std::string path_;
};

class TrackedDirectory final : public rocksdb::FSDirectory {
 public:
  TrackedDirectory(PowerLossFs* fs, std::string path, std::unique_ptr<rocksdb::FSDirectory> target)
      : fs_(fs), path_(std::move(path)), target_(std::move(target)) {}

  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    if (!fs_->begin_mutation()) return IOStatus::OK();
    if (fs_->forward_syncs()) {
      if (IOStatus s = target_->Fsync(options, dbg); !s.ok()) return s;
    }
    fs_->dir_synced(path_);
    return IOStatus::OK();
  }
  IOStatus FsyncWithDirOptions(const IOOptions& options, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& /*dir_options*/) override {
    return Fsync(options, dbg);
  }
  IOStatus Close(const IOOptions& options, IODebugContext* dbg) override {
    return target_->Close(options, dbg);
  }
  size_t GetUniqueId(char* id, size_t max_size) const override {
    return target_->GetUniqueId(id, max_size);
  }

 private:
  PowerLossFs* fs_;
  const std::string path_;
  std::unique_ptr<rocksdb::FSDirectory> target_;
};

}  // namespace

PowerLossFs::PowerLossFs(bool forward_syncs, std::shared_ptr<rocksdb::FileSystem> base)
    : FileSystemWrapper(base), forward_syncs_(forward_syncs) {}

void PowerLossFs::crash_after(uint64_t n) {
  std::lock_guard lock(mu_);
  crash_at_ = mutations_ + std::max<uint64_t>(n, 1);
}

void PowerLossFs::never_crash() {
  std::lock_guard lock(mu_);
  crash_at_ = UINT64_MAX;
}

bool PowerLossFs::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

uint64_t PowerLossFs::mutations() const {
  std::lock_guard lock(mu_);
  return mutations_;
}

bool PowerLossFs::begin_mutation() {
  std::lock_guard lock(mu_);
  if (crashed_ || mutations_ + 1 >= crash_at_) {
    crashed_ = true;
    return false;
  }
  ++mutations_;
  return true;
}

void PowerLossFs::appended(const std::string& path, uint64_t bytes) {
  std::lock_guard lock(mu_);
  files_[normalized(path)].size_bytes += bytes;
}

void PowerLossFs::synced(const std::string& path, uint64_t /*size_bytes*/) {
  std::lock_guard lock(mu_);
  FileState& f = files_[normalized(path)];
  f.synced_bytes = f.size_bytes;
}

void PowerLossFs::truncated(const std::string& path, uint64_t size_bytes) {
  std::lock_guard lock(mu_);
  // A file not written since the last power loss is durable as it is (RocksDB truncates the
  // preallocated tail of the WAL it recovers from: that must not count as unsynced).
  auto [it, untracked] = files_.emplace(normalized(path), FileState{size_bytes, size_bytes});
  if (untracked) return;
  FileState& f = it->second;
  f.size_bytes = size_bytes;
  f.synced_bytes = std::min(f.synced_bytes, size_bytes);
}

void PowerLossFs::dir_synced(const std::string& dir) {
  std::lock_guard lock(mu_);
  unsynced_entries_.erase(normalized(dir));
}

void PowerLossFs::new_entry_locked(const std::string& path, PreviousContents previous) {
  // emplace keeps an earlier record: what the name held before its first unsynced change.
  unsynced_entries_[parent_of(path)].emplace(name_of(path), std::move(previous));
}

PowerLossFs::PreviousContents PowerLossFs::durable_contents_locked(const std::string& path) const {
  std::optional<std::string> contents = read_whole_file(path);
  if (!contents) return std::nullopt;
  auto f = files_.find(path);
  if (f != files_.end() && f->second.synced_bytes < contents->size()) {
    contents->resize(f->second.synced_bytes);
  }
  return contents;
}

void PowerLossFs::forget_entry_locked(const std::string& path) {
  auto dir = unsynced_entries_.find(parent_of(path));
  if (dir == unsynced_entries_.end()) return;
  auto entry = dir->second.find(name_of(path));
  // A removed name that replaced durable contents would get them back: keep that record.
  if (entry != dir->second.end() && !entry->second.has_value()) dir->second.erase(entry);
}

IOStatus PowerLossFs::wrap_writable(const std::string& path, IOStatus s,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    uint64_t size_bytes, bool all_synced) {
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    FileState& f = files_[path];
    if (all_synced) {
      f = FileState{size_bytes, size_bytes};
    } else {
      f.size_bytes = size_bytes;
      f.synced_bytes = std::min(f.synced_bytes, size_bytes);
    }
  }
  *result = std::make_unique<TrackedWritableFile>(this, path, std::move(*result));
  return s;
}

IOStatus PowerLossFs::NewWritableFile(const std::string& path_in,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  const bool running = begin_mutation();
  const bool existed = target()->FileExists(path, IOOptions(), dbg).ok();
  PreviousContents previous;
  if (existed && !running) {
    std::lock_guard lock(mu_);
    previous = durable_contents_locked(path);
  }
  IOStatus s = target()->NewWritableFile(path, options, result, dbg);
  if (s.ok() && (!existed || !running)) {
    std::lock_guard lock(mu_);
    new_entry_locked(path, std::move(previous));
  }
  // Before the stop, an existing file is truncated: its old bytes count as lost too (a
  // conservative choice). After the stop, the truncation is undone at the power loss.
  return wrap_writable(path, s, result, 0, /*all_synced=*/false);
}

IOStatus PowerLossFs::ReopenWritableFile(const std::string& path_in,
                                         const rocksdb::FileOptions& options,
                                         std::unique_ptr<rocksdb::FSWritableFile>* result,
                                         IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  // Reopening changes nothing on disk; what is appended later is tracked (or not) by the file.
  (void)begin_mutation();
  const bool existed = target()->FileExists(path, IOOptions(), dbg).ok();
  IOStatus s = target()->ReopenWritableFile(path, options, result, dbg);
  if (!s.ok()) return s;
  // (The reopened file's own GetFileSize starts at 0 for a POSIX file: ask the file system.)
  uint64_t size = 0;
  if (IOStatus st = target()->GetFileSize(path, IOOptions(), &size, dbg); !st.ok()) return st;
  bool known = false;
  {
    std::lock_guard lock(mu_);
    if (!existed) new_entry_locked(path, std::nullopt);
    known = files_.count(path) > 0;
  }
  // Bytes written before this boot (unknown to us) are durable.
  return wrap_writable(path, s, result, size, /*all_synced=*/!known);
}

IOStatus PowerLossFs::ReuseWritableFile(const std::string& path_in, const std::string& old_in,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSWritableFile>* result,
                                        IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  const std::string old_path = normalized(old_in);
  const bool running = begin_mutation();
  PreviousContents old_contents;
  if (!running) {
    std::lock_guard lock(mu_);
    old_contents = durable_contents_locked(old_path);
  }
  IOStatus s = target()->ReuseWritableFile(path, old_path, options, result, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    files_.erase(old_path);
    if (running) {
      forget_entry_locked(old_path);
    } else {
      new_entry_locked(old_path, std::move(old_contents));  // the reuse is undone
    }
    new_entry_locked(path, std::nullopt);
  }
  return wrap_writable(path, s, result, 0, /*all_synced=*/false);
}

IOStatus PowerLossFs::NewDirectory(const std::string& path_in, const IOOptions& options,
                                   std::unique_ptr<rocksdb::FSDirectory>* result,
                                   IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  std::unique_ptr<rocksdb::FSDirectory> dir;
  IOStatus s = target()->NewDirectory(path, options, &dir, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<TrackedDirectory>(this, path, std::move(dir));
  return s;
}

IOStatus PowerLossFs::RenameFile(const std::string& from_in, const std::string& to_in,
                                 const IOOptions& options, IODebugContext* dbg) {
  const std::string from = normalized(from_in);
  const std::string to = normalized(to_in);
  const bool running = begin_mutation();
  std::lock_guard lock(mu_);
  // The target's current contents come back if the rename is lost (CURRENT, for one).
  PreviousContents previous = running ? read_whole_file(to) : durable_contents_locked(to);
  // After the stop, the source comes back too.
  PreviousContents source = running ? std::nullopt : durable_contents_locked(from);
  IOStatus s = target()->RenameFile(from, to, options, dbg);
  if (!s.ok()) return s;
  auto node = files_.extract(from);
  files_.erase(to);
  if (!node.empty()) {
    node.key() = to;
    files_.insert(std::move(node));
  }
  if (running) {
    forget_entry_locked(from);
  } else {
    new_entry_locked(from, std::move(source));
  }
  new_entry_locked(to, std::move(previous));
  return s;
}

IOStatus PowerLossFs::LinkFile(const std::string& from_in, const std::string& to_in,
                               const IOOptions& options, IODebugContext* dbg) {
  const std::string to = normalized(to_in);
  (void)begin_mutation();  // a new name: undone at the power loss unless its directory is synced
  IOStatus s = target()->LinkFile(normalized(from_in), to, options, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    new_entry_locked(to, std::nullopt);
  }
  return s;
}

IOStatus PowerLossFs::DeleteFile(const std::string& path_in, const IOOptions& options,
                                 IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  if (!begin_mutation()) return IOStatus::OK();  // could not be undone: not done
  IOStatus s = target()->DeleteFile(path, options, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    files_.erase(path);
    forget_entry_locked(path);
  }
  return s;
}

IOStatus PowerLossFs::CreateDir(const std::string& path_in, const IOOptions& options,
                                IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  (void)begin_mutation();  // a new name: undone at the power loss unless its parent is synced
  IOStatus s = target()->CreateDir(path, options, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    new_entry_locked(path, std::nullopt);
  }
  return s;
}

IOStatus PowerLossFs::CreateDirIfMissing(const std::string& path_in, const IOOptions& options,
                                         IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  if (target()->FileExists(path, options, dbg).ok()) return IOStatus::OK();  // changes nothing
  return CreateDir(path, options, dbg);
}

IOStatus PowerLossFs::DeleteDir(const std::string& path_in, const IOOptions& options,
                                IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  if (!begin_mutation()) return IOStatus::OK();  // could not be undone: not done
  IOStatus s = target()->DeleteDir(path, options, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    forget_entry_locked(path);
  }
  return s;
}

IOStatus PowerLossFs::Truncate(const std::string& path_in, size_t size, const IOOptions& options,
                               IODebugContext* dbg) {
  const std::string path = normalized(path_in);
  if (!begin_mutation()) return IOStatus::OK();  // could cut synced bytes: not done
  IOStatus s = target()->Truncate(path, size, options, dbg);
  if (s.ok()) truncated(path, size);
  return s;
}

void PowerLossFs::lose_power(std::mt19937_64& rng, bool keep_unsynced_prefix) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  // Directory entries first: a vanished file needs no cutting. Deepest directories first, so
  // that restoring a name inside a directory that vanishes too is harmless.
  for (auto dir = unsynced_entries_.rbegin(); dir != unsynced_entries_.rend(); ++dir) {
    for (const auto& [name, previous] : dir->second) {
      const std::string path = dir->first + "/" + name;
      std::filesystem::remove_all(path, ec);
      std::erase_if(files_, [&](const auto& f) {
        return f.first == path || f.first.rfind(path + "/", 0) == 0;
      });
      if (previous.has_value()) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(previous->data(), static_cast<std::streamsize>(previous->size()));
      }
    }
  }
  for (const auto& [path, f] : files_) {
    const auto on_disk = std::filesystem::file_size(path, ec);
    if (ec) continue;  // removed meanwhile
    uint64_t keep = f.synced_bytes;
    if (keep_unsynced_prefix && f.size_bytes > f.synced_bytes) {
      keep += std::uniform_int_distribution<uint64_t>(0, f.size_bytes - f.synced_bytes)(rng);
    }
    if (keep < on_disk) std::filesystem::resize_file(path, keep, ec);
  }
  files_.clear();
  unsynced_entries_.clear();
  crashed_ = false;
  crash_at_ = UINT64_MAX;
}

}  // namespace kv::test
