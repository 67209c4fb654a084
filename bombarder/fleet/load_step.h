// A load step of an experiment (issue 17): one of the load commands (flood, burst, mixed, storm)
// with its flags as the command line takes them, checked and run by the load commands' own code.
//
// That code, and the flag parser with it, lives in commands/load_command.cc: CLI11 is
// commands/-only and no module may include commands/ (bombarder/README.md). main() installs it
// here once, before any experiment is parsed (install_load_commands), as it installs the recorded
// node TLS lookup (client/node_tls.h); the orchestrator then checks a load step when the
// experiment is created and the agent checks it again and runs it. Installed once, read-only
// afterwards: safe from any thread.
//
// On an agent the step runs against the agent's own recorded cluster, so the flags that point
// elsewhere or write files on the agent's machine are refused by `check` (docs/orchestrator.md
// lists them): the agent sets the nodes and the store, takes the summary as JSON and always
// records the history (its run record's history.jsonl) for the check steps that follow.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/endpoint.h"

namespace bombarder {

// Bounds of a load step (a step holds the agent's run): its flags, and what it may ask for.
inline constexpr size_t kLoadStepArgsMax = 64;
inline constexpr size_t kLoadStepArgBytesMax = 256;
inline constexpr std::chrono::milliseconds kLoadStepDurationMax = std::chrono::minutes(10);
inline constexpr uint64_t kLoadStepCountMax = 10'000'000;  // --count, and --bursts x --size
inline constexpr size_t kLoadStepConcurrencyMax = 256;

struct LoadStep {
  std::string command;            // flood, burst, mixed, storm
  std::vector<std::string> args;  // its flags, e.g. {"--duration", "20s", "--check"}
  // The original form ({"duration", "concurrency", "value_bytes"}, a flood): it passes as long
  // as a request succeeded, whatever the success percentage.
  bool engine_form = false;
};

// What the agent hands a load step.
struct LoadStepContext {
  std::vector<common::Endpoint> nodes;   // the agent's recorded cluster
  std::string system;                    // its store: stress_node, etcd, redis
  std::function<bool()> stop_requested;  // the run's abort
  // About every 250 ms from the load's thread: requests completed, succeeded, failed.
  std::function<void(uint64_t completed, uint64_t succeeded, uint64_t failed)> on_progress;
};

struct LoadStepOutcome {
  // The run's summary as `--json` prints it (with "check" under --check, "run_id", "passed").
  nlohmann::json summary;
  bool passed = false;            // what the command's exit code would have said
  std::filesystem::path history;  // the operations it recorded (history.h)
};

struct LoadCommands {
  // Throws Error(kInvalidInput) naming the command or flag.
  std::function<void(const LoadStep&)> check;
  // Runs the step; throws Error for what ends a load command (no leader, a flag's value).
  std::function<LoadStepOutcome(const LoadStep&, const LoadStepContext&)> run;
};

void install_load_commands(LoadCommands commands);
// The installed load commands; throws std::logic_error when none were installed (a program that
// parses experiments without them is built wrong).
[[nodiscard]] const LoadCommands& load_commands();

}  // namespace bombarder
