// The integration harness (design.md §5): real stress_node processes on 127.0.0.1 ephemeral
// ports, each with its own data directory under a fresh temporary root, killed and restarted
// from the test.
//
// Ownership: a Cluster owns every process it starts. Its destructor SIGKILLs and reaps them all,
// also when the test failed or threw, so no node outlives its test; children also carry
// PR_SET_PDEATHSIG, so a crashed test process takes them along. The temporary root is removed
// unless the current test failed (then its path and the tail of every node's log are printed)
// or INTEGRATION_KEEP is set in the environment.
//
// Threads: start/kill/restart/signal/wait_exit (process control) must run on the thread that
// constructed the Cluster (PR_SET_PDEATHSIG follows the forking thread). request() and the
// helpers built on it only read immutable state and may be called from any thread.
//
// Waiting: nothing here sleeps for a fixed time to wait for a condition; every wait polls with a
// deadline (wait_until).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace integration {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;
using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds kRequestTimeout = 5s;

struct HttpResult {
  int status = 0;     // 0: no HTTP answer (refused, reset, timed out); see `error`
  std::string error;  // transport error text when status == 0
  std::map<std::string, std::string> headers;  // lowercase names; the first of each wins
  std::string body;

  [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
  // The header's value, or "" when absent (`name` in any case).
  [[nodiscard]] std::string header(std::string_view name) const;
  // The parsed body; a discarded value (is_discarded()) when it is not JSON.
  [[nodiscard]] Json json() const;
  // "503 {...}" or "no answer: Connection refused": for assertion messages.
  [[nodiscard]] std::string describe() const;
};

// One request on a fresh connection to 127.0.0.1:port. `timeout` bounds connect, write and read
// together. A body is sent with Content-Type: application/json unless `headers` set one.
// `method` may be any token (unknown ones are sent verbatim). Thread-safe.
[[nodiscard]] HttpResult http_request(uint16_t port, std::string_view method,
                                      std::string_view target, std::string_view body = {},
                                      const Headers& headers = {},
                                      std::chrono::milliseconds timeout = kRequestTimeout);

// POSTs one peer frame (`body`: a peer-codec batch, stress_node/src/peer_codec.h encode_batch)
// to a node's peer route `path` ("/_raft/append", "/_raft/vote", "/_raft/snapshot") as node
// `from` sends it to node `to`, with `auth` as its authentication headers (X-Raft-From/To/Mac:
// stress_node/src/peer_auth.h frame_headers(), which the harness does not link; empty: none).
[[nodiscard]] HttpResult post_peer_frame(uint16_t port, std::string_view path, uint64_t from,
                                         uint64_t to, std::string_view body,
                                         const Headers& auth = {});

// Polls `predicate` every `poll` until it holds (true) or `timeout` passes (false).
[[nodiscard]] bool wait_until(const std::function<bool()>& predicate,
                              std::chrono::milliseconds timeout,
                              std::chrono::milliseconds poll = 20ms);

// A free TCP port on 127.0.0.1 right now (bind to port 0, read it back, close).
[[nodiscard]] uint16_t free_loopback_port();

// True if `text` is a canonical lowercase UUID.
[[nodiscard]] bool is_uuid(std::string_view text);

// The seed of a randomized test: $INTEGRATION_SEED if set, else from std::random_device.
// Printed with the replay command line.
[[nodiscard]] uint64_t test_seed();

struct ClusterOptions {
  size_t nodes = 3;
  // 20 ms ticks, elections after 200-400 ms, a heartbeat every tick: the timings these tests
  // were written against (the node's defaults are shorter; a sanitizer build on a loaded
  // machine is slow enough that a 150 ms floor would add elections the tests do not expect).
  int tick_ms = 20;
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  std::optional<uint64_t> snapshot_threshold;
  std::optional<int> commit_timeout_ms;
  std::string log_level = "info";
  std::vector<std::string> extra_args;
  // Where node i keeps its data, if not <root>/node-<i> (power_loss_test.cc puts each node on
  // its own loop-mounted file system). The directory must exist.
  std::function<std::filesystem::path(size_t)> data_dir_of;
  // Issue 14: every cluster gets its own random cluster secret and admin token (files under the
  // root, mode 0600) unless insecure_peers (then --insecure-peers, no secret) or !admin_token
  // (admin routes then answer 403 admin_disabled).
  bool insecure_peers = false;
  bool admin_token = true;
};

// How a node process ended.
struct ExitStatus {
  bool exited = false;  // true: exit(code); false: killed by `signal`
  int code = 0;
  int signal = 0;
  [[nodiscard]] std::string describe() const;
};

// What run_stress_node() saw: how the process ended (nullopt: killed at the timeout) and
// everything it wrote to stdout and stderr.
struct RunResult {
  std::optional<ExitStatus> status;
  std::string output;
};

// Runs the stress_node binary with `args` to completion (one-shot invocations: --help, bad
// flags, startup failures), bounded by `timeout`.
[[nodiscard]] RunResult run_stress_node(const std::vector<std::string>& args,
                                        std::chrono::milliseconds timeout = 10s);

// Runs any program (`argv[0]` a path) to completion with stdout and stderr captured together,
// bounded by `timeout` (then SIGKILLed: status nullopt). `extra_env` entries ("NAME=VALUE")
// replace or extend the environment.
[[nodiscard]] RunResult run_program(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout,
                                    const std::vector<std::string>& extra_env = {});

// `bytes` random bytes from OpenSSL's RAND_bytes, as lowercase hex.
[[nodiscard]] std::string random_hex(size_t bytes);
// Creates `path` (which must not exist) with mode 0600 and writes `content`. Throws on failure.
void write_private_file(const std::filesystem::path& path, std::string_view content);

// The stress_node binary this tree built.
[[nodiscard]] std::string stress_node_binary();

// /status of one node, the fields tests compare.
struct NodeState {
  std::string role;
  uint64_t term = 0;
  std::optional<uint64_t> leader_id;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t entry_count = 0;
  std::string state_hash;                    // empty while the node has none yet (null)
  std::optional<uint64_t> state_hash_index;  // the applied index it describes
  uint64_t snapshot_index = 0;
  Json raw;
};

// What create_many() got: the acknowledged entries and a description of each failure.
struct CreatedBatch {
  std::map<std::string, std::string> acked;  // id -> value
  std::vector<std::string> failures;
};

class Cluster {
 public:
  // Starts every node and waits until each answers /status (a port clash at startup picks new
  // ports and retries). Throws std::runtime_error when the cluster cannot be started.
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  [[nodiscard]] size_t size() const { return nodes_.size(); }
  [[nodiscard]] uint16_t port(size_t i) const { return nodes_.at(i).port; }
  [[nodiscard]] std::string address(size_t i) const;  // "127.0.0.1:PORT"
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  [[nodiscard]] std::filesystem::path data_dir(size_t i) const;
  // The cluster secret file ("" with insecure_peers) and the admin token ("" without one).
  [[nodiscard]] const std::filesystem::path& cluster_secret_path() const { return secret_path_; }
  [[nodiscard]] const std::string& admin_token() const { return admin_token_; }
  // {"Authorization", "Bearer <admin token>"}.
  [[nodiscard]] Headers admin_headers() const;
  // Started and not yet reaped.
  [[nodiscard]] bool running(size_t i) const { return nodes_.at(i).pid > 0; }
  [[nodiscard]] std::vector<size_t> running_nodes() const;

