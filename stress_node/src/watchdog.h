// Watchdog (issue 7, "apoptosis"): a hung node should become a restarted node. A separate
// thread posts a heartbeat task to every event loop that matters (the io_context that serves
// HTTP and peers, and the raft thread's inbox) and checks when each last ran one. A loop whose
// heartbeat is older than the limit is stuck (a blocking call, a deadlock, a disk that never
// returns): the watchdog logs one critical line and aborts the process, so that a supervisor
// restarts it instead of the cluster carrying a member that answers nothing.
//
// SIGSTOP freezes the watchdog thread together with the loops, so a paused node is not killed
// by its own watchdog: pausing is a fault the injector reverts, not a hang.
//
// Threads: start() and stop() from one thread (the owner). The loops' post functions are called
// from the watchdog thread; the heartbeat tasks run on the loops and only touch shared atomics,
// so they stay valid when they run after stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stress_node {

struct WatchedLoop {
  std::string name;  // "io", "raft": in the log line
  // Queues `task` on the loop; false if the loop refused it (full or stopping): not a beat.
  std::function<bool(std::function<void()> task)> post;
};

// What to do about a stuck loop: the default logs and aborts. Tests inject a recorder.
using StallAction = std::function<void(const std::string& loop, std::chrono::milliseconds late)>;

class Watchdog {
 public:
  // `limit`: how long a loop may go without running a heartbeat, [10 ms, ...). The heartbeat is
  // posted every limit/4, so a loop is declared stuck between limit and 1.25 * limit after its
  // last progress.
  Watchdog(std::chrono::milliseconds limit, std::vector<WatchedLoop> loops,
           StallAction on_stall = abort_process);
  ~Watchdog();  // stop()
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start();
  void stop();  // joins the thread; idempotent

  // Logs "watchdog: the LOOP loop made no progress for N ms: aborting" as a critical line, flushes
  // the log and calls std::abort().
  static void abort_process(const std::string& loop, std::chrono::milliseconds late);

 private:
  struct Beat {
    std::atomic<int64_t> last_ms{0};  // steady clock, ms: when a heartbeat last ran
    std::atomic<bool> outstanding{false};
  };
  void run();

  const std::chrono::milliseconds limit_;
  std::vector<WatchedLoop> loops_;
  std::vector<std::shared_ptr<Beat>> beats_;  // one per loop
  StallAction on_stall_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace stress_node
