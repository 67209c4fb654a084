// The plugin interface of `bombarder inject` (issue 7 "Scheduled injector"): a plugin maps a
// node name to actions on whatever runs that node, so that the same schedule drives local
// processes, containers or remote machines.
//
// Built in (fault_plugins.cc):
//   process  local stress_node processes of the recorded cluster. A name is a node id ("2"),
//            "node-2", "leader" or "follower" (resolved when the fault fires). The PID comes
//            from $STRESS_TEST_DATA/node-<id>/node.pid (checked against the process's command
//            line, so a recycled PID is never signalled); resurrect re-runs the command line
//            recorded in cluster.json and records the new PID there.
//   exec     shell command templates, one per action, with {name} and {signal} substituted
//            (the name shell-quoted): `docker kill --signal {signal} {name}`,
//            `kubectl delete pod {name}`, `ssh {name} systemctl restart stress-node`.
//
// Writing a new plugin: derive from FaultPlugin, implement every action (an action the target
// cannot do returns an ActionResult with ok = false and says why; it must not throw for an
// operating error), and add it to make_fault_plugin(). Actions are called from the injector's
// main thread, one at a time; each must be bounded in time (the built-ins wait at most
// kActionTimeout). `local_data_dir` returns the directory that disk stress writes into, or
// nullopt when the node is not on this machine (then stress faults are refused up front).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace bombarder {

inline constexpr std::chrono::milliseconds kActionTimeout{30000};

struct ActionResult {
  bool ok = false;
  std::string detail;  // "SIGKILL pid 1234", "exit 1: no such container"
};

enum class KillSignal { kTerm, kKill };
[[nodiscard]] const char* signal_name(KillSignal signal);  // "TERM", "KILL"

class FaultPlugin {
 public:
  virtual ~FaultPlugin() = default;
  [[nodiscard]] virtual std::string name() const = 0;

  // Checks that `node` names something this plugin can act on, before any fault fires;
  // throws Error(kInvalidInput) naming it otherwise.
  virtual void validate(const std::string& node) = 0;
  // The concrete name of `node` right now ("leader" -> "1"); other names are returned as given.
  [[nodiscard]] virtual std::string resolve(const std::string& node) = 0;

  [[nodiscard]] virtual ActionResult kill(const std::string& node, KillSignal signal) = 0;
  [[nodiscard]] virtual ActionResult pause(const std::string& node) = 0;   // SIGSTOP or alike
  [[nodiscard]] virtual ActionResult resume(const std::string& node) = 0;  // undoes pause
  // Starts a killed node again and waits (bounded) until it serves when it can tell.
  [[nodiscard]] virtual ActionResult resurrect(const std::string& node) = 0;
  // "running pid 1234", "down", "paused"; ok = false when it cannot tell.
  [[nodiscard]] virtual ActionResult status(const std::string& node) = 0;

  [[nodiscard]] virtual std::optional<std::filesystem::path> local_data_dir(
      const std::string& node) = 0;
};

// The exec plugin's command templates, by action: kill, pause, resume, resurrect, status.
using ExecTemplates = std::map<std::string, std::string>;

// "process" or "exec" (with `templates`); throws Error(kInvalidInput) for another name or
// an exec plugin without a kill template.
[[nodiscard]] std::unique_ptr<FaultPlugin> make_fault_plugin(const std::string& name,
                                                             const ExecTemplates& templates);

// The command an exec template becomes: {name} -> shell-quoted `node`, {signal} -> TERM/KILL.
[[nodiscard]] std::string expand_template(const std::string& text, const std::string& node,
                                          const std::string& signal);

}  // namespace bombarder
