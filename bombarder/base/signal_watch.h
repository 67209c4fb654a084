// The one way bombarder handles SIGINT/SIGTERM (every long-running command: load, scenario,
// watch, supervise, chaos, inject, the stress helper): a handler that only writes the signal
// number into a pipe and sets a flag (both async-signal-safe), a wait that returns as soon as a
// signal arrived or the timeout passed, and the flag for code that polls (the load engine's
// stop_requested, the metrics linger). A command sleeps in wait() instead of a bare sleep, so
// Ctrl-C ends it at once and its cleanup (revert every fault, deregister) runs on the main
// thread, never inside a signal handler. A second Ctrl-C changes nothing: the command is
// already stopping.
//
// One SignalWatch may exist at a time (the pipe is process-wide). The previous dispositions are
// restored by the destructor. Threads: wait() from one thread; interrupted() from any.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <vector>

namespace bombarder {

class SignalWatch {
 public:
  // Throws Error(kEnvironment) when the pipe cannot be made or another watch exists.
  explicit SignalWatch(std::initializer_list<int> signals);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // The next signal received (oldest first), or 0 when `timeout` passed without one.
  [[nodiscard]] int wait(std::chrono::milliseconds timeout);

  // True once any watched signal arrived (wait() consuming it does not reset it).
  [[nodiscard]] bool interrupted() const { return flag().load(); }
  // The same, as the flag itself, for code that takes one (linger_metrics).
  [[nodiscard]] static const std::atomic<bool>& flag();

 private:
  std::vector<int> signals_;
  std::vector<struct sigaction> saved_;  // the dispositions before ours, one per signal
};

}  // namespace bombarder
