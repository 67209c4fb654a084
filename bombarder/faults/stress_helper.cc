#include "bombarder/faults/stress_helper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "bombarder/base/errors.h"
#include "bombarder/base/process.h"
#include "bombarder/base/signal_watch.h"

namespace bombarder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMib = size_t{1} << 20;
constexpr auto kHelperTermGrace = std::chrono::milliseconds(1000);

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", v);
  return text;
}

// Holds `mib` MiB, every page written, until the deadline or a signal; re-touched every second
// so that the memory stays resident rather than swapped out quietly. False when the memory
// could not be had (said on stderr).
bool stress_memory(uint64_t mib, Clock::time_point deadline, SignalWatch& signals) {
  std::vector<std::unique_ptr<char[]>> blocks;
  try {
    blocks.reserve(mib);
    for (uint64_t i = 0; i < mib; ++i) {
      blocks.emplace_back(new char[kMib]);
      std::memset(blocks.back().get(), static_cast<int>(i & 0xff), kMib);
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "memory stress: out of memory after %zu MiB\n", blocks.size());
    return false;
  }
  std::printf("memory stress: %llu MiB allocated and touched\n",
              static_cast<unsigned long long>(mib));
  std::fflush(stdout);
  while (Clock::now() < deadline) {
    if (signals.wait(std::chrono::milliseconds(1000)) != 0) break;
    const long page = ::sysconf(_SC_PAGESIZE);
    for (auto& block : blocks) {
      for (size_t off = 0; off < kMib; off += static_cast<size_t>(page)) ++block[off];
    }
  }
  return true;
}

// Each second: `mib` MiB written and fsynced, then the rest of the second idle. False when the
// file could not be opened, written or synced (said on stderr); the file is removed either way.
bool stress_disk(uint64_t mib, const fs::path& dir, Clock::time_point deadline,
                 SignalWatch& signals) {
  const fs::path path = disk_stress_file(dir, ::getpid());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "disk stress: cannot open %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::vector<char> block(kMib, 'x');
  uint64_t written_mib = 0;
  bool ok = true;
  std::printf("disk stress: %llu MiB/s into %s\n", static_cast<unsigned long long>(mib),
              path.c_str());
  std::fflush(stdout);
  while (Clock::now() < deadline && ok) {
    const auto second_ends = Clock::now() + std::chrono::seconds(1);
    for (uint64_t i = 0; i < mib && Clock::now() < deadline; ++i) {
      const off_t offset =
          static_cast<off_t>((written_mib % kDiskStressFileMibMax) * kMib);  // a bounded ring
      if (::pwrite(fd, block.data(), block.size(), offset) != static_cast<ssize_t>(kMib)) {
        std::fprintf(stderr, "disk stress: write: %s\n", std::strerror(errno));
        ok = false;
        break;
      }
      ++written_mib;
    }
    if (ok && ::fsync(fd) != 0) ok = false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min(second_ends, deadline) - Clock::now());
    if (left.count() > 0 && signals.wait(left) != 0) break;
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::printf("disk stress: %llu MiB written, file removed\n",
              static_cast<unsigned long long>(written_mib));
  return ok;
}

bool stress_cpu(uint32_t workers, Clock::time_point deadline, SignalWatch& signals) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < workers; ++i) {
    threads.emplace_back([&stop] {
      volatile uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ULL + 1;
    });
  }
  std::printf("cpu stress: %u busy threads\n", workers);
  std::fflush(stdout);
  while (Clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (signals.wait(std::max(left, std::chrono::milliseconds(1))) != 0) break;
  }
  stop = true;
  for (auto& t : threads) t.join();
  return true;
}

}  // namespace

uint64_t available_memory_mib() {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t kib = 0;
  std::string unit;
  while (in >> name >> kib >> unit) {
    if (name == "MemAvailable:") return kib / 1024;
  }
  return 0;
}

fs::path disk_stress_file(const fs::path& dir, pid_t pid) {
  return dir / ("bombarder-stress-" + std::to_string(pid) + ".dat");
}

StressHelper start_stress_helper(const Fault& fault, const fs::path& dir, bool stdout_to_stderr) {
  std::vector<std::string> argv = {(executable_dir() / "bombarder").string(),
                                   "stress-helper",
                                   "--kind",
                                   to_string(fault.type),
                                   "--seconds",
                                   number(static_cast<double>(fault.duration.count()) / 1000.0)};
  if (fault.type == FaultType::kMemory || fault.type == FaultType::kDisk) {
    argv.insert(argv.end(), {"--mib", std::to_string(fault.mib)});
  }
  if (fault.type == FaultType::kDisk) argv.insert(argv.end(), {"--dir", dir.string()});
  if (fault.type == FaultType::kCpu) {
    argv.insert(argv.end(), {"--workers", std::to_string(fault.workers)});
  }
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) environment_failure(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Dies with the injector: a stress must never outlive the tool that reverts it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::setpgid(0, 0);  // a Ctrl-C on the terminal goes to the injector, which reverts in order
    if (stdout_to_stderr) ::dup2(STDERR_FILENO, STDOUT_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  return StressHelper{pid, fault.type, dir};
}

ActionResult stop_stress_helper(const StressHelper& helper) {
  if (helper.pid <= 0) return {true, "no helper"};
  int status = 0;
  std::string how;
  bool failed = false;
  if (::waitpid(helper.pid, &status, WNOHANG) == helper.pid) {
    failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    how = failed ? "had failed by itself (" +
                       (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                          : "signal " + std::to_string(WTERMSIG(status))) +
                       "; see its output above)"
                 : "had ended by itself at its deadline";
  } else {
    ::kill(helper.pid, SIGTERM);
    const auto deadline = Clock::now() + kHelperTermGrace;
    bool ended = false;
    while (Clock::now() < deadline) {
      if (::waitpid(helper.pid, &status, WNOHANG) == helper.pid) {
        ended = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll, bounded above
    }
    if (!ended) {
      ::kill(helper.pid, SIGKILL);
      ::waitpid(helper.pid, &status, 0);
      how = "ended by SIGKILL";
    } else {
      how = "ended by SIGTERM";
    }
  }
  std::string out = "helper pid " + std::to_string(helper.pid) + " " + how;
  if (helper.type == FaultType::kDisk) {
    std::error_code ec;
    const bool removed = fs::remove(disk_stress_file(helper.dir, helper.pid), ec);
    out += removed ? ", its file removed" : ", no file left";
  }
  return {!failed, out};
}

bool run_stress_helper(const StressHelperFlags& f) {
  if (!(f.seconds > 0) || f.seconds > 86400) invalid_input("--seconds must be in (0, 86400]");
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(f.seconds * 1000));
  SignalWatch signals({SIGINT, SIGTERM});
  if (f.kind == "memory") {
    if (f.mib < 1 || f.mib > kStressMibMax) invalid_input("--mib out of range");
    return stress_memory(f.mib, deadline, signals);
  }
  if (f.kind == "disk") {
    if (f.mib < 1 || f.mib > kStressMibMax) invalid_input("--mib out of range");
    if (f.dir.empty()) invalid_input("--dir is required for disk stress");
    return stress_disk(f.mib, f.dir, deadline, signals);
  }
  if (f.kind == "cpu") {
    if (f.workers < 1 || f.workers > kCpuWorkersMax) invalid_input("--workers out of range");
    return stress_cpu(f.workers, deadline, signals);
  }
  invalid_input("--kind must be memory, disk or cpu");
}

}  // namespace bombarder
