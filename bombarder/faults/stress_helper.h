// The stress faults of `bombarder inject` (issue 7): memory (allocate and touch N MiB, hold it),
// disk I/O (write and fsync N MiB per second into a file in the node's data directory) and CPU
// (busy threads), each run by a helper process, `bombarder stress-helper`, which is a child of
// the injector. A separate process makes reverting certain: ending it frees the memory and
// stops the threads whatever state they are in, and PR_SET_PDEATHSIG ends it if the injector
// itself dies. The helper also ends on its own at its deadline, so a fault cannot outlive its
// duration even when nobody reverts it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "bombarder/faults/fault_schedule.h"

namespace bombarder {

// The file disk stress writes: <dir>/bombarder-stress-<helper pid>.dat, removed by the helper
// at its end and by the injector after ending the helper.
[[nodiscard]] std::filesystem::path disk_stress_file(const std::filesystem::path& dir, pid_t pid);
// At most this much of the node's volume is used: the file is rewritten in a ring.
inline constexpr uint64_t kDiskStressFileMibMax = 64;

// MemAvailable from /proc/meminfo in MiB; 0 when it cannot be read. A memory stress is refused
// above 90% of it: the point is pressure, not the OOM killer picking a victim on a shared host.
[[nodiscard]] uint64_t available_memory_mib();

struct StressHelper {
  pid_t pid = -1;
  FaultType type = FaultType::kMemory;
  std::filesystem::path dir;  // disk only
};

// Starts the helper for a stress fault (memory, disk with `dir`, cpu). Throws
// Error(kEnvironment) when it cannot.
// `stdout_to_stderr`: the helper's lines go to stderr (the injector's stdout carries --json).
[[nodiscard]] StressHelper start_stress_helper(const Fault& fault, const std::filesystem::path& dir,
                                               bool stdout_to_stderr);
// Ends the helper (SIGTERM, SIGKILL after a second), reaps it and removes its disk file.
// Says what it found ("helper pid 123 ended by SIGTERM, its file removed"); not ok when the
// helper had already failed by itself (it could not allocate, could not write).
[[nodiscard]] ActionResult stop_stress_helper(const StressHelper& helper);

// `bombarder stress-helper` (hidden subcommand): the helper's own body, run in the child process
// until the deadline or SIGINT/SIGTERM. True when the stress was kept up to its end; false when
// it failed (out of memory, a write or fsync failed; said on stderr), which stop_stress_helper
// sees in the helper's exit status. Throws Error(kInvalidInput) for a bad flag.
struct StressHelperFlags {
  std::string kind;  // memory, disk, cpu
  uint64_t mib = 0;
  uint32_t workers = 1;
  double seconds = 0;
  std::string dir;
};
[[nodiscard]] bool run_stress_helper(const StressHelperFlags& flags);

}  // namespace bombarder
