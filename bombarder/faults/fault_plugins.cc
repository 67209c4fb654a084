// The built-in plugins of `bombarder inject` (fault_plugin.h): process and exec.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/base/process.h"
#include "bombarder/client/api_client.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/node_restart.h"
#include "bombarder/faults/fault_plugin.h"

namespace bombarder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* signal_name(KillSignal signal) { return signal == KillSignal::kTerm ? "TERM" : "KILL"; }

std::string expand_template(const std::string& text, const std::string& node,
                            const std::string& signal) {
  std::string quoted = "'";
  for (char c : node) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 6, "{name}") == 0) {
      out += quoted;
      i += 6;
    } else if (text.compare(i, 8, "{signal}") == 0) {
      out += signal;
      i += 8;
    } else {
      out += text[i++];
    }
  }
  return out;
}

namespace {

constexpr size_t kCommandOutputMax = 4096;  // kept of an exec command's output, for the log
constexpr auto kTermGrace = std::chrono::seconds(10);

// ---------------------------------------------------------------------------------------------
// process

std::optional<pid_t> read_pid_file(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  pid_t pid = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || ptr != text.data() + text.size() || pid <= 0) return std::nullopt;
  return pid;
}

bool is_stopped(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() &&
         (line[close + 2] == 'T' || line[close + 2] == 't');
}

class ProcessPlugin final : public FaultPlugin {
 public:
  std::string name() const override { return "process"; }

  void validate(const std::string& node) override {
    const ClusterRecord record = load();
    if (node == "leader" || node == "follower") return;
    (void)find(record, node);
  }

  std::string resolve(const std::string& node) override {
    if (node != "leader" && node != "follower") return std::to_string(find(load(), node).id);
    const ClusterRecord record = load();
    ApiClient client;
    const ClusterView view = wait_for_leader(client, record.endpoints(), std::chrono::seconds(10));
    if (!view.leader) return node;  // the action then fails and says so
    const common::Endpoint& leader = view.nodes[*view.leader].endpoint;
    for (const NodeRecord& n : record.nodes) {
      if ((n.endpoint == leader) == (node == "leader")) return std::to_string(n.id);
    }
    return node;
  }

  ActionResult kill(const std::string& node, KillSignal signal) override {
    const ClusterRecord record = load();
    const NodeRecord* n = lookup(record, node);
    if (n == nullptr) return {false, "no node '" + node + "' in the cluster record"};
    const std::optional<pid_t> pid = running_pid(*n);
    if (!pid) return {false, "node " + node + " is not running"};
    const auto t0 = Clock::now();
    // A stopped process acts on SIGTERM only once continued.
    if (is_stopped(*pid)) ::kill(*pid, SIGCONT);
    const StopOutcome outcome =
        signal == KillSignal::kTerm ? stop_process(*pid, kTermGrace) : kill_process(*pid);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    return {outcome != StopOutcome::kStillRunning,
            std::string("SIG") + signal_name(signal) + " pid " + std::to_string(*pid) + ": " +
                to_string(outcome) + " in " + std::to_string(took) + " ms"};
  }

  ActionResult pause(const std::string& node) override { return stop_cont(node, SIGSTOP); }
  ActionResult resume(const std::string& node) override { return stop_cont(node, SIGCONT); }

  ActionResult resurrect(const std::string& node) override {
    const ClusterRecord record = load();
    const NodeRecord* n = lookup(record, node);
    if (n == nullptr) return {false, "no node '" + node + "' in the cluster record"};
    if (const std::optional<pid_t> pid = running_pid(*n)) {
      // Someone else (a supervisor) brought it back first: nothing left to do.
      return {true, "already running (pid " + std::to_string(*pid) + ")"};
    }
    const auto t0 = Clock::now();
    Respawned respawned;
    try {
      respawned = respawn_recorded_node(*n);
    } catch (const Error& e) {
      return {false, e.what()};
    }
    const std::string pid = "pid " + std::to_string(respawned.pid);
    if (!respawned.record_error.empty()) return {false, pid + ": " + respawned.record_error};
    const NodeReady ready = wait_node_ready(*n, respawned.pid, t0, kActionTimeout);
    if (!ready.ready) return {false, ready.why};
    return {true, pid + " serving on " + n->endpoint.to_string() + " with a leader after " +
                      std::to_string(ready.took.count()) + " ms"};
  }

  ActionResult status(const std::string& node) override {
    const ClusterRecord record = load();
    const NodeRecord* n = lookup(record, node);
    if (n == nullptr) return {false, "no node '" + node + "' in the cluster record"};
    const std::optional<pid_t> pid = running_pid(*n);
    if (!pid) return {true, "down"};
    return {true,
            std::string(is_stopped(*pid) ? "paused" : "running") + " pid " + std::to_string(*pid)};
  }

  std::optional<fs::path> local_data_dir(const std::string& node) override {
    const ClusterRecord record = load();
    if (node == "leader" || node == "follower") return record.nodes.front().data_dir.parent_path();
    return find(record, node).data_dir;
  }

