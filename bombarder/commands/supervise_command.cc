// `bombarder supervise` (issue 7 "Supervisor and watchdog"): the flags; the work is in
// supervisor.cc.
#include <memory>

#include "bombarder/cluster/supervisor.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"

namespace bombarder {

void add_supervise_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<SuperviseFlags>();
  auto log = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "supervise",
      "Keep the recorded cluster alive: poll every node's heartbeat (GET /_raft/health); a node "
      "silent for --dead-after seconds is declared dead (\"node N is DEAD. Restarting...\"), "
      "SIGKILLed if its process still exists (hung), and started again with its recorded "
      "command line; cluster.json gets the new PID. A node that dies again within "
      "--stable-after seconds of its restart is in a crash loop: its next restart waits "
      "--backoff-min seconds, doubling up to --backoff-max. Runs in the foreground until "
      "Ctrl-C/SIGTERM (the nodes keep running) or until `cluster stop` removes the record; "
      "registers itself in cluster.json so that `cluster stop` stops it first. "
      "`cluster start --supervise` runs one in the background.");
  add_seconds_option(cmd, "--dead-after", f->dead_after_s, "Time without a heartbeat: dead")
      ->capture_default_str();
  add_seconds_option(cmd, "--poll", f->poll_s, "Time between heartbeat rounds")
      ->capture_default_str();
  add_seconds_option(cmd, "--backoff-min", f->backoff_min_s,
                     "Wait before the second restart of a crash loop")
      ->capture_default_str();
  add_seconds_option(cmd, "--backoff-max", f->backoff_max_s,
                     "Longest wait between crash-loop restarts")
      ->capture_default_str();
  add_seconds_option(cmd, "--stable-after", f->stable_after_s,
                     "Time of health after a restart that ends a crash loop")
      ->capture_default_str();
  cmd->add_option("--log", *log, "Append the log lines to FILE instead of stdout");
  cmd->footer(
      "Exit codes: 0 stopped by a signal or by `cluster stop`, 2 usage error, 3 no cluster "
      "recorded or a supervisor already runs.");
  cmd->callback([f, log, &exit_code] {
    run_supervise(*f, *log);
    exit_code = kExitOk;
  });
}

}  // namespace bombarder
