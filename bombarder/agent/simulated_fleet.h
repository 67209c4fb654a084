// `bombarder agent --simulate N` (issue 17): N agents in one process, for scale tests of the
// orchestrator. Each has its own Ed25519 key (kept in --key-dir, made there when missing, so a
// fleet is the same agents on every start), registers by proving it, heartbeats on its own
// connection, reconnects with backoff and jitter, and checks every command's signature like a
// real agent. What it does not do: run anything. An assignment is acknowledged with
// step_started and step_done for each step (detail {"simulated": true}) and a `done` result;
// an abort is answered with an empty revert_done. No fault, load or verify is ever run.
//
// It measures what the orchestrator gives its agents: the time until all N were welcomed, the
// heartbeat round trip (send -> heartbeat_ack of that seq), and when the assignments arrived;
// `stats()` and, when `stats_file` is set, that file (rewritten every second, atomically).
//
// Threads: run() runs everything on one io_context thread, until `stop` is set.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace bombarder {

inline constexpr size_t kSimulatedAgentsMax = 5000;

struct SimulatedFleetOptions {
  std::string orchestrator_url;  // as --orchestrator: ws:// (loopback) or wss://
  size_t agents = 0;             // [1, kSimulatedAgentsMax]
  std::filesystem::path key_dir;
  // When set: the operator token's file, and every key is enrolled (POST /agents on the
  // orchestrator's port) before the agents connect; one already enrolled is fine (409).
  std::filesystem::path enroll_token_file;
  nlohmann::json labels = nlohmann::json::object();
  std::string cacert;
  std::filesystem::path stats_file;
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
};

class SimulatedFleet {
 public:
  // Loads or makes the keys and checks the options; throws Error(kInvalidInput/kEnvironment).
  explicit SimulatedFleet(SimulatedFleetOptions options);
  ~SimulatedFleet();
  SimulatedFleet(const SimulatedFleet&) = delete;
  SimulatedFleet& operator=(const SimulatedFleet&) = delete;

  // Enrols the keys when asked (throws Error(kEnvironment) if the orchestrator refuses one),
  // then runs the agents until `stop` is set (seen within 100 ms).
  void run(const std::atomic<bool>& stop);

  // {"agents", "registered" (welcomed now), "all_registered_ms" (from the first connection
  // attempt; null until then), "connections", "heartbeat_rtt_ms" {count, p50, p90, p99, max}
  // (every heartbeat), "heartbeat_rtt_steady_ms" (those after all_registered),
  // "assigns_received", "results_sent", "aborts_received", "refusals_received",
  // "first_assign_at_ms", "last_assign_at_ms" (Unix ms, null until one)}.
  [[nodiscard]] nlohmann::json stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace bombarder