 private:
  static ClusterRecord load() {
    std::optional<ClusterRecord> record = load_cluster_record();
    if (!record) {
      environment_failure("the process plugin needs a cluster recorded in " +
                          cluster_record_path().string() + " (bombarder cluster start)");
    }
    return std::move(*record);
  }
  static const NodeRecord* lookup(const ClusterRecord& record, const std::string& node) {
    std::string_view id_text = node;
    if (id_text.starts_with("node-")) id_text.remove_prefix(5);
    uint64_t id = 0;
    const auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (id_text.empty() || ec != std::errc() || ptr != id_text.data() + id_text.size()) {
      return nullptr;
    }
    for (const NodeRecord& n : record.nodes) {
      if (n.id == id) return &n;
    }
    return nullptr;
  }
  static const NodeRecord& find(const ClusterRecord& record, const std::string& node) {
    const NodeRecord* n = lookup(record, node);
    if (n == nullptr) {
      invalid_input("the process plugin knows no node '" + node +
                    "' (give an id of the recorded cluster, node-<id>, leader or follower)");
    }
    return *n;
  }
  // node.pid first (what the node wrote itself), else the PID recorded at start; either only if
  // it is still that node.
  static std::optional<pid_t> running_pid(const NodeRecord& n) {
    for (const std::optional<pid_t> pid :
         {read_pid_file(n.data_dir / "node.pid"), std::optional<pid_t>(n.pid)}) {
      if (pid && is_node_process(*pid, n.node_port(), n.program())) return pid;
    }
    return std::nullopt;
  }
  ActionResult stop_cont(const std::string& node, int signal) {
    const ClusterRecord record = load();
    const NodeRecord* n = lookup(record, node);
    if (n == nullptr) return {false, "no node '" + node + "' in the cluster record"};
    const std::optional<pid_t> pid = running_pid(*n);
    if (!pid) return {false, "node " + node + " is not running"};
    if (::kill(*pid, signal) != 0) {
      return {false, std::string("kill: ") + std::strerror(errno)};
    }
    return {true, std::string(signal == SIGSTOP ? "SIGSTOP" : "SIGCONT") + " pid " +
                      std::to_string(*pid)};
  }
};

// ---------------------------------------------------------------------------------------------
// exec

// /bin/sh -c `command`, output captured (bounded), killed at the timeout.
ActionResult run_shell(const std::string& command, std::chrono::milliseconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {false, std::string("pipe: ") + std::strerror(errno)};
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {false, std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a timeout kills the whole pipeline
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string output;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buffer[1024];
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF: the command closed its output (ended)
    if (output.size() < kCommandOutputMax) output.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  if (const size_t nl = output.find('\n'); nl != std::string::npos) output.resize(nl);
  if (timed_out) return {false, "timed out after " + std::to_string(timeout.count()) + " ms"};
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string detail = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                         : "signal " + std::to_string(WTERMSIG(status));
  if (!output.empty()) detail += ": " + output;
  return {ok, "`" + command + "` " + detail};
}

class ExecPlugin final : public FaultPlugin {
 public:
  explicit ExecPlugin(ExecTemplates templates) : templates_(std::move(templates)) {}
  std::string name() const override { return "exec"; }
  void validate(const std::string& node) override {
    if (node.empty()) invalid_input("the exec plugin needs a node name");
  }
  std::string resolve(const std::string& node) override { return node; }
  ActionResult kill(const std::string& node, KillSignal signal) override {
    return run("kill", node, signal_name(signal));
  }
  ActionResult pause(const std::string& node) override { return run("pause", node, "STOP"); }
  ActionResult resume(const std::string& node) override { return run("resume", node, "CONT"); }
  ActionResult resurrect(const std::string& node) override { return run("resurrect", node, ""); }
  ActionResult status(const std::string& node) override { return run("status", node, ""); }
  std::optional<fs::path> local_data_dir(const std::string&) override { return std::nullopt; }

 private:
  ActionResult run(const std::string& action, const std::string& node, const std::string& signal) {
    const auto it = templates_.find(action);
    if (it == templates_.end() || it->second.empty()) {
      return {false, "no --exec-" + action + " template"};
    }
    return run_shell(expand_template(it->second, node, signal), kActionTimeout);
  }
  ExecTemplates templates_;
};

}  // namespace

std::unique_ptr<FaultPlugin> make_fault_plugin(const std::string& name,
                                               const ExecTemplates& templates) {
  if (name == "process") return std::make_unique<ProcessPlugin>();
  if (name == "exec") {
    const auto kill = templates.find("kill");
    if (kill == templates.end() || kill->second.empty()) {
      invalid_input("--plugin exec needs at least --exec-kill TEMPLATE");
    }
    return std::make_unique<ExecPlugin>(templates);
  }
  invalid_input("--plugin must be process or exec, not '" + name + "'");
}

}  // namespace bombarder