  // --- process control (constructing thread only) ---
  void signal(size_t i, int sig);  // kill(pid, sig); the node stays `running` until reaped
  void kill(size_t i);             // SIGKILL and reap
  // Waits for the node to end and reaps it; nullopt if it is still running at the deadline.
  [[nodiscard]] std::optional<ExitStatus> wait_exit(size_t i, std::chrono::milliseconds timeout);
  // Starts a stopped node again with the same flags and data dir and waits until it serves.
  void restart(size_t i);
  // Until GET /status answers 200 (false at the deadline or if the process ended).
  [[nodiscard]] bool wait_serving(size_t i, std::chrono::milliseconds timeout);

  // --- HTTP (any thread) ---
  [[nodiscard]] HttpResult request(size_t i, std::string_view method, std::string_view target,
                                   std::string_view body = {}, const Headers& headers = {},
                                   std::chrono::milliseconds timeout = kRequestTimeout) const;
  [[nodiscard]] std::optional<NodeState> state(size_t i) const;
  // POST /api/kv {"key","value"}.
  [[nodiscard]] HttpResult create(size_t i, std::string_view key, std::string_view value,
                                  const Headers& headers = {},
                                  std::chrono::milliseconds timeout = kRequestTimeout) const;
  // GET /api/kv/:id, linearizable or ?consistency=local.
  [[nodiscard]] HttpResult get(size_t i, std::string_view id, bool local = false) const;
  // Every entry of node i (paged GET /api/kv), keyed by id; nullopt if a page failed.
  [[nodiscard]] std::optional<std::map<std::string, Json>> list_all(size_t i,
                                                                    bool local = true) const;
  // Creates `count` entries through node i from `concurrency` client threads: keys
  // "<prefix>-<n>", values "value-<n>". Every answer that is not 201 is a failure.
  [[nodiscard]] CreatedBatch create_many(size_t i, std::string_view prefix, size_t count,
                                         size_t concurrency = 4) const;
  // A Prometheus sample's value from node i's /metrics ("raft_term", no labels); nullopt when
  // absent or the request failed.
  [[nodiscard]] std::optional<double> metric(size_t i, std::string_view name) const;

