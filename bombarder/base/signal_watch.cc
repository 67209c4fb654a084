#include "bombarder/base/signal_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "bombarder/base/errors.h"

namespace bombarder {

namespace {

std::atomic<int> g_write_fd{-1};
int g_read_fd = -1;
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
static_assert(std::atomic<int>::is_always_lock_free, "read from a signal handler");

extern "C" void on_signal(int signal) {
  const int saved_errno = errno;
  const int fd = g_write_fd.load();
  const unsigned char byte = static_cast<unsigned char>(signal);
  // A full pipe (hundreds of unread signals) drops this one: the command is already stopping.
  if (fd >= 0) (void)!::write(fd, &byte, 1);
  g_interrupted.store(true);
  errno = saved_errno;
}

}  // namespace

SignalWatch::SignalWatch(std::initializer_list<int> signals) : signals_(signals) {
  if (g_write_fd.load() >= 0) environment_failure("internal: a second SignalWatch");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    environment_failure(std::string("pipe: ") + std::strerror(errno));
  }
  g_read_fd = fds[0];
  g_write_fd = fds[1];
  g_interrupted = false;
  for (int signal : signals_) {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    struct sigaction before {};
    ::sigaction(signal, &action, &before);
    saved_.push_back(before);
  }
}

SignalWatch::~SignalWatch() {
  for (size_t i = 0; i < signals_.size(); ++i) {
    ::sigaction(signals_[i], &saved_[i], nullptr);
  }
  const int write_fd = g_write_fd.exchange(-1);
  ::close(write_fd);
  ::close(g_read_fd);
  g_read_fd = -1;
}

const std::atomic<bool>& SignalWatch::flag() { return g_interrupted; }

int SignalWatch::wait(std::chrono::milliseconds timeout) {
  pollfd pfd{g_read_fd, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(timeout.count(), 0)));
  if (ready <= 0) return 0;
  unsigned char byte = 0;
  if (::read(g_read_fd, &byte, 1) != 1) return 0;
  return byte;
}

}  // namespace bombarder
