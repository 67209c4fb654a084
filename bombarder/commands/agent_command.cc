// `bombarder agent` (agent/agent.h) and `bombarder agent keygen`. See docs/orchestrator.md.
#include <cstdio>
#include <memory>
#include <string>

#include "bombarder/agent/agent.h"
#include "bombarder/agent/simulated_fleet.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/base/text.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/fleet/ed25519_key.h"
#include "bombarder/fleet/protocol.h"

namespace bombarder {

namespace {

struct AgentFlags {
  std::string orchestrator;
  std::string key;
  std::string orchestrator_key;
  std::string labels;
  std::string cacert;
  double dead_man_s = 30;
  std::string proxy_api = "127.0.0.1:8474";
  std::string keygen_out;
  size_t simulate = 0;
  bool poll = false;
  std::string key_dir;
  std::string enroll_token_file;
  std::string stats_file;
};

// "k=v,k2=v2" -> {"k": "v", "k2": "v2"}.
nlohmann::json parse_labels(const std::string& text) {
  nlohmann::json labels = nlohmann::json::object();
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string pair = text.substr(start, comma - start);
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || pair.size() > 2 * kLabelBytesMax) {
      invalid_input("--labels: '" + pair + "' is not key=value");
    }
    labels[pair.substr(0, eq)] = pair.substr(eq + 1);
    start = comma + 1;
  }
  if (labels.size() > kLabelsMax) {
    invalid_input("--labels: at most " + std::to_string(kLabelsMax) + " labels");
  }
  return labels;
}

int run_keygen(const AgentFlags& f) {
  const Ed25519Key key = Ed25519Key::generate();
  key.save_private_file(f.keygen_out);
  const std::string pub_path = f.keygen_out + ".pub";
  FILE* out = std::fopen(pub_path.c_str(), "wx");
  const std::string pem = key.public_pem();
  if (out == nullptr || std::fwrite(pem.data(), 1, pem.size(), out) != pem.size() ||
      std::fclose(out) != 0) {
    environment_failure("cannot write " + pub_path + " (it must not exist yet)");
  }
  std::printf("agent key %s written to %s (private, 0600) and %s (public)\n",
              key.fingerprint().c_str(), f.keygen_out.c_str(), pub_path.c_str());
  return kExitOk;
}

// --simulate N: no fault kit, no cluster; the fleet prints its figures when it stops.
int run_simulated(const AgentFlags& f) {
  if (f.orchestrator.empty()) invalid_input("agent --simulate needs --orchestrator URL");
  if (!f.key.empty()) invalid_input("agent --simulate takes --key-dir DIR, not --key");
  SimulatedFleetOptions options;
  options.orchestrator_url = f.orchestrator;
  options.agents = f.simulate;
  options.key_dir = f.key_dir;
  options.enroll_token_file = f.enroll_token_file;
  options.labels = parse_labels(f.labels);
  options.cacert = f.cacert;
  options.stats_file = f.stats_file;
  SimulatedFleet fleet(std::move(options));
  std::printf("bombarder agent: simulating %zu agents (keys in %s), connecting to %s\n", f.simulate,
              f.key_dir.c_str(), f.orchestrator.c_str());
  std::fflush(stdout);
  SignalWatch watch({SIGINT, SIGTERM});
  fleet.run(SignalWatch::flag());
  std::printf("%s\n", fleet.stats().dump().c_str());
  return kExitOk;
}

