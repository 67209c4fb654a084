// faults/stress_helper.h: the helper's flag checks, its stress bodies run in-process for a
// fraction of a second (they end at the deadline or on SIGTERM, and disk stress removes its
// file), and stop_stress_helper's verdicts on child processes the test starts itself.
#include "bombarder/faults/stress_helper.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <string>

#include "../../common/test_http.h"
#include "base/temp_data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/process.h"
#include "faults/fake_node.h"

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using common::test::wait_until;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The kind of the bombarder::Error `flags` make run_stress_helper throw.
ErrorKind flag_error(const StressHelperFlags& flags) {
  try {
    (void)run_stress_helper(flags);
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "run_stress_helper accepted kind " << flags.kind;
  return ErrorKind::kCheckFailed;
}

StressHelperFlags flags(const std::string& kind, double seconds) {
  StressHelperFlags f;
  f.kind = kind;
  f.seconds = seconds;
  f.mib = 1;
  f.workers = 1;
  return f;
}

TEST(StressHelperFlags, OutOfRangeValuesAreInvalidInput) {
  for (double seconds : {0.0, -1.0, 86400.5, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_EQ(flag_error(flags("cpu", seconds)), ErrorKind::kInvalidInput) << seconds;
  }
  EXPECT_EQ(flag_error(flags("gpu", 1)), ErrorKind::kInvalidInput);
  for (const char* kind : {"memory", "disk"}) {
    StressHelperFlags f = flags(kind, 1);
    f.dir = "/tmp";
    f.mib = 0;
    EXPECT_EQ(flag_error(f), ErrorKind::kInvalidInput) << kind;
    f.mib = kStressMibMax + 1;
    EXPECT_EQ(flag_error(f), ErrorKind::kInvalidInput) << kind;
  }
  EXPECT_EQ(flag_error(flags("disk", 1)), ErrorKind::kInvalidInput);  // no --dir
  StressHelperFlags cpu = flags("cpu", 1);
  cpu.workers = 0;
  EXPECT_EQ(flag_error(cpu), ErrorKind::kInvalidInput);
  cpu.workers = kCpuWorkersMax + 1;
  EXPECT_EQ(flag_error(cpu), ErrorKind::kInvalidInput);
}

TEST(StressHelperRun, CpuAndMemoryStressLastUntilTheirDeadline) {
  for (const char* kind : {"cpu", "memory"}) {
    StressHelperFlags f = flags(kind, 0.2);
    f.workers = 2;
    f.mib = 4;
    const auto t0 = Clock::now();
    EXPECT_TRUE(run_stress_helper(f)) << kind;
    const auto took = Clock::now() - t0;
    EXPECT_GE(took, 200ms) << kind;
    EXPECT_LT(took, 5s) << kind;  // memory re-touches once a second: at most one more
  }
}

class DiskStressTest : public test::TempDataRootTest {};

TEST_F(DiskStressTest, WritesItsFileUntilSigtermThenRemovesIt) {
  const fs::path file = disk_stress_file(root_, ::getpid());
  EXPECT_EQ(file, root_ / ("bombarder-stress-" + std::to_string(::getpid()) + ".dat"));
  StressHelperFlags f = flags("disk", 60);
  f.dir = root_.string();
  auto running = std::async(std::launch::async, [f] { return run_stress_helper(f); });
  const bool written = wait_until(
      [&] {
        std::error_code ec;
        return fs::file_size(file, ec) >= (uint64_t{1} << 20) && !ec;
      },
      10s);
  // The helper's SignalWatch is installed before it opens the file: SIGTERM ends it, not us.
  // Without the file it failed (and its watch is gone) or is stuck: no signal then.
  if (written) ::kill(::getpid(), SIGTERM);
  ASSERT_EQ(running.wait_for(written ? 10s : 70s), std::future_status::ready);
  EXPECT_TRUE(written);
  EXPECT_TRUE(running.get());
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(DiskStressTest, ADirectoryItCannotWriteIsAFailureNotAThrow) {
  StressHelperFlags f = flags("disk", 0.2);
  f.dir = (root_ / "missing").string();
  EXPECT_FALSE(run_stress_helper(f));
}

TEST(AvailableMemory, IsReadFromProcMeminfo) { EXPECT_GT(available_memory_mib(), 0u); }

// Until `pid` (our child) has exited, without reaping it: stop_stress_helper must see its status.
bool wait_exited(pid_t pid) {
  return wait_until(
      [pid] {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == pid;
      },
      10s);
}

bool ignores_sigterm(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("SigIgn:", 0) == 0) {
      return (std::stoull(line.substr(7), nullptr, 16) & (1ull << (SIGTERM - 1))) != 0;
    }
  }
  return false;
}

class StopStressHelperTest : public test::TempDataRootTest {
 protected:
  StressHelper helper(const std::vector<std::string>& argv, FaultType type) {
    const pid_t pid = spawn_detached(argv, root_ / "helper.log");
    guard_.reset(pid);
    return StressHelper{pid, type, root_};
  }
  test::ProcessGuard guard_;
};

TEST_F(StopStressHelperTest, ARunningHelperIsEndedBySigtermAndItsFileRemoved) {
  const StressHelper h = helper({"/bin/sleep", "30"}, FaultType::kDisk);
  std::ofstream(disk_stress_file(root_, h.pid)) << "data";
  const ActionResult r = stop_stress_helper(h);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.detail,
            "helper pid " + std::to_string(h.pid) + " ended by SIGTERM, its file removed");
  EXPECT_FALSE(fs::exists(disk_stress_file(root_, h.pid)));
  EXPECT_FALSE(process_alive(h.pid));
}

