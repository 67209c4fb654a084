// Signals for the long-running fault commands (supervise, chaos, inject): a handler that only
// writes the signal number into a pipe (async-signal-safe), and a wait that returns as soon as a
// signal arrived or the timeout passed. A command sleeps in wait() instead of a bare sleep, so
// Ctrl-C ends it at once and its cleanup (revert every fault, deregister) runs on the main
// thread, never inside a signal handler.
//
// One SignalWatch may exist at a time (the pipe is process-wide). The previous dispositions are
// restored by the destructor. Threads: wait() from one thread; pending() from any.
#pragma once

#include <signal.h>

#include <chrono>
#include <initializer_list>
#include <vector>

namespace bombarder {

class SignalWatch {
 public:
  // Throws CommandError(kExitEnvironment) when the pipe cannot be made or another watch exists.
  explicit SignalWatch(std::initializer_list<int> signals);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // The next signal received (oldest first), or 0 when `timeout` passed without one.
  [[nodiscard]] int wait(std::chrono::milliseconds timeout);

 private:
  std::vector<int> signals_;
  std::vector<struct sigaction> saved_;  // the dispositions before ours, one per signal
};

}  // namespace bombarder