int run_agent(const AgentFlags& f) {
  if (f.simulate > 0 && f.poll) invalid_input("--poll and --simulate do not go together");
  if (f.simulate > 0) return run_simulated(f);
  if (!f.key_dir.empty() || !f.enroll_token_file.empty() || !f.stats_file.empty()) {
    invalid_input("--key-dir, --enroll-token-file and --stats-file go with --simulate N");
  }
  if (f.orchestrator.empty() || f.key.empty()) {
    invalid_input(
        "agent needs --orchestrator URL and --key KEYFILE (make one with "
        "`bombarder agent keygen --out KEYFILE`)");
  }
  if (!(f.dead_man_s >= 0.5 && f.dead_man_s <= 3600)) {
    invalid_input("--dead-man must be between 500ms and 1h");
  }
  AgentOptions options;
  options.orchestrator_url = f.orchestrator;
  options.key_file = f.key;
  options.orchestrator_key_file = f.orchestrator_key;
  options.labels = parse_labels(f.labels);
  options.cacert = f.cacert;
  options.poll = f.poll;
  options.dead_man_timeout = std::chrono::milliseconds(int64_t(f.dead_man_s * 1000));
  std::string error;
  const auto proxy = common::Endpoint::parse(f.proxy_api, "127.0.0.1", &error);
  if (!proxy) invalid_input("--proxy-api: " + error);
  options.proxy_api = *proxy;
  Agent agent(std::move(options));
  std::printf("bombarder agent %s: connecting to %s\n", agent.id().c_str(), f.orchestrator.c_str());
  std::fflush(stdout);
  SignalWatch watch({SIGINT, SIGTERM});
  agent.run(SignalWatch::flag());
  return kExitOk;
}

}  // namespace

void add_agent_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<AgentFlags>();
  auto* cmd = app.add_subcommand(
      "agent",
      "Connect out to an orchestrator and run the experiments it assigns against this data "
      "root's cluster, reverting every fault at its end, on abort and when the orchestrator is "
      "silent past --dead-man. `agent keygen --out FILE` makes its key. See docs/orchestrator.md.");
  cmd->add_option("--orchestrator", f->orchestrator,
                  "ws://127.0.0.1:8480 (loopback only) or wss://HOST:PORT (http:// and https:// "
                  "name the same)");
  cmd->add_flag("--poll", f->poll,
                "Talk to the orchestrator by HTTP(S) request/response (a long poll for commands) "
                "instead of a WebSocket, for networks that cannot hold a socket: the same "
                "registration, tokens, signed commands and --dead-man");
  cmd->add_option("--key", f->key, "The agent's Ed25519 private key (PEM)");
  cmd->add_option("--orchestrator-key", f->orchestrator_key,
                  "Pin the orchestrator's public key (PEM; <data>/orchestrator_key.pem's public "
                  "half) [default: trust the first one seen]");
  cmd->add_option("--labels", f->labels, "k=v,k2=v2: labels the orchestrator shows");
  cmd->add_option("--cacert", f->cacert, "wss://: the CA of the orchestrator's certificate");
  add_seconds_option(cmd, "--dead-man", f->dead_man_s,
                     "Abort the running experiment (reverting its faults) after this long "
                     "without a word from the orchestrator")
      ->capture_default_str();
  cmd->add_option("--proxy-api", f->proxy_api, "Toxiproxy-compatible API for network faults")
      ->capture_default_str();
  cmd->add_option("--simulate", f->simulate,
                  "Simulate N agents (1-5000) in this process, for scale tests: each has its own "
                  "key, registration, token and heartbeat and checks command signatures, but "
                  "runs NOTHING: an assignment is acknowledged step by step and reported done "
                  "without any fault, load, check or verify");
  cmd->add_option("--key-dir", f->key_dir,
                  "--simulate: the agents' keys (sim-NNNNN.pem), made there when missing");
  cmd->add_option("--enroll-token-file", f->enroll_token_file,
                  "--simulate: enrol every key first (POST /agents) with this operator token");
  cmd->add_option("--stats-file", f->stats_file,
                  "--simulate: rewrite this JSON file every second with the fleet's figures "
                  "(registered, all_registered_ms, heartbeat_rtt_ms p50/p99, assigns_received)");
  auto* keygen = cmd->add_subcommand("keygen", "Make an Ed25519 key pair: FILE and FILE.pub");
  keygen->add_option("--out", f->keygen_out, "The private key's file (must not exist)")->required();
  keygen->callback([f, &exit_code] { exit_code = run_keygen(*f); });
  cmd->require_subcommand(0, 1);
  cmd->callback([f, cmd, keygen, &exit_code] {
    if (keygen->parsed()) return;
    (void)cmd;
    exit_code = run_agent(*f);
  });
}

}  // namespace bombarder