  // --- cluster-level waits (constructing thread: they read `running`) ---
  // The leader every running node agrees on (same leader id, which runs and says "leader").
  [[nodiscard]] std::optional<size_t> leader_index() const;
  [[nodiscard]] std::optional<size_t> wait_for_leader(std::chrono::milliseconds timeout = 10s);
  [[nodiscard]] std::vector<size_t> followers_of(size_t leader) const;  // running, not leader
  // Every running node at the same applied index with the same state hash and entry count, and
  // that index is the leader's commit index. On false, *why says what differs.
  [[nodiscard]] bool converged(std::string* why = nullptr) const;
  [[nodiscard]] bool wait_converged(std::chrono::milliseconds timeout = 20s);
  // POSTs {key, value} with `Idempotency-Key: <key>` (so a retry never creates twice) to the
  // running nodes in turn until one answers 2xx or `timeout` passes; the last answer.
  [[nodiscard]] HttpResult create_retrying(std::string_view key, std::string_view value,
                                           std::chrono::milliseconds timeout = 10s) const;

  // Appended to the failure printout (e.g. the seed).
  void note(std::string text) { notes_.push_back(std::move(text)); }

 private:
  struct Node {
    uint16_t port = 0;
    pid_t pid = -1;
    int starts = 0;
  };

  void pick_ports();
  [[nodiscard]] std::vector<std::string> argv_for(size_t i) const;
  void spawn(size_t i);
  // Starts all nodes; false (everything stopped) if one could not bind its port.
  [[nodiscard]] bool start_all(std::string* error);
  void stop_all();
  void reap(size_t i);  // the process was waited for
  void check_owner_thread(const char* what) const;
  // The latest start of node i failed to bind its port.
  [[nodiscard]] bool port_clash(size_t i) const;
  // `status` (a /status body) comes from node i of this cluster, not another test's node that
  // took the same port.
  [[nodiscard]] bool is_ours(size_t i, const Json& status) const;
  void print_diagnostics() const;
  [[nodiscard]] std::filesystem::path output_path(size_t i) const;

  void make_secrets();

  ClusterOptions options_;
  std::filesystem::path root_;
  std::filesystem::path secret_path_;
  std::filesystem::path admin_token_path_;
  std::string admin_token_;
  std::vector<Node> nodes_;
  std::thread::id owner_;
  std::vector<std::string> notes_;
};

// A long-running helper process a test owns (redis-server, `bombarder proxy`): started at
// construction with stdout and stderr appended to `output_path`, dying with the forking thread
// (PR_SET_PDEATHSIG) like the nodes. The destructor stops it (SIGTERM, then SIGKILL after the
// grace period) and reaps it, also when the test failed or threw. Same-thread rule as Cluster.
class BackgroundProcess {
 public:
  BackgroundProcess(std::vector<std::string> argv, std::filesystem::path output_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  // True until the process has ended (reaps it when it has).
  [[nodiscard]] bool running();
  // Everything it wrote so far.
  [[nodiscard]] std::string output() const;
  // SIGTERM, up to `grace` for it to exit, then SIGKILL; how it ended. Idempotent.
  ExitStatus stop(std::chrono::milliseconds grace = 5s);

 private:
  std::vector<std::string> argv_;
  std::filesystem::path output_path_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> ended_;
};

// Client threads of a test. join() (also run by the destructor, so an ASSERT that returns early
// or an exception does not leave threads touching a dead stack) sets `stop` and joins them all.
// Declare it after everything its threads use.
class Workers {
 public:
  explicit Workers(std::atomic<bool>& stop) : stop_(stop) {}
  ~Workers() { join(); }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  template <class F>
  void spawn(F&& body) {
    threads_.emplace_back(std::forward<F>(body));
  }
  void join() {
    stop_ = true;
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  std::atomic<bool>& stop_;
  std::vector<std::thread> threads_;
};

// --- gtest expectations shared by the tests ---

// The body is design.md §4's error JSON: {"error": string, "message": string, ...}.
void expect_error_body(const HttpResult& r);
// Every acknowledged entry (id -> value) is in node i's own state (local reads) with its value.
void expect_all_present(const Cluster& cluster, size_t i,
                        const std::map<std::string, std::string>& acked);

}  // namespace integration
