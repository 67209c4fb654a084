// bombarder inject (issue 7 "Scheduled injector"): kill-after/down-for on a real cluster with
// load (the fault window visible in the CSV, the cluster serving throughout), a pause of the
// leader (a new leader; the paused one rejoins as follower), memory/disk/CPU stress reverted at
// their end, Ctrl-C reverting what is active, and the exec plugin's templates.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "background_process.h"
#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

struct CsvRow {
  std::string node;
  int status = 0;
  bool in_window = false;
};

std::vector<CsvRow> read_csv(const fs::path& path) {
  std::ifstream in(path);
  std::vector<CsvRow> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string cell; cells.size() < 7 && std::getline(s, cell, ',');) cells.push_back(cell);
    if (cells.size() < 7) continue;
    rows.push_back({cells[2], std::stoi(cells[4]), cells[6] == "1"});
  }
  return rows;
}

// Every "helper pid N" in the output.
std::set<pid_t> helper_pids(const std::string& output) {
  std::set<pid_t> pids;
  const std::regex re("helper pid ([0-9]+)");
  for (std::sregex_iterator it(output.begin(), output.end(), re), end; it != end; ++it) {
    pids.insert(static_cast<pid_t>(std::stol((*it)[1])));
  }
  return pids;
}

class InjectCommandTest : public ::testing::Test {
 protected:
  void start_cluster() {
    base_port_ = BombarderEnv::free_port_range(3);
    const RunResult start =
        env_.run({"cluster", "start", "--port", std::to_string(base_port_), "--nodes", "3",
                  "--tick-ms", "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
  }
  uint16_t port(size_t i) const { return static_cast<uint16_t>(base_port_ + i); }
  Json status(size_t i) const {
    const HttpResult r = http_request(port(i), "GET", "/status", {}, {}, 1s);
    return r.ok() ? r.json() : Json();
  }
  std::optional<size_t> leader() const {
    for (size_t i = 0; i < 3; ++i) {
      const Json s = status(i);
      if (s.is_object() && s.value("role", "") == "leader") return i;
    }
    return std::nullopt;
  }
  pid_t node_pid(size_t i) const {
    std::ifstream in(env_.root() / "cluster.json");
    const Json r = Json::parse(in, nullptr, false);
    return r.is_object() ? r["nodes"][i].value("pid", 0) : 0;
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
};

TEST_F(InjectCommandTest, KillAfterDownForWithLoadShowsTheFaultWindowWhileTheClusterServes) {
  start_cluster();
  std::optional<size_t> lead;
  ASSERT_TRUE(wait_until([&] { return (lead = leader()).has_value(); }, 10s));
  const size_t victim = (*lead + 1) % 3;
  const fs::path csv = env_.root() / "load_results.csv";
  const RunResult run =
      env_.run({"inject", "--node", std::to_string(victim), "--kill-after", "1s", "--down-for",
                "2s", "--load", "--interval", "50ms", "--settle", "1s", "--csv", csv.string()});
  ASSERT_EQ(exit_code(run), 0) << run.output;
  EXPECT_NE(run.output.find("kill node " + std::to_string(victim) + ": SIGKILL pid"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("resurrect node " + std::to_string(victim) + ": pid"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("[load] Total requests: "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Expected failures"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Results saved to " + csv.string()), std::string::npos);

  const std::vector<CsvRow> rows = read_csv(csv);
  // 4 s at one request per 50 ms.
  EXPECT_GE(rows.size(), 60u);
  size_t window_rows = 0, window_failures = 0, other_failures = 0, victim_failures_outside = 0;
  for (const CsvRow& row : rows) {
    const bool ok = row.status >= 200 && row.status < 300;
    if (row.in_window) {
      EXPECT_EQ(row.node, std::to_string(victim));
      ++window_rows;
      window_failures += !ok;
    } else if (row.node != std::to_string(victim)) {
      other_failures += !ok;
    } else {
      victim_failures_outside += !ok;
    }
  }
  // The window is visible: the victim's share of about 2 s of requests, and they failed.
  EXPECT_GE(window_rows, 8u) << run.output;
  EXPECT_GE(window_failures, window_rows - 1) << run.output;
  // The cluster served throughout: the surviving nodes answered every request.
  EXPECT_EQ(other_failures, 0u) << run.output;
  // Right after its restart the victim may not know the leader yet for a moment.
  EXPECT_LE(victim_failures_outside, 2u) << run.output;
  EXPECT_TRUE(wait_until([&] { return status(victim).is_object(); }, 10s));
}

TEST_F(InjectCommandTest, PausedLeaderIsReplacedAndRejoinsAsFollower) {
  start_cluster();
  std::optional<size_t> lead;
  ASSERT_TRUE(wait_until([&] { return (lead = leader()).has_value(); }, 10s));
  const uint64_t term_before = status(*lead).value("term", 0);
  const pid_t pid = node_pid(*lead);
  const RunResult run = env_.run({"inject", "--node", "leader", "--pause-after", "0.2s",
                                  "--pause-for", "3s", "--settle", "0s"});
  ASSERT_EQ(exit_code(run), 0) << run.output;
  EXPECT_NE(run.output.find("pause leader (node " + std::to_string(*lead) + "): SIGSTOP pid " +
                            std::to_string(pid)),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("resume node " + std::to_string(*lead) + ": SIGCONT"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(process_stopped(pid));
  EXPECT_NE(run.output.find("status node " + std::to_string(*lead) + ": running pid " +
                            std::to_string(pid)),
            std::string::npos)
      << run.output;
  // A new leader was elected while it was paused; once resumed it follows at the higher term.
  ASSERT_TRUE(wait_until(
      [&] {
        const Json old = status(*lead);
        const std::optional<size_t> now = leader();
        return old.is_object() && old.value("role", "") == "follower" && now && *now != *lead &&
               old.value("term", uint64_t{0}) > term_before;
      },
      15s))
      << status(*lead).dump();
}

TEST_F(InjectCommandTest, ScheduledMemoryDiskAndCpuStressAreRevertedAtTheirEnd) {
  start_cluster();
  const fs::path schedule = env_.root() / "stress.json";
  std::ofstream(schedule) << R"({"faults": [
    {"type": "memory", "node": "0", "at": "0s", "duration": "1.5s", "mib": 64},
    {"type": "disk", "node": "node-0", "at": "0.2s", "duration": "1.5s", "mib_per_s": 4},
    {"type": "cpu", "node": 0, "at": "0s", "duration": "1s", "workers": 1}
  ]})";
  const RunResult run = env_.run({"inject", "--schedule", schedule.string(), "--settle", "0.5s"});
  ASSERT_EQ(exit_code(run), 0) << run.output;
  EXPECT_NE(run.output.find("memory stress: 64 MiB allocated and touched"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("disk stress: 4 MiB/s into " + (env_.root() / "node-0").string()),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("cpu stress: 1 busy threads"), std::string::npos) << run.output;
  for (const char* revert : {"memory-revert node 0", "disk-revert node 0", "cpu-revert node 0"}) {
    EXPECT_NE(run.output.find(revert), std::string::npos) << revert << "\n" << run.output;
  }
  const std::set<pid_t> helpers = helper_pids(run.output);
  EXPECT_EQ(helpers.size(), 3u) << run.output;
  for (pid_t pid : helpers) EXPECT_TRUE(process_gone(pid)) << pid;
  for (const auto& entry : fs::directory_iterator(env_.root() / "node-0")) {
    EXPECT_EQ(entry.path().filename().string().rfind("bombarder-stress-", 0), std::string::npos)
        << entry.path();
  }
  EXPECT_TRUE(status(0).is_object());
}

TEST_F(InjectCommandTest, CtrlCRevertsThePauseAndTheStressThatAreActive) {
  start_cluster();
  const pid_t pid = node_pid(1);
  Background inject(env_,
                    {"inject", "--node", "1", "--pause-after", "0s", "--pause-for", "60s",
                     "--memory-mib", "16", "--memory-for", "60s"},
                    env_.root() / "inject.out");
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string out = inject.output();
        return out.find("pause node 1: SIGSTOP") != std::string::npos &&
               out.find("memory stress: 16 MiB") != std::string::npos;
      },
      20s))
      << inject.output();
  EXPECT_TRUE(process_stopped(pid));
  inject.signal(SIGINT);
  EXPECT_EQ(inject.wait(20s), 1) << inject.output();
  const std::string out = inject.output();
  EXPECT_NE(out.find("reverting every active fault"), std::string::npos) << out;
  EXPECT_NE(out.find("resume node 1: SIGCONT"), std::string::npos) << out;
  EXPECT_FALSE(process_stopped(pid));
  for (pid_t helper : helper_pids(out)) EXPECT_TRUE(process_gone(helper)) << helper;
  EXPECT_TRUE(wait_until([&] { return status(1).is_object(); }, 10s));
}

TEST_F(InjectCommandTest, ExecPluginRunsTheTemplatesWithTheNameQuoted) {
  const fs::path log = env_.root() / "exec.log";
  const RunResult run = env_.run(
      {"inject", "--plugin", "exec", "--exec-kill", "echo kill {name} {signal} >> " + log.string(),
       "--exec-resurrect", "echo resurrect {name} >> " + log.string(), "--node", "web 1; rm -rf x",
       "--kill-after", "0s", "--down-for", "100ms", "--signal", "TERM", "--settle", "0s"});
  ASSERT_EQ(exit_code(run), 0) << run.output;
  EXPECT_EQ(read_text_file(log), "kill web 1; rm -rf x TERM\nresurrect web 1; rm -rf x\n");
  // --json: the actions as a document on stdout (the log lines go to stderr, captured here too).
  const RunResult json_run =
      env_.run({"inject", "--plugin", "exec", "--exec-kill", "true", "--node", "n", "--kill-after",
                "0s", "--down-for", "10ms", "--settle", "0s", "--json"});
  EXPECT_EQ(exit_code(json_run), 1) << json_run.output;  // no resurrect template
  const size_t doc = json_run.output.find("\n{\n");
  ASSERT_NE(doc, std::string::npos) << json_run.output;
  const Json answer = Json::parse(json_run.output.substr(doc), nullptr, false);
  ASSERT_TRUE(answer.is_object()) << json_run.output;
  EXPECT_EQ(answer["ok"], false);
  ASSERT_EQ(answer["actions"].size(), 2u) << answer.dump();
  EXPECT_EQ(answer["actions"][0]["action"], "kill");
  EXPECT_EQ(answer["actions"][0]["ok"], true);
  EXPECT_EQ(answer["actions"][1]["action"], "resurrect");
  EXPECT_EQ(answer["actions"][1]["ok"], false);
  EXPECT_TRUE(answer["load"].is_null());
  // A template that fails makes the run fail, and says which.
  const RunResult failing =
      env_.run({"inject", "--plugin", "exec", "--exec-kill", "exit 3", "--node", "n",
                "--kill-after", "0s", "--down-for", "10ms", "--settle", "0s"});
  EXPECT_EQ(exit_code(failing), 1) << failing.output;
  EXPECT_NE(failing.output.find("kill node n FAILED: `exit 3` exit 3"), std::string::npos)
      << failing.output;
  EXPECT_NE(failing.output.find("resurrect node n FAILED: no --exec-resurrect template"),
            std::string::npos)
      << failing.output;
}

TEST_F(InjectCommandTest, NetworkFaultAddsAToxicOnTheProxyAndDeletesItAtTheEnd) {
  const uint16_t api = BombarderEnv::free_port_range(2);
  Background proxy(env_, {"proxy", "--port", std::to_string(api)}, env_.root() / "proxy.out");
  ASSERT_TRUE(
      wait_until([&] { return proxy.output().find("API on http://") != std::string::npos; }, 10s))
      << proxy.output();
  const std::string create = R"({"name": "node1", "listen": "127.0.0.1:)" +
                             std::to_string(api + 1) + R"(", "upstream": "127.0.0.1:1"})";
  const HttpResult created = http_request(api, "POST", "/proxies", create);
  ASSERT_EQ(created.status, 201) << created.describe();

  const fs::path schedule = env_.root() / "network.json";
  std::ofstream(schedule) << R"({"faults": [{"type": "network", "node": "node1", "at": "0s",
      "duration": "3s", "toxic": "latency", "attributes": {"latency": 400}}]})";
  Background inject(
      env_,
      {"inject", "--plugin", "exec", "--exec-kill", "true", "--schedule", schedule.string(),
       "--proxy-api", "127.0.0.1:" + std::to_string(api), "--settle", "0s"},
      env_.root() / "inject.out");
  // While the fault lasts the proxy carries the toxic, with the attributes asked for.
  ASSERT_TRUE(wait_until(
      [&] {
        const HttpResult toxics = http_request(api, "GET", "/proxies/node1/toxics");
        const Json list = toxics.json();
        return list.is_array() && list.size() == 1 &&
               list[0].value("name", "") == "bombarder-inject-0" &&
               list[0]["attributes"].value("latency", 0) == 400;
      },
      10s))
      << inject.output();
  EXPECT_EQ(inject.wait(20s), 0) << inject.output();
  const std::string out = inject.output();
  EXPECT_NE(out.find("network proxy node1: toxic bombarder-inject-0 on 127.0.0.1:" +
                     std::to_string(api) + ": added"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("network-revert proxy node1: toxic bombarder-inject-0: deleted"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("status proxy node1: proxy has 0 toxic(s)"), std::string::npos) << out;
  const HttpResult after = http_request(api, "GET", "/proxies/node1/toxics");
  EXPECT_EQ(after.json(), Json::array()) << after.describe();
}

TEST_F(InjectCommandTest, BadInputIsAOneLineUsageError) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"inject"},
           {"inject", "--kill-after", "1s"},
           {"inject", "--node", "1", "--kill-after", "soon"},
           {"inject", "--node", "1", "--pause-after", "1s"},
           {"inject", "--plugin", "ssh", "--node", "1", "--kill-after", "1s"},
           {"inject", "--plugin", "exec", "--node", "1", "--kill-after", "1s"},
           {"inject", "--schedule", "/nonexistent.json"},
       }) {
    const RunResult run = env_.run(args, 10s);
    EXPECT_EQ(exit_code(run), 2) << args.back() << ": " << run.output;
    EXPECT_EQ(run.output.rfind("bombarder: error: ", 0), 0u) << run.output;
  }
  // More memory than the machine has is refused before anything runs (65536 MiB, the most a
  // fault may ask for, is more than 90% of this machine's available memory unless it has ~72 GiB
  // free).
  uint64_t available_kib = 0;
  {
    std::ifstream meminfo("/proc/meminfo");
    std::string name, unit;
    for (uint64_t kib = 0; meminfo >> name >> kib >> unit;) {
      if (name == "MemAvailable:") available_kib = kib;
    }
  }
  if (available_kib / 1024 * 9 / 10 < 65536) {
    const RunResult greedy =
        env_.run({"inject", "--plugin", "exec", "--exec-kill", "true", "--node", "n",
                  "--memory-mib", "65536", "--memory-for", "1s"},
                 10s);
    EXPECT_EQ(exit_code(greedy), 3) << greedy.output;
    EXPECT_NE(greedy.output.find("90% of the memory available"), std::string::npos)
        << greedy.output;
  }
  const RunResult help = env_.run({"inject", "--help"}, 10s);
  EXPECT_EQ(exit_code(help), 0) << help.output;
  for (const char* flag :
       {"--plugin",      "--exec-kill", "--exec-pause", "--exec-resume",    "--exec-resurrect",
        "--exec-status", "--node",      "--kill-after", "--down-for",       "--signal",
        "--pause-after", "--pause-for", "--memory-mib", "--disk-mib-per-s", "--cpu-workers",
        "--toxic",       "--proxy-api", "--schedule",   "--settle",         "--load",
        "--interval",    "--csv",       "--history"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
  const fs::path bad = env_.root() / "bad.json";
  std::ofstream(bad) << R"({"faults": [{"type": "explode", "node": "1"}]})";
  const RunResult run = env_.run({"inject", "--schedule", bad.string()}, 10s);
  EXPECT_EQ(exit_code(run), 2) << run.output;
  EXPECT_NE(run.output.find("faults[0]"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace integration
