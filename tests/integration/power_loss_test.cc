// Power-loss durability, black box (issue 13): a 3-node cluster under write load, each node on
// its own loop-mounted ext4 image, loses power at once: the file systems are shut down with
// EXT4_IOC_SHUTDOWN and EXT4_GOING_FLAGS_NOLOGFLUSH, which drops the page cache's dirty data and
// the uncommitted journal exactly as a power cut does (the kernel's own crash-test method, as in
// xfstests' "godown"), then the nodes are SIGKILLed, the images remounted (journal replay) and
// the nodes restarted. Every write answered 2xx must be there. A plain kill -9 keeps the page
// cache, so it cannot tell a missing fsync from a present one; this can (docs/durability.md:
// with the log's fsync turned off it loses acknowledged writes).
//
// Needs root, loop devices and mkfs.ext4; skipped otherwise (with the reason).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cluster_harness.h"

// From the kernel's fs/ext4/ext4.h (not exported to user space headers on every version).
#ifndef EXT4_IOC_SHUTDOWN
#define EXT4_IOC_SHUTDOWN _IOR('X', 125, __u32)
#endif
#ifndef EXT4_GOING_FLAGS_NOLOGFLUSH
#define EXT4_GOING_FLAGS_NOLOGFLUSH 0x2
#endif

namespace integration {
namespace {

namespace fs = std::filesystem;

// One ext4 image mounted through a loop device at `mount_point`. Unmounted (the loop device is
// released with it: mount -o loop sets autoclear) on destruction, so nothing outlives the test.
class LoopDisk {
 public:
  LoopDisk(fs::path image, fs::path mount_point)
      : image_(std::move(image)), mount_point_(std::move(mount_point)) {}
  ~LoopDisk() { (void)unmount(); }
  LoopDisk(const LoopDisk&) = delete;
  LoopDisk& operator=(const LoopDisk&) = delete;

  // Creates and formats the image; "" or why not.
  std::string format() {
    std::error_code ec;
    fs::create_directories(mount_point_, ec);
    {
      std::FILE* f = std::fopen(image_.c_str(), "w");
      if (f == nullptr) return "cannot create " + image_.string();
      std::fclose(f);
    }
    fs::resize_file(image_, 256ull << 20, ec);  // sparse
    if (ec) return "cannot size " + image_.string() + ": " + ec.message();
    RunResult r = run_program({"/sbin/mkfs.ext4", "-q", "-F", image_.string()}, 60s);
    if (!r.status || !r.status->exited || r.status->code != 0) return "mkfs.ext4: " + r.output;
    return "";
  }
  // data=ordered is ext4's default, stated because what survives depends on it; commit=30
  // widens the window of uncommitted metadata so that a missing fsync shows within seconds.
  std::string mount() {
    RunResult r = run_program(
        {"/bin/mount", "-o", "loop,data=ordered,commit=30", image_.string(), mount_point_.string()},
        30s);
    if (!r.status || !r.status->exited || r.status->code != 0) return "mount: " + r.output;
    mounted_ = true;
    return "";
  }
  // The power cut: everything not yet on the device (dirty pages, the running journal
  // transaction) is dropped; later writes fail.
  std::string cut_power() {
    const int fd = ::open(mount_point_.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return "open " + mount_point_.string();
    __u32 flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
    const int rc = ::ioctl(fd, EXT4_IOC_SHUTDOWN, &flags);
    ::close(fd);
    return rc == 0 ? "" : "EXT4_IOC_SHUTDOWN failed: " + std::string(std::strerror(errno));
  }
  std::string unmount() {
    if (!mounted_) return "";
    RunResult r = run_program({"/bin/umount", mount_point_.string()}, 30s);
    if (!r.status || !r.status->exited || r.status->code != 0) return "umount: " + r.output;
    mounted_ = false;
    return "";
  }
  [[nodiscard]] const fs::path& mount_point() const { return mount_point_; }

 private:
  fs::path image_;
  fs::path mount_point_;
  bool mounted_ = false;
};

// A scratch directory (images and mount points), removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "powerloss-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// "" if this machine can run the test, else why not.
std::string loop_ext4_unavailable() {
  if (::geteuid() != 0) return "needs root (losetup, mount)";
  if (!fs::exists("/sbin/mkfs.ext4")) return "needs mkfs.ext4 (e2fsprogs)";
  if (!fs::exists("/dev/loop-control")) return "needs loop devices (/dev/loop-control)";
  return "";
}

TEST(PowerLoss, PowerCutOfEveryNodeOnExt4MidWriteLosesNothingAcknowledged) {
  if (std::string why = loop_ext4_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const uint64_t seed = test_seed();
  ScratchDir scratch;
  ASSERT_FALSE(scratch.path().empty());
  std::vector<std::unique_ptr<LoopDisk>> disks;
  for (size_t i = 0; i < 3; ++i) {
    disks.push_back(
        std::make_unique<LoopDisk>(scratch.path() / ("node-" + std::to_string(i) + ".img"),
                                   scratch.path() / ("node-" + std::to_string(i))));
    if (std::string e = disks[i]->format(); !e.empty()) GTEST_SKIP() << e;
    if (std::string e = disks[i]->mount(); !e.empty()) GTEST_SKIP() << "loop mount: " << e;
  }
  ClusterOptions options;
  options.data_dir_of = [&](size_t i) { return disks.at(i)->mount_point(); };
  Cluster cluster(options);
  cluster.note("seed " + std::to_string(seed));
  ASSERT_TRUE(cluster.wait_for_leader());

  constexpr size_t kWriters = 8;
  constexpr size_t kAckedBeforeCut = 1500;
  std::mutex mutex;
  std::map<std::string, std::string> acked;  // id -> value
  std::atomic<size_t> acked_count{0};
  std::atomic<bool> stop{false};
  Workers writers(stop);
  for (size_t w = 0; w < kWriters; ++w) {
    writers.spawn([&, w] {
      for (size_t n = 0; !stop; ++n) {
        std::ostringstream key;
        key << "w" << w << "-" << n;
        const HttpResult r = cluster.create((w + n) % cluster.size(), key.str(), key.str(), {}, 3s);
        if (!r.ok()) {
          std::this_thread::sleep_for(5ms);  // refusals come back at once
          continue;
        }
        std::lock_guard lock(mutex);
        acked[r.json().value("id", "")] = key.str();
        ++acked_count;
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return acked_count >= kAckedBeforeCut; }, 30s));
  // Power goes at once on all three (writes are in flight), then the processes die.
  for (auto& disk : disks) ASSERT_EQ(disk->cut_power(), "");
  for (size_t i = 0; i < cluster.size(); ++i) cluster.kill(i);
  writers.join();
  std::cout << "[power-loss] " << acked.size() << " writes acknowledged before the power cut"
            << std::endl;

  for (auto& disk : disks) {
    ASSERT_EQ(disk->unmount(), "");
    ASSERT_EQ(disk->mount(), "");  // replays the journal: what a reboot finds
  }
  for (size_t i = 0; i < cluster.size(); ++i) cluster.restart(i);
  ASSERT_TRUE(cluster.wait_for_leader(20s));
  ASSERT_TRUE(cluster.create_retrying("after-power-cut", "yes").ok());
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) expect_all_present(cluster, i, acked);
}

}  // namespace
}  // namespace integration
