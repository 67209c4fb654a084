// verify (issue 4 "Verify and watch"): wait until the replicas settle at one applied index,
// compare entry counts and state hashes, optionally every entry (--deep), and check that every
// write the last load run had acknowledged is there with its acknowledged value, or absent if
// it was acknowledged deleted, on every node.
#include <fstream>
#include <iostream>
#include <memory>

#include "bombarder/base/data_root.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_url.h"
#include "bombarder/client/store_system.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/verify.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/history/run_record.h"

namespace bombarder {

namespace {

struct VerifyFlags {
  std::vector<std::string> nodes;
  std::string system;  // "": the recorded cluster's, else stress_node
  double timeout_s = 30;
  bool deep = false;
  std::string run = "last";
  bool skip_acked = false;
  bool json = false;
};

int run_verify(const VerifyFlags& f) {
  if (!(f.timeout_s > 0)) invalid_input("--timeout must be positive");
  VerifyOptions options;
  if (!f.system.empty()) {
    options.system = parse_store_system(f.system);
  } else if (f.nodes.empty()) {
    if (const auto record = load_cluster_record()) options.system = record->system;
  }
  options.nodes = f.nodes.empty() ? default_nodes() : parse_node_list(f.nodes);
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  options.deep = f.deep;
  options.run_wanted = !f.skip_acked;
  if (!f.skip_acked) options.run = load_run_record(f.run);
  const VerifyOutcome outcome = verify_cluster(options);
  // Beside the run it checked, for `bombarder compare`; a failure to write it does not change
  // what verify found.
  if (options.run) {
    std::ofstream out(options.run->dir / "verify.json", std::ios::trunc);
    out << outcome.report.dump(2) << '\n';
    if (!out) std::cerr << "verify: cannot write " << (options.run->dir / "verify.json") << "\n";
  }
  if (f.json) {
    std::cout << outcome.report.dump(2) << std::endl;
  } else {
    std::cout << outcome.text << std::flush;
  }
  return outcome.passed ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<VerifyFlags>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check that all nodes hold the same data: wait until they settle at one applied index, "
      "compare entry counts and state hashes (and every entry with --deep), and check that "
      "every write the last load run had acknowledged is present (or deleted) on every node");
  cmd->add_option("--nodes", flags->nodes,
                  "Nodes to compare, comma-separated URLs "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]")
      ->delimiter(',');
  cmd->add_option("--system", flags->system,
                  "stress_node, etcd (members compared by applied index, maintenance hash and "
                  "key count) or redis (nodes compared by replication offset, DEBUG DIGEST and "
                  "DBSIZE) [default: the recorded cluster's, else stress_node]");
  add_seconds_option(cmd, "--timeout", flags->timeout_s, "How long to wait for the nodes to settle")
      ->capture_default_str();
  cmd->add_flag("--deep", flags->deep, "Also compare every entry across the nodes");
  cmd->add_option("--run", flags->run,
                  "The load run whose acknowledged writes to check: a run id, its directory, "
                  "or 'last'")
      ->capture_default_str();
  cmd->add_flag("--skip-acked", flags->skip_acked, "Do not check the acknowledged writes");
  cmd->add_flag("--json", flags->json, "Print the report as JSON");
  cmd->callback([flags, &exit_code] { exit_code = run_verify(*flags); });
}

}  // namespace bombarder
