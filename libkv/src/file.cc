#include "file.h"

#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <utility>

namespace kv::detail {

namespace {

std::atomic<SyncDirObserver> sync_dir_observer{nullptr};

Status io_status(const char* op, const std::filesystem::path& path, const rocksdb::IOStatus& s) {
  return Status::io_error(std::string(op) + " " + path.string() + ": " + s.ToString());
}

}  // namespace

File::File() = default;
File::~File() {
  if (writer_ != nullptr) (void)writer_->Close(rocksdb::IOOptions(), nullptr);
}
File::File(File&& other) noexcept = default;
File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (writer_ != nullptr) (void)writer_->Close(rocksdb::IOOptions(), nullptr);
    fs_ = std::exchange(other.fs_, nullptr);
    writer_ = std::move(other.writer_);
    reader_ = std::move(other.reader_);
    path_ = std::move(other.path_);
  }
  return *this;
}

Result<File> File::create(rocksdb::FileSystem& fs, const std::filesystem::path& path) {
  File file;
  file.fs_ = &fs;
  file.path_ = path;
  rocksdb::IOStatus s =
      fs.NewWritableFile(path.string(), rocksdb::FileOptions(), &file.writer_, nullptr);
  if (!s.ok()) return io_status("create", path, s);
  return file;
}

Result<File> File::open_read(rocksdb::FileSystem& fs, const std::filesystem::path& path) {
  File file;
  file.fs_ = &fs;
  file.path_ = path;
  rocksdb::IOStatus s =
      fs.NewRandomAccessFile(path.string(), rocksdb::FileOptions(), &file.reader_, nullptr);
  if (!s.ok()) return io_status("open", path, s);
  return file;
}

Status File::append(std::string_view bytes) {
  rocksdb::IOStatus s =
      writer_->Append(rocksdb::Slice(bytes.data(), bytes.size()), rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return io_status("write", path_, s);
  return Status();
}

Status File::read_at(uint64_t offset, uint64_t n, std::string* out) const {
  out->resize(n);
  uint64_t done = 0;
  while (done < n) {
    rocksdb::Slice got;
    rocksdb::IOStatus s = reader_->Read(offset + done, n - done, rocksdb::IOOptions(), &got,
                                        out->data() + done, nullptr);
    if (!s.ok()) return io_status("read", path_, s);
    if (got.empty()) break;  // end of file
    // Read may return a pointer into its own buffer instead of filling the scratch space.
    if (got.data() != out->data() + done)
      std::copy(got.data(), got.data() + got.size(), out->data() + done);
    done += got.size();
  }
  out->resize(done);
  return Status();
}

Status File::sync() {
  rocksdb::IOStatus s = writer_->Sync(rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return io_status("fdatasync", path_, s);
  return Status();
}

Result<uint64_t> File::size() const {
  if (writer_ != nullptr) return writer_->GetFileSize(rocksdb::IOOptions(), nullptr);
  uint64_t bytes = 0;
  rocksdb::IOStatus s = fs_->GetFileSize(path_.string(), rocksdb::IOOptions(), &bytes, nullptr);
  if (!s.ok()) return io_status("size of", path_, s);
  return bytes;
}

Status sync_dir(rocksdb::FileSystem& fs, const std::filesystem::path& dir) {
  std::unique_ptr<rocksdb::FSDirectory> d;
  rocksdb::IOStatus s = fs.NewDirectory(dir.string(), rocksdb::IOOptions(), &d, nullptr);
  if (!s.ok()) return io_status("open directory", dir, s);
  s = d->Fsync(rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return io_status("fsync directory", dir, s);
  if (SyncDirObserver observer = sync_dir_observer.load(); observer != nullptr) observer(dir);
  return Status();
}

void set_sync_dir_observer(SyncDirObserver observer) { sync_dir_observer.store(observer); }

Status rename_durably(rocksdb::FileSystem& fs, const std::filesystem::path& from,
                      const std::filesystem::path& to) {
  rocksdb::IOStatus s = fs.RenameFile(from.string(), to.string(), rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return io_status("rename", from, s);
  return sync_dir(fs, to.parent_path());
}

Status create_directories_durably(rocksdb::FileSystem& fs, const std::filesystem::path& dir) {
  const std::filesystem::path parent = dir.parent_path();
  if (dir.empty() || parent == dir) return Status();  // the root, or a relative path's top
  if (fs.FileExists(dir.string(), rocksdb::IOOptions(), nullptr).ok()) return Status();
  if (!parent.empty()) {
    if (Status s = create_directories_durably(fs, parent); !s.is_ok()) return s;
  }
  rocksdb::IOStatus s = fs.CreateDirIfMissing(dir.string(), rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return io_status("create directory", dir, s);
  return sync_dir(fs, parent.empty() ? std::filesystem::path(".") : parent);
}

Result<std::vector<std::string>> list_dir(rocksdb::FileSystem& fs,
                                          const std::filesystem::path& dir) {
  std::vector<std::string> names;
  rocksdb::IOStatus s = fs.GetChildren(dir.string(), rocksdb::IOOptions(), &names, nullptr);
  if (!s.ok()) return io_status("list", dir, s);
  std::erase_if(names, [](const std::string& n) { return n == "." || n == ".."; });
  return names;
}

void remove_file_if_exists(rocksdb::FileSystem& fs, const std::filesystem::path& path) {
  (void)fs.DeleteFile(path.string(), rocksdb::IOOptions(), nullptr);
}

}  // namespace kv::detail
