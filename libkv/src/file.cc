#include "file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace kv::detail {

namespace {

Status errno_status(const char* op, const std::filesystem::path& path) {
  return Status::io_error(std::string(op) + " " + path.string() + ": " + std::strerror(errno));
}

std::atomic<SyncDirObserver> sync_dir_observer{nullptr};

int open_retrying(const std::filesystem::path& path, int flags) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

Result<File> File::create(const std::filesystem::path& path) {
  const int fd = open_retrying(path, O_WRONLY | O_CREAT | O_TRUNC);
  if (fd < 0) return errno_status("create", path);
  return File(fd, path);
}

Result<File> File::open_append(const std::filesystem::path& path) {
  const int fd = open_retrying(path, O_WRONLY | O_APPEND);
  if (fd < 0) return errno_status("open", path);
  return File(fd, path);
}

Result<File> File::open_read(const std::filesystem::path& path) {
  const int fd = open_retrying(path, O_RDONLY);
  if (fd < 0) return errno_status("open", path);
  return File(fd, path);
}

Status File::append(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path_);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status();
}

Status File::read_at(uint64_t offset, uint64_t n, std::string* out) const {
  out->resize(n);
  uint64_t done = 0;
  while (done < n) {
    const ssize_t got =
        ::pread(fd_, out->data() + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno_status("read", path_);
    }
    if (got == 0) break;  // end of file
    done += static_cast<uint64_t>(got);
  }
  out->resize(done);
  return Status();
}

Status File::sync() {
  if (::fdatasync(fd_) != 0) return errno_status("fdatasync", path_);
  return Status();
}

Result<uint64_t> File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno_status("fstat", path_);
  return static_cast<uint64_t>(st.st_size);
}

Status sync_dir(const std::filesystem::path& dir) {
  const int fd = open_retrying(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return errno_status("open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("fsync directory", dir);
  if (SyncDirObserver observer = sync_dir_observer.load(); observer != nullptr) observer(dir);
  return Status();
}

void set_sync_dir_observer(SyncDirObserver observer) { sync_dir_observer.store(observer); }

Status create_dir_durably(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("create " + dir.string() + ": " + ec.message());
  // Also when `dir` already existed: a crash right after an earlier mkdir may have left its
  // entry unsynced, and one fsync per open costs nothing.
  const std::filesystem::path parent = dir.has_parent_path() ? dir.parent_path() : ".";
  return sync_dir(parent.empty() ? std::filesystem::path(".") : parent);
}

Status rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename", from);
  return sync_dir(to.parent_path());
}

}  // namespace kv::detail
