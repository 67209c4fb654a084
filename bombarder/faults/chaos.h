// The chaos killer of `storm --chaos` (issue 4 "Chaos"): every kill interval it picks a running
// node of the recorded cluster (leader or follower, as asked), stops it with SIGKILL or SIGTERM,
// keeps it down for the downtime, restarts it with its recorded command line (same member, same
// data directory), updates cluster.json with the new PID and waits until it serves again.
//
// One node is down at a time, so a majority stays up and the load can reach 100% success with
// retries. Every action is reported through `on_event` as it happens (from the killer's thread)
// and kept for the summary.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "bombarder/cluster/cluster_record.h"
#include "bombarder/load/load_report.h"

namespace bombarder {

struct ChaosSpec {
  std::chrono::milliseconds kill_interval{10000};
  std::chrono::milliseconds downtime{2000};
  enum class Signal { kKill, kTerm, kRandom } signal = Signal::kRandom;
  enum class Target { kAny, kLeader, kFollower } target = Target::kAny;
  std::chrono::milliseconds term_grace{10000};       // SIGTERM, then SIGKILL after this
  std::chrono::milliseconds restart_timeout{20000};  // until the restarted node serves
  uint64_t seed = 0;
  // `bombarder chaos` (issue 7): ids never chosen, and whether kills happen every kill_interval
  // (false: only trigger() kills, for a monkey that is present but disabled).
  std::vector<uint64_t> exclude;
  bool scheduled = true;
};

class ChaosMonkey {
 public:
  ChaosMonkey(ClusterRecord record, ChaosSpec spec,
              std::function<void(const ChaosEvent&)> on_event);
  ~ChaosMonkey();  // stop()s
  ChaosMonkey(const ChaosMonkey&) = delete;
  ChaosMonkey& operator=(const ChaosMonkey&) = delete;

  void start();
  // Ends the kills, restarts a node that is down at once and waits until it serves. Returns
  // every action taken. Idempotent.
  std::vector<ChaosEvent> stop();

  // Kill a node now (SIGUSR1 on `bombarder chaos`), in addition to the schedule. Triggers that
  // arrive while a victim is down are served after it is back: one node down at a time.
  void trigger();

  // True when every node the monkey stopped was restarted and served again.
  [[nodiscard]] bool all_restarted() const;

 private:
  void loop();
  // Waits up to `duration` or until stop(); false when stopping.
  bool pause(std::chrono::milliseconds duration);
  // Waits for the next kill: kill_interval (when scheduled) or a trigger(); false when stopping.
  bool wait_for_turn();
  void emit(const std::string& action, const NodeRecord& node, const std::string& detail);
  void kill_one();
  void restart(NodeRecord& node);

  ClusterRecord record_;
  ChaosSpec spec_;
  std::function<void(const ChaosEvent&)> on_event_;
  std::mt19937_64 rng_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t triggers_ = 0;  // trigger() calls not yet served
  std::vector<ChaosEvent> events_;
  bool restart_failed_ = false;
  std::thread thread_;
};

}  // namespace bombarder
