// Is a latency spike the cluster's or the disk's? Writes 4 KiB and fdatasyncs it every
// --interval-ms, for --seconds, in a file under --dir, and prints every sync slower than
// --stall-ms as "UNIX_SECONDS MILLISECONDS" (the sync's start, its duration), then a summary line
// on stderr. Run beside a load (benchmarks/disk_stalls.sh does) to see whether the load's slow
// requests line up with stalls of an independent process on the same disk.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"fsync_probe: report the fdatasync stalls of a disk"};
  std::string dir = ".";
  double seconds = 30;
  int interval_ms = 10;
  int stall_ms = 100;
  app.add_option("--dir", dir, "Directory on the disk to probe")->capture_default_str();
  app.add_option("--seconds", seconds, "How long to probe")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--interval-ms", interval_ms, "Pause between syncs")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--stall-ms", stall_ms, "Print syncs slower than this")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::filesystem::path path =
      std::filesystem::path(dir) / ("fsync_probe." + std::to_string(::getpid()));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "fsync_probe: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string block(4096, 'x');
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::vector<double> all_ms;
  size_t stalls = 0;
  while (Clock::now() < end) {
    const auto wall = std::chrono::system_clock::now();
    const auto started = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), 0) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      std::fprintf(stderr, "fsync_probe: %s: %s\n", path.c_str(), std::strerror(errno));
      ::close(fd);
      std::filesystem::remove(path);
      return 1;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    all_ms.push_back(ms);
    if (ms > stall_ms) {
      ++stalls;
      std::printf("%.3f %.0f\n", std::chrono::duration<double>(wall.time_since_epoch()).count(),
                  ms);
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  ::close(fd);
  std::filesystem::remove(path);
  std::sort(all_ms.begin(), all_ms.end());
  const auto at = [&](double p) {
    return all_ms.empty()
               ? 0.0
               : all_ms[std::min(all_ms.size() - 1, static_cast<size_t>(p / 100 * all_ms.size()))];
  };
  std::fprintf(
      stderr, "fsync_probe: %zu syncs, p50 %.2f ms, p99 %.2f ms, max %.0f ms, %zu over %d ms\n",
      all_ms.size(), at(50), at(99), all_ms.empty() ? 0.0 : all_ms.back(), stalls, stall_ms);
  return 0;
}
