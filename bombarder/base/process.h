// Process control for the nodes bombarder starts: spawn detached (they outlive the command that
// started them), recognise them by PID plus command line (a recycled PID is never signalled),
// stop them with SIGTERM then SIGKILL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bombarder {

// fork + exec of argv[0] with `argv`, in its own session (setsid: a Ctrl-C on bombarder's
// terminal does not reach the nodes), stdin from /dev/null, stdout and stderr appended to
// `output_path`. Throws Error(kEnvironment) when fork fails; an exec failure makes
// the child exit 127 with the reason in `output_path`.
[[nodiscard]] pid_t spawn_detached(const std::vector<std::string>& argv,
                                   const std::filesystem::path& output_path);

// True if `pid` runs (not a zombie) and its command line is a stress_node whose arguments
// include `--port <port>`, an etcd member whose --listen-client-urls ends in ":<port>", or a
// redis-server with `--port <port>` (or, once running, its title "redis-server HOST:<port>"): the
// check that keeps a recycled PID from being signalled. Reaps `pid` first if it is an exited child
// of this process. `recorded_program`: the binary the node was started as (its record's argv[0]);
// a stress_node started from a binary of another name (`cluster start --node-bin
// /opt/stress_node-1.2`) is recognised by that name too.
[[nodiscard]] bool is_node_process(pid_t pid, uint16_t port,
                                   const std::string& recorded_program = {});

// The same check for the fault proxy of `cluster start --proxied`: a bombarder whose command line
// is `proxy ... --port <api_port>`.
[[nodiscard]] bool is_proxy_process(pid_t pid, uint16_t api_port);

// The command line of a running process (/proc/PID/cmdline); empty when it is gone.
[[nodiscard]] std::vector<std::string> process_command_line(pid_t pid);

// True if `pid` runs and is a `bombarder supervise` (argv[0] named bombarder, a "supervise"
// argument): the recycled-PID check for the recorded supervisor.
[[nodiscard]] bool is_supervisor_process(pid_t pid);

// True while `pid` exists and is not a zombie (reaping it if it is our exited child).
[[nodiscard]] bool process_alive(pid_t pid);

enum class StopOutcome {
  kNotRunning,
  kTerminated,        // ended after SIGTERM
  kKilled,            // ended after SIGKILL (kill_process)
  kKilledAfterGrace,  // SIGTERM was not enough within the grace period; SIGKILL ended it
  kStillRunning,
};
[[nodiscard]] const char* to_string(StopOutcome outcome);

// SIGTERM, wait up to `grace` for the process to end, then SIGKILL and wait up to 5 s more.
[[nodiscard]] StopOutcome stop_process(pid_t pid, std::chrono::milliseconds grace);
// SIGKILL and wait (bounded, 5 s) until it is gone.
[[nodiscard]] StopOutcome kill_process(pid_t pid);

// True if something accepts TCP connections on host:port right now, or the port cannot be
// bound: either way a node cannot be started there.
[[nodiscard]] bool port_in_use(const std::string& host, uint16_t port);

// The directory of the running executable (/proc/self/exe), to find stress_node beside it.
[[nodiscard]] std::filesystem::path executable_dir();

}  // namespace bombarder
