// A bombarder command running in the background for the length of a test (supervise, chaos,
// inject), stdout and stderr appended to a file. The destructor SIGTERMs it, SIGKILLs it if it
// lingers, and reaps it, also when the test failed; PR_SET_PDEATHSIG takes it along if the test
// process dies. Construct and stop it on one thread (the death signal follows the forking
// thread).
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bombarder_harness.h"

namespace integration {

inline std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Gone: no such process, or a zombie its parent has not reaped yet (it runs no more).
inline bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

// Stopped by SIGSTOP (state T).
inline bool process_stopped(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'T';
}

class Background {
 public:
  // `netns`: the network namespace (made by `ip netns add NAME`) it runs in; empty: the test's.
  Background(const BombarderEnv& env, const std::vector<std::string>& args,
             std::filesystem::path output, const std::string& netns = {})
      : output_(std::move(output)) {
    std::vector<std::string> argv = {BOMBARDER_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (std::string& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    std::string data = "STRESS_TEST_DATA=" + env.root().string();
    const std::string out = output_.string();
    const std::string netns_path = netns.empty() ? std::string() : "/run/netns/" + netns;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (!netns_path.empty()) {
        const int ns = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(126);
      }
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::putenv(data.data());
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
  }
  ~Background() { (void)stop(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string output() const { return read_text_file(output_); }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits (bounded) for it to end by itself; its exit code, or -1 when it did not end in time
  // or was killed by a signal.
  int wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return status_;
    int status = 0;
    if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) {
      return -1;
    }
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return status_;
  }
  // SIGTERM, then SIGKILL after 10 s; the exit code (-1 when it had to be killed).
  int stop() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    const int code = wait(std::chrono::seconds(10));
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      status_ = -1;
    }
    return pid_ > 0 ? -1 : code;
  }

 private:
  std::filesystem::path output_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace integration
