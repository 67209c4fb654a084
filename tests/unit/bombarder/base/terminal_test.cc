// base/terminal.h: progress lines and in-place redraws only on a terminal. The test points the
// process's stdout and stderr at a pseudo-terminal, a pipe and a file in turn, and puts them back.
#include "bombarder/base/terminal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

namespace bombarder {
namespace {

// Runs `check` with `fd` (STDOUT_FILENO or STDERR_FILENO) replaced by `replacement`, then
// restores the original descriptor.
void with_fd_replaced(int fd, int replacement, const std::function<void()>& check) {
  std::fflush(nullptr);
  const int saved = ::dup(fd);
  ASSERT_GE(saved, 0);
  ASSERT_GE(::dup2(replacement, fd), 0);
  check();
  std::fflush(nullptr);
  ASSERT_GE(::dup2(saved, fd), 0);
  ::close(saved);
}

// A fresh pseudo-terminal: the master and the slave side's descriptor (what a shell's stdout
// would be). Closed on destruction.
class PseudoTerminal {
 public:
  PseudoTerminal() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) return;
    const char* name = ::ptsname(master_);
    if (name != nullptr) slave_ = ::open(name, O_RDWR | O_NOCTTY);
  }
  ~PseudoTerminal() {
    if (slave_ >= 0) ::close(slave_);
    if (master_ >= 0) ::close(master_);
  }
  [[nodiscard]] int slave() const { return slave_; }

 private:
  int master_ = -1;
  int slave_ = -1;
};

TEST(Terminal, StdoutOnAPseudoTerminalIsATerminal) {
  PseudoTerminal pty;
  ASSERT_GE(pty.slave(), 0) << "no pseudo-terminal available";
  with_fd_replaced(STDOUT_FILENO, pty.slave(), [] { EXPECT_TRUE(stdout_is_terminal()); });
}

TEST(Terminal, StderrOnAPseudoTerminalIsATerminal) {
  PseudoTerminal pty;
  ASSERT_GE(pty.slave(), 0) << "no pseudo-terminal available";
  with_fd_replaced(STDERR_FILENO, pty.slave(), [] { EXPECT_TRUE(stderr_is_terminal()); });
}

TEST(Terminal, PipedStdoutIsNotATerminalWhileStderrStillIs) {
  PseudoTerminal pty;
  ASSERT_GE(pty.slave(), 0) << "no pseudo-terminal available";
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  // `bombarder storm | tee log`: the progress line stays on the terminal's stderr only.
  with_fd_replaced(STDERR_FILENO, pty.slave(), [&] {
    with_fd_replaced(STDOUT_FILENO, pipe_fds[1], [] {
      EXPECT_FALSE(stdout_is_terminal());
      EXPECT_TRUE(stderr_is_terminal());
    });
  });
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(Terminal, StderrRedirectedToAFileIsNotATerminal) {
  char path[] = "/tmp/bombarder_terminal_test.XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  with_fd_replaced(STDERR_FILENO, file, [] { EXPECT_FALSE(stderr_is_terminal()); });
  ::close(file);
}

}  // namespace
}  // namespace bombarder
