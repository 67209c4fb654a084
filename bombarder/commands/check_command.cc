// bombarder check FILE (issue 5 "Checker"): is a recorded history (history.h) linearizable for
// the KV model? Exit 0 linearizable, 1 violation, 3 unknown (the search did not finish within
// --timeout) or an unreadable history, 2 usage.
#include <iostream>
#include <memory>

#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"

namespace bombarder {

namespace {

struct CheckFlags {
  std::string file;
  double timeout_s = 60;
  size_t threads = 0;
  bool json = false;
};

int run_check(const CheckFlags& f) {
  if (!(f.timeout_s > 0) || f.timeout_s > 86400) {
    invalid_input("--timeout must be a duration in (0s, 86400s]");
  }
  const History history = load_history(f.file);
  CheckOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  options.threads = f.threads;
  const CheckResult result = check_history(history, options);
  if (f.json) {
    std::cout << check_json(history, result) << std::endl;
  } else {
    std::cout << describe_check(history, result);
  }
  switch (result.verdict) {
    case Verdict::kOk: return kExitOk;
    case Verdict::kViolation: return kExitCheckFailed;
    case Verdict::kUnknown: return kExitEnvironment;
  }
  return kExitEnvironment;
}

}  // namespace

void add_check_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CheckFlags>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Check that a history recorded with --history is linearizable (exit 0 yes, 1 violation, "
      "3 unknown or unreadable)");
  cmd->add_option("file", flags->file, "The history file (JSON lines, docs/history.md)")
      ->required();
  add_seconds_option(cmd, "--timeout", flags->timeout_s,
                     "How long the search may take; past it the verdict is unknown, never ok")
      ->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Checker threads [default: hardware threads]");
  cmd->add_flag("--json", flags->json, "Print the verdict as JSON");
  cmd->callback([flags, &exit_code] { exit_code = run_check(*flags); });
}

}  // namespace bombarder
