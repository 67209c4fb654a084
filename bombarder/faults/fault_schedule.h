// What `bombarder inject` does and when (issue 7 "Scheduled injector"): a list of timed faults,
// from flags (--kill-after 3s --down-for 5s) or a JSON schedule file:
//
//   {"faults": [
//     {"type": "kill",   "node": "2", "at": "3s", "down_for": "5s", "signal": "KILL"},
//     {"type": "pause",  "node": "leader", "at": "2s", "duration": "4s"},
//     {"type": "memory", "node": "1", "at": "1s", "duration": "5s", "mib": 256},
//     {"type": "disk",   "node": "1", "at": "1s", "duration": "5s", "mib_per_s": 20},
//     {"type": "cpu",    "node": "1", "at": "0s", "duration": "5s", "workers": 2},
//     {"type": "network", "node": "node1", "at": "2s", "duration": "3s", "toxic": "latency",
//      "stream": "downstream", "toxicity": 1.0, "attributes": {"latency": 500}}
//   ]}
//
// A network fault's node is a proxy's name on the Toxiproxy-compatible API (`bombarder proxy`,
// inject --proxy-api): the toxic is added at the start and deleted at the end.
//
// Durations are "250ms", "3s", "1.5s", "2m" or a bare number of seconds. Every fault has an end
// at which it is reverted (a kill without down_for is resurrected when the run ends).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bombarder/base/text.h"
#include "bombarder/faults/fault_plugin.h"

namespace bombarder {

inline constexpr size_t kFaultsMax = 256;
inline constexpr std::chrono::milliseconds kFaultTimeMax = kDurationMax;
inline constexpr uint64_t kStressMibMax = 65536;
inline constexpr uint32_t kCpuWorkersMax = 256;

enum class FaultType { kKill, kPause, kMemory, kDisk, kCpu, kNetwork };
// "kill", "pause", "memory", "disk", "cpu", "network"
[[nodiscard]] const char* to_string(FaultType type);

struct Fault {
  FaultType type = FaultType::kKill;
  std::string node;
  std::chrono::milliseconds at{0};        // after the run starts
  std::chrono::milliseconds duration{0};  // kill: the downtime (0: down until the run ends)
  KillSignal signal = KillSignal::kKill;  // kill only
  uint64_t mib = 0;                       // memory: MiB held; disk: MiB written per second
  uint32_t workers = 1;                   // cpu: busy threads
  // network: the toxic (Toxiproxy's type, stream, toxicity and attributes object)
  std::string toxic;
  std::string stream = "downstream";
  double toxicity = 1.0;
  nlohmann::json attributes = nlohmann::json::object();

  [[nodiscard]] bool is_stress() const {
    return type == FaultType::kMemory || type == FaultType::kDisk || type == FaultType::kCpu;
  }
  // "kill node 2 (SIGKILL) at 3.0 s, down for 5.0 s"
  [[nodiscard]] std::string describe() const;
};

// Throws Error(kInvalidInput) naming `source` and the fault's index on any bad member.
[[nodiscard]] std::vector<Fault> parse_schedule(const nlohmann::json& body,
                                                const std::string& source);
// Reads and parses a schedule file: JSON, or TOML when the name ends in .toml (`[[faults]]`
// tables with the same keys; toml++ from Debian's libtomlplusplus-dev).
[[nodiscard]] std::vector<Fault> read_schedule_file(const std::filesystem::path& path);
// The same for a schedule already in memory; `source` names it in errors.
enum class ScheduleFormat { kJson, kToml };
[[nodiscard]] std::vector<Fault> parse_schedule_text(std::string_view text, ScheduleFormat format,
                                                     const std::string& source);

// Checks one fault's values (durations, sizes, signal) against the bounds above.
void validate_fault(const Fault& fault, const std::string& where);

}  // namespace bombarder
