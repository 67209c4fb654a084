#include "bombarder/base/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "bombarder/base/errors.h"

namespace bombarder {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

pid_t spawn_detached(const std::vector<std::string>& argv, const fs::path& output_path) {
  // Everything the child needs is built before fork(); after it only async-signal-safe calls.
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  const std::string out = output_path.string();
  const pid_t pid = ::fork();
  if (pid < 0) environment_failure(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    // Descriptors bombarder holds (sockets, the record file) must not leak into the node.
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(raw[0], raw.data());
    const char* reason = std::strerror(errno);
    (void)!::write(STDERR_FILENO, "exec failed: ", 13);
    (void)!::write(STDERR_FILENO, reason, std::strlen(reason));
    (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(127);
  }
  return pid;
}

namespace {

// Reaps `pid` if it is our exited child; harmless for other processes (ECHILD).
void reap_if_child(pid_t pid) {
  int status = 0;
  (void)::waitpid(pid, &status, WNOHANG);
}

bool is_zombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "pid (comm) S ...": the state follows the last ')', since comm may hold spaces or ')'.
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

std::vector<std::string> command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);  // poll interval, bounded by the deadline
  }
  return true;
}

}  // namespace

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  reap_if_child(pid);
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  return !is_zombie(pid);
}

bool is_node_process(pid_t pid, uint16_t port, const std::string& recorded_program) {
  if (!process_alive(pid)) return false;
  const std::vector<std::string> args = command_line(pid);
  if (args.empty()) return false;
  const fs::path program = fs::path(args[0]).filename();
  // A Redis node (`cluster start --system redis`) rewrites its process title to
  // "redis-server HOST:PORT" (its --proc-title-template), one argument, once it runs.
  if (program.string().starts_with("redis-server ")) {
    return program.string().ends_with(std::string(1, ':').append(std::to_string(port)));
  }
  // An etcd member (`cluster start --system etcd`) serves its clients on --listen-client-urls.
  const bool etcd = program == "etcd";
  const bool recorded =
      !recorded_program.empty() && program == fs::path(recorded_program).filename();
  if (!etcd && !recorded && program != "stress_node" && program != "redis-server") return false;
  const std::string port_text = std::to_string(port);
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    const std::string& value = args[i + 1];
    if (!etcd && args[i] == "--port" && value == port_text) return true;
    if (etcd && args[i] == "--listen-client-urls" && value.ends_with(port_text) &&
        value.size() > port_text.size() && value[value.size() - port_text.size() - 1] == ':') {
      return true;
    }
  }
  return false;
}

bool is_proxy_process(pid_t pid, uint16_t api_port) {
  if (!process_alive(pid)) return false;
  const std::vector<std::string> args = command_line(pid);
  if (args.size() < 2 || fs::path(args[0]).filename() != "bombarder" || args[1] != "proxy") {
    return false;
  }
  for (size_t i = 2; i + 1 < args.size(); ++i) {
    if (args[i] == "--port" && args[i + 1] == std::to_string(api_port)) return true;
  }
  return false;
}

std::vector<std::string> process_command_line(pid_t pid) { return command_line(pid); }

bool is_supervisor_process(pid_t pid) {
  if (!process_alive(pid)) return false;
  const std::vector<std::string> args = command_line(pid);
  if (args.empty() || fs::path(args[0]).filename() != "bombarder") return false;
  return std::find(args.begin() + 1, args.end(), "supervise") != args.end();
}

const char* to_string(StopOutcome outcome) {
  switch (outcome) {
    case StopOutcome::kNotRunning: return "not running";
    case StopOutcome::kTerminated: return "stopped (SIGTERM)";
    case StopOutcome::kKilled: return "killed (SIGKILL)";
    case StopOutcome::kKilledAfterGrace: return "killed (SIGKILL after the SIGTERM grace period)";
    case StopOutcome::kStillRunning: return "still running after SIGKILL";
  }
  return "?";
}

StopOutcome stop_process(pid_t pid, std::chrono::milliseconds grace) {
  if (!process_alive(pid)) return StopOutcome::kNotRunning;
  if (::kill(pid, SIGTERM) != 0) return StopOutcome::kNotRunning;
  if (wait_gone(pid, grace)) return StopOutcome::kTerminated;
  const StopOutcome killed = kill_process(pid);
  return killed == StopOutcome::kStillRunning ? killed : StopOutcome::kKilledAfterGrace;
}

StopOutcome kill_process(pid_t pid) {
  if (!process_alive(pid)) return StopOutcome::kNotRunning;
  ::kill(pid, SIGKILL);
  return wait_gone(pid, 5s) ? StopOutcome::kKilled : StopOutcome::kStillRunning;
}

bool port_in_use(const std::string& host, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  // Without SO_REUSEADDR a port in TIME_WAIT would look taken; the node sets it too.
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool taken = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0;
  ::close(fd);
  return taken;
}

fs::path executable_dir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : self.parent_path();
}

}  // namespace bombarder
