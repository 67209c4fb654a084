// --cacert/--cert/--key on every subcommand that talks to nodes (client/node_tls.h rule 1).
#include <CLI/CLI.hpp>

#include "bombarder/client/node_tls.h"
#include "bombarder/commands/commands.h"

namespace bombarder {

namespace {

bool talks_to_nodes(const CLI::App* command) {
  const std::string& name = command->get_name();
  // The agent has --cacert/--key of its own (TLS to the orchestrator, its Ed25519 key); it
  // reaches its nodes by the recorded cluster's TLS. The orchestrator's nodes are those of
  // --store raft://.
  if (name == "proxy" || name == "report" || name == "compare" || name == "agent") {
    return false;
  }
  const CLI::App* parent = command->get_parent();
  const bool in_cluster = parent != nullptr && parent->get_name() == "cluster";
  return !(in_cluster && (name == "start" || name == "stop"));
}

void add_to(CLI::App& command) {
  const auto leaves = command.get_subcommands([](CLI::App*) { return true; });
  for (CLI::App* sub : leaves) {
    if (!talks_to_nodes(sub)) continue;
    if (!sub->get_subcommands([](CLI::App*) { return true; }).empty()) {
      add_to(*sub);
      continue;
    }
    if (sub->get_option_no_throw("--cacert") != nullptr) continue;
    NodeTlsFlags& f = node_tls_flags();
    sub->add_option("--cacert", f.cacert,
                    "Talk to the nodes over HTTPS, verifying their certificates with this PEM "
                    "CA [default: the recorded cluster's, if started with --tls]")
        ->group("TLS");
    sub->add_option("--cert", f.cert, "PEM client certificate to present to the nodes")
        ->group("TLS");
    sub->add_option("--key", f.key, "PEM private key of --cert")->group("TLS");
  }
}

}  // namespace

void add_node_tls_options(CLI::App& app) { add_to(app); }

}  // namespace bombarder
