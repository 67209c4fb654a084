// bombarder scenario list|run (issue 6 "Scenarios"): the network-fault scenarios of
// faults/network_scenario.h against a proxied cluster. Exit 0 when every scenario run passed, 1
// when one failed, 2 usage, 3 no proxied cluster / no leader.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "bombarder/base/output.h"
#include "bombarder/base/signal_watch.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/commands/metrics_flags.h"
#include "bombarder/faults/network_scenario.h"
#include "bombarder/load/load_metrics.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

struct ScenarioFlags {
  bool json = false;
  std::string name;
  double stabilization_s = 30;
  double testing_s = 60;
  double recovery_s = 60;
  size_t concurrency = 10;
  size_t max_procs = 2;
  std::string proxy_api;
  MetricsFlags metrics;
};

std::chrono::milliseconds phase_flag(double seconds, const char* flag) {
  // At least 3 s: the recovery time is measured in 1-second windows, three of them good.
  if (!(seconds >= 3) || seconds > 86400) {
    invalid_input(std::string(flag) + " must be a duration in [3s, 86400s]");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

int run_list(const ScenarioFlags& f) {
  if (f.json) {
    Json out = Json::array();
    for (const ScenarioSpec& s : scenario_catalog()) {
      out.push_back({{"name", s.name}, {"family", s.family}, {"description", s.description}});
    }
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  std::string family;
  for (const ScenarioSpec& s : scenario_catalog()) {
    if (s.family != family) {
      family = s.family;
      std::cout << (family == scenario_catalog().front().family ? "" : "\n") << family << ":\n";
    }
    std::printf("  %-38s %s\n", s.name.c_str(), s.description.c_str());
  }
  return kExitOk;
}

int run_run(const ScenarioFlags& f) {
  ScenarioOptions options;
  options.stabilization = phase_flag(f.stabilization_s, "--stabilization");
  options.testing = phase_flag(f.testing_s, "--testing");
  options.recovery = phase_flag(f.recovery_s, "--recovery");
  if (f.concurrency < 1 || f.concurrency > 10000)
    invalid_input("--concurrency must be in [1, 10000]");
  if (f.max_procs < 1 || f.max_procs > 64) invalid_input("--max-procs must be in [1, 64]");
  options.concurrency = f.concurrency;
  options.threads = f.max_procs;
  options.proxy_api = f.proxy_api;
  options.json = f.json;
  check_metrics_flags(f.metrics);
  std::vector<const ScenarioSpec*> chosen;
  if (f.name == "all") {
    for (const ScenarioSpec& s : scenario_catalog()) chosen.push_back(&s);
  } else if (const ScenarioSpec* s = find_scenario(f.name)) {
    chosen.push_back(s);
  } else {
    invalid_input("unknown scenario '" + f.name + "' (see `bombarder scenario list`)");
  }
  LoadMetrics metrics("scenario");
  const std::unique_ptr<MetricsServer> metrics_server =
      start_metrics_server(f.metrics, metrics, status_stream(f.json));
  if (metrics_server) options.metrics = &metrics;
  Json results = Json::array();
  size_t failed = 0;
  for (const ScenarioSpec* spec : chosen) {
    const ScenarioResult result = run_scenario(*spec, options);
    failed += result.passed() ? 0 : 1;
    if (f.json) {
      results.push_back(result.to_json());
    } else {
      std::cout << result.describe() << std::flush;
    }
  }
  if (f.json) {
    std::cout << (chosen.size() == 1 ? results[0] : results).dump(2) << std::endl;
  } else if (chosen.size() > 1) {
    std::printf("%zu scenarios: %zu passed, %zu failed\n", chosen.size(), chosen.size() - failed,
                failed);
  }
  std::cout.flush();
  if (metrics_server) {
    const SignalWatch signals({SIGINT});
    linger_metrics(f.metrics, metrics_server.get(), SignalWatch::flag());
  }
  return failed == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_scenario_commands(CLI::App& app, int& exit_code) {
  CLI::App* scenario = app.add_subcommand(
      "scenario",
      "Network-fault scenarios against a proxied cluster (`cluster start --proxied`): "
      "stabilization, testing (faults through the proxy), recovery, then a verdict");
  scenario->require_subcommand(1);
  auto flags = std::make_shared<ScenarioFlags>();

  CLI::App* list = scenario->add_subcommand("list", "List the scenarios by family");
  list->add_flag("--json", flags->json, "Print the list as JSON");
  list->callback([flags, &exit_code] { exit_code = run_list(*flags); });

  CLI::App* run = scenario->add_subcommand(
      "run", "Run one scenario, or all of them in turn; exit 1 unless every one passes");
  run->add_option("name", flags->name, "A scenario's name (`scenario list`) or 'all'")->required();
  add_seconds_option(run, "--stabilization", flags->stabilization_s, "Length of the baseline phase")
      ->capture_default_str();
  add_seconds_option(run, "--testing", flags->testing_s, "Time with the faults applied")
      ->capture_default_str();
  add_seconds_option(run, "--recovery", flags->recovery_s, "Time after the faults are removed")
      ->capture_default_str();
  run->add_option("--concurrency", flags->concurrency, "Requests in flight")->capture_default_str();
  run->add_option("--max-procs", flags->max_procs, "The load generator's I/O threads")
      ->capture_default_str();
  run->add_option("--proxy-api", flags->proxy_api,
                  "The fault proxy's API, HOST:PORT [default: the recorded cluster's]");
  run->add_flag("--json", flags->json, "Print the verdict as JSON (progress goes to stderr)");
  add_metrics_flags(run, flags->metrics);
  run->callback([flags, &exit_code] { exit_code = run_run(*flags); });
}

}  // namespace bombarder
