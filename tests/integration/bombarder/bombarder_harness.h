// Runs the built bombarder binary in a test: each BombarderEnv is a fresh $STRESS_TEST_DATA
// root, so the cluster.json, node data and run records of one test never meet another's.
//
// Cleanup: nodes started through `bombarder cluster start` are detached on purpose (they outlive
// the command), so the destructor runs `cluster stop` and then, as a backstop, SIGKILLs the
// recorded supervisor and every PID still recorded in cluster.json that is a stress_node, an
// etcd (`cluster start --system etcd`), a redis-server or a redis-sentinel (`--system redis
// [--sentinel]`). The root
// is removed unless the test failed or INTEGRATION_KEEP is set (then its path and the node logs'
// tails are printed).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "cluster_harness.h"

namespace integration {

class BombarderEnv {
 public:
  BombarderEnv();
  ~BombarderEnv();
  BombarderEnv(const BombarderEnv&) = delete;
  BombarderEnv& operator=(const BombarderEnv&) = delete;

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }

  // bombarder <args...> with STRESS_TEST_DATA=root(); stdout and stderr together in `output`.
  [[nodiscard]] RunResult run(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // A base port P such that P .. P+count-1 are all free on 127.0.0.1 right now, below the
  // ephemeral range so that outgoing connections do not take them meanwhile.
  [[nodiscard]] static uint16_t free_port_range(size_t count);
  // Polls until P .. P+count-1 can all be bound on 127.0.0.1 (with SO_REUSEADDR, as the node
  // binds), or `timeout` passes (false). A killed node's accepted connections can hold its port
  // in FIN_WAIT for a moment after the process is gone.
  [[nodiscard]] static bool wait_port_range_free(uint16_t first, size_t count,
                                                 std::chrono::milliseconds timeout);

 private:
  std::filesystem::path root_;
};

// The port in the first match of `line` (its group 1) in `output()`, polled for up to `timeout`;
// 0 when nothing matched in time.
[[nodiscard]] uint16_t wait_for_printed_port(const std::function<std::string()>& output,
                                             const std::regex& line,
                                             std::chrono::milliseconds timeout);

// The API port a `bombarder proxy` started as `proxy` prints ("API on http://127.0.0.1:PORT"),
// polled for up to `timeout`; 0 when it did not print it in time.
[[nodiscard]] uint16_t wait_for_proxy_api(
    const BackgroundProcess& proxy, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The path of program `name` (redis-server, promtool, ...) found in $PATH, or "" when it is not
// installed: tests of third-party programs say which package is missing instead of failing to
// spawn.
[[nodiscard]] std::string find_program(const std::string& name);

// The exit code of a run, or -1 when it was killed or timed out.
[[nodiscard]] int exit_code(const RunResult& result);

}  // namespace integration