TEST_F(StopStressHelperTest, AHelperIgnoringSigtermIsKilledAfterTheGrace) {
  const StressHelper h = helper(test::fake_node_args(root_ / "bin", 1, true), FaultType::kCpu);
  // The SIGTERM must come after the shell's trap, else it ends by SIGTERM: wait until its
  // ignored-signal mask (SigIgn in /proc/PID/status) has SIGTERM.
  ASSERT_TRUE(wait_until([&] { return ignores_sigterm(h.pid); }, 10s));
  const auto t0 = Clock::now();
  const ActionResult r = stop_stress_helper(h);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.detail, "helper pid " + std::to_string(h.pid) + " ended by SIGKILL");
  EXPECT_GE(Clock::now() - t0, 1s);
  EXPECT_FALSE(process_alive(h.pid));
}

TEST_F(StopStressHelperTest, AHelperThatEndedByItselfIsJudgedByItsExitStatus) {
  const StressHelper done = helper({"/bin/true"}, FaultType::kMemory);
  ASSERT_TRUE(wait_exited(done.pid));
  const ActionResult ok = stop_stress_helper(done);
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.detail,
            "helper pid " + std::to_string(done.pid) + " had ended by itself at its deadline");

  const StressHelper failed = helper({"/bin/sh", "-c", "exit 3"}, FaultType::kDisk);
  ASSERT_TRUE(wait_exited(failed.pid));
  const ActionResult bad = stop_stress_helper(failed);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.detail, "helper pid " + std::to_string(failed.pid) +
                            " had failed by itself (exit code 3; see its output above), no file "
                            "left");
  EXPECT_EQ(stop_stress_helper(StressHelper{}).detail, "no helper");
}

TEST_F(StopStressHelperTest, AHelperBinaryThatCannotRunIsReportedAsFailed) {
  // The unit test binary has no `bombarder` beside it: the exec fails and the child exits 127.
  ASSERT_FALSE(fs::exists(executable_dir() / "bombarder"));
  Fault fault;
  fault.type = FaultType::kCpu;
  fault.duration = 1s;
  const StressHelper h = start_stress_helper(fault, root_, true);
  guard_.reset(h.pid);
  ASSERT_GT(h.pid, 0);
  ASSERT_TRUE(wait_exited(h.pid));
  const ActionResult r = stop_stress_helper(h);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("had failed by itself (exit code 127"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace bombarder
