// A stand-in for a stress_node process, for the unit tests of the code that signals and restarts
// nodes (chaos, the process plugin, the stress helper's stop). It is /bin/sh run through a
// symlink named `stress_node`, blocked opening a FIFO nobody writes: no child process, no CPU,
// and a command line `<dir>/stress_node -c <script> stress_node --port <port>`, which is what
// is_node_process() recognises as the node on that port. A real node would need a cluster.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bombarder/base/process.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder::test {

// The argv of a fake node for `port`, its symlink and FIFO made in `dir`. `ignore_term`: the
// shell ignores SIGTERM, so only SIGKILL ends it. `binary_name`: the symlink's name, as a node
// started with `cluster start --node-bin <dir>/<binary_name>` would be.
inline std::vector<std::string> fake_node_args(const std::filesystem::path& dir, uint16_t port,
                                               bool ignore_term = false,
                                               const std::string& binary_name = "stress_node") {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const fs::path binary = dir / binary_name;
  if (!fs::exists(fs::symlink_status(binary))) fs::create_symlink("/bin/sh", binary);
  const fs::path fifo = dir / "never-written.fifo";
  if (!fs::exists(fs::symlink_status(fifo))) {
    EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  }
  std::string script = "read x < '" + fifo.string() + "'";
  if (ignore_term) script = "trap '' TERM; " + script;
  return {binary.string(), "-c", script, "stress_node", "--port", std::to_string(port)};
}

// spawn_detached, then waits (bounded) until the child has exec'd `argv`: before that its
// command line is the test binary's, and is_node_process() would not know it yet.
inline pid_t spawn_and_wait_exec(const std::vector<std::string>& argv,
                                 const std::filesystem::path& output_path) {
  const pid_t pid = spawn_detached(argv, output_path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (process_command_line(pid) != argv && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll, bounded by the deadline
  }
  EXPECT_EQ(process_command_line(pid), argv) << "pid " << pid << " did not exec";
  return pid;
}

// SIGKILLs (and reaps) the process when the test ends, however it ends; a no-op when it is gone.
class ProcessGuard {
 public:
  explicit ProcessGuard(pid_t pid = -1) : pid_(pid) {}
  ~ProcessGuard() { reset(); }
  ProcessGuard(const ProcessGuard&) = delete;
  ProcessGuard& operator=(const ProcessGuard&) = delete;
  void reset(pid_t pid = -1) {
    if (pid_ > 0 && process_alive(pid_)) (void)kill_process(pid_);
    pid_ = pid;
  }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// SIGKILLs every fake node that cluster.json (under $STRESS_TEST_DATA = `root`) names and that
// was made in `root`: the nodes the code under test restarted, also when a failing test did not
// expect them. Only processes whose argv[0] lies in `root` are touched (never a recycled PID).
inline void stop_recorded_fake_nodes(const std::filesystem::path& root) {
  std::optional<ClusterRecord> record;
  try {
    record = load_cluster_record();
  } catch (const std::exception&) {
    return;
  }
  if (!record) return;
  const std::string prefix = root.string() + "/";
  for (const NodeRecord& node : record->nodes) {
    const std::vector<std::string> argv = process_command_line(node.pid);
    if (!argv.empty() && argv[0].rfind(prefix, 0) == 0) (void)kill_process(node.pid);
  }
}

}  // namespace bombarder::test
