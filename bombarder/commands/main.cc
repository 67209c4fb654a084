// bombarder: start and stop local stress_node clusters, drive load with chaos, verify replicas.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "bombarder/base/command_line.h"
#include "bombarder/cluster/cluster_tls.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/exit_codes.h"

int main(int argc, char** argv) {
  // A node that vanished mid-request must not kill the client with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  bombarder::record_command_line(argc, argv);
  // Rule 2 of node TLS (node_tls.h): a cluster started with --tls is reached over HTTPS.
  bombarder::set_recorded_node_tls(bombarder::recorded_cluster_tls);
  // The orchestrator checks experiments' load steps with the load commands' parser; the agent
  // runs them with their body (fleet/load_step.h).
  bombarder::install_load_steps();
  CLI::App app{
      "bombarder: the stress and verification tool for stress_node clusters.\n"
      "Nodes are addressed as http://HOST:PORT, HOST:PORT or PORT (127.0.0.1). Without --nodes,\n"
      "commands use the cluster recorded in $STRESS_TEST_DATA/cluster.json (default data/), or\n"
      "127.0.0.1:8080-8082. Exit codes: 0 ok, 1 a check failed, 2 usage error, 3 environment\n"
      "(no cluster, port taken, no leader).",
      "bombarder"};
  app.require_subcommand(1);
  app.fallthrough(false);
  int exit_code = bombarder::kExitOk;
  bombarder::add_cluster_commands(app, exit_code);
  bombarder::add_load_commands(app, exit_code);
  bombarder::add_verify_command(app, exit_code);
  bombarder::add_watch_command(app, exit_code);
  bombarder::add_check_command(app, exit_code);
  bombarder::add_report_command(app, exit_code);
  bombarder::add_compare_command(app, exit_code);
  bombarder::add_proxy_command(app, exit_code);
  bombarder::add_scenario_commands(app, exit_code);
  bombarder::add_supervise_command(app, exit_code);
  bombarder::add_inject_command(app, exit_code);
  bombarder::add_chaos_command(app, exit_code);
  bombarder::add_orchestrator_command(app, exit_code);
  bombarder::add_agent_command(app, exit_code);
  // Last: --cacert/--cert/--key go on every command above that talks to nodes.
  bombarder::add_node_tls_options(app);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (const auto unknown = bombarder::unknown_subcommand_message(app, args)) {
    std::fprintf(stderr, "bombarder: error: %s (see --help)\n", unknown->c_str());
    return bombarder::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "bombarder: error: %s (see --help)\n", e.what());
    return bombarder::kExitUsage;
  } catch (const bombarder::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "bombarder: error: %s\n", e.what());
    return bombarder::exit_code_for(e.kind());
  } catch (const std::exception& e) {
    // Any other exception that escaped a module (nlohmann::json, std::filesystem): the
    // environment.
    std::fflush(stdout);
    std::fprintf(stderr, "bombarder: error: %s\n", e.what());
    return bombarder::kExitEnvironment;
  }
  return exit_code;
}
