// The subcommands of bombarder (design.md §4). Each add_* registers its subcommand(s) on `app`;
// when one is chosen, its callback runs the command and stores the exit code (exit_codes.h) in
// `exit_code`: from what the modules returned (a check held or not). Failures that end the
// command arrive as an `Error` (base/errors.h), which main() maps with exit_code_for().
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace bombarder {

// cluster start|stop|status|sync-status|resync (cluster_command.cc)
void add_cluster_commands(CLI::App& app, int& exit_code);
// flood, burst, mixed, storm [--chaos] (load_command.cc)
void add_load_commands(CLI::App& app, int& exit_code);
// The same commands for experiments' load steps (fleet/load_step.h): their flags checked by
// these commands' parser and run by their body. main() calls it before anything parses an
// experiment (load_command.cc).
void install_load_steps();
// verify (verify_command.cc)
void add_verify_command(CLI::App& app, int& exit_code);
// watch (watch_command.cc)
void add_watch_command(CLI::App& app, int& exit_code);
// check: linearizability of a recorded history (check_command.cc)
void add_check_command(CLI::App& app, int& exit_code);
// report: the HTML report of a recorded history (report_command.cc)
void add_report_command(CLI::App& app, int& exit_code);
// compare: runs side by side on one HTML page (compare_command.cc)
void add_compare_command(CLI::App& app, int& exit_code);
// proxy: the Toxiproxy-compatible network-fault proxy (proxy_command.cc)
void add_proxy_command(CLI::App& app, int& exit_code);
// scenario list|run: network-fault scenarios on a proxied cluster (scenario_command.cc)
void add_scenario_commands(CLI::App& app, int& exit_code);
// supervise: restart nodes whose heartbeat stopped (supervise_command.cc)
void add_supervise_command(CLI::App& app, int& exit_code);
// inject: scheduled faults through plugins; stress-helper (hidden) (inject_command.cc)
void add_inject_command(CLI::App& app, int& exit_code);
// chaos: the standalone chaos monkey (chaos_command.cc)
void add_chaos_command(CLI::App& app, int& exit_code);
// orchestrator: experiments across machines (orchestrator_command.cc)
void add_orchestrator_command(CLI::App& app, int& exit_code);
// agent, agent keygen: runs what an orchestrator assigns (agent_command.cc)
void add_agent_command(CLI::App& app, int& exit_code);

// Adds --cacert/--cert/--key (node_tls.h) to every subcommand of `app` that talks to nodes (all
// but `proxy`, `report`, `compare`, `cluster start` and `cluster stop`), bound to node_tls_flags().
// Called after every add_* above (node_tls_options.cc).
void add_node_tls_options(CLI::App& app);

// When the first of `args` (argv without the program name) is a word that names no subcommand of
// `app`: "unknown subcommand 'orchestratr'; the nearest is 'report'" (the visible subcommand at
// the smallest edit distance). nullopt otherwise, CLI11 then parses as usual
// (unknown_subcommand.cc).
[[nodiscard]] std::optional<std::string> unknown_subcommand_message(
    const CLI::App& app, const std::vector<std::string>& args);

}  // namespace bombarder
