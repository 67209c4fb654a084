// cluster start|stop|status|sync-status|resync as the built bombarder runs them (issue 4
// "Cluster control"): real stress_node processes on loopback, each test under its own
// $STRESS_TEST_DATA; the leader is discovered, never assumed to be node 0.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// A usage or environment error: exactly one line, "bombarder: error: ...".
void expect_one_line_error(const RunResult& run, int code, const std::string& needle) {
  EXPECT_EQ(exit_code(run), code) << run.output;
  const std::vector<std::string> lines = lines_of(run.output);
  ASSERT_EQ(lines.size(), 1u) << run.output;
  EXPECT_EQ(lines[0].rfind("bombarder: error: ", 0), 0u) << run.output;
  EXPECT_NE(lines[0].find(needle), std::string::npos) << "want '" << needle << "' in\n"
                                                      << run.output;
}

// Gone: no such process, or a zombie its new parent has not reaped yet (it runs no more).
bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

class ClusterCommandTest : public ::testing::Test {
 protected:
  // `cluster start` on a free port range with fast timings; returns its --json answer.
  Json start_cluster(size_t nodes = 3) {
    base_port_ = BombarderEnv::free_port_range(nodes);
    const RunResult start = env_.run(
        {"cluster", "start", "--port", std::to_string(base_port_), "--nodes", std::to_string(nodes),
         "--tick-ms", "20", "--election-ticks", "10", "--heartbeat-ticks", "1", "--json"});
    EXPECT_EQ(exit_code(start), 0) << start.output;
    const Json answer = json_of(start);
    EXPECT_TRUE(answer.is_object()) << start.output;
    return answer;
  }
  Json record() const {
    std::ifstream in(env_.root() / "cluster.json");
    return Json::parse(in, nullptr, false);
  }
  std::vector<pid_t> recorded_pids() const {
    std::vector<pid_t> pids;
    const Json r = record();
    if (r.is_object()) {
      for (const Json& node : r["nodes"]) pids.push_back(node.value("pid", 0));
    }
    return pids;
  }
  pid_t recorded_pid(const std::string& address) const {
    const Json r = record();
    for (const Json& node : r["nodes"]) {
      if (node["host"].get<std::string>() + ":" + std::to_string(node["port"].get<int>()) ==
          address) {
        return node["pid"];
      }
    }
    ADD_FAILURE() << address << " not recorded";
    return 0;
  }
  std::string address(size_t i) const { return "127.0.0.1:" + std::to_string(base_port_ + i); }
  void kill_and_wait(pid_t pid) {
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([pid] { return process_gone(pid); }, 5s)) << pid;
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
};

TEST_F(ClusterCommandTest, StartStatusSyncStatusResyncStopRoundTrip) {
  const Json started = start_cluster();
  ASSERT_EQ(started["nodes"].size(), 3u) << started.dump();
  std::set<std::string> addresses;
  for (const Json& node : started["nodes"]) {
    addresses.insert(node["address"].get<std::string>());
    EXPECT_EQ(node["data_dir"], (env_.root() / ("node-" + node["id"].dump())).string());
    EXPECT_TRUE(fs::exists(node["console_log"].get<std::string>()));
  }
  EXPECT_EQ(addresses, (std::set<std::string>{address(0), address(1), address(2)}));
  const std::string leader = started["leader"]["address"];
  EXPECT_TRUE(addresses.contains(leader)) << leader;

  // The record holds what was started, and every recorded PID runs.
  const std::vector<pid_t> pids = recorded_pids();
  ASSERT_EQ(pids.size(), 3u);
  for (size_t i = 0; i < pids.size(); ++i) {
    EXPECT_EQ(pids[i], started["nodes"][i]["pid"].get<pid_t>());
    EXPECT_FALSE(process_gone(pids[i])) << pids[i];
  }

  const RunResult status = env_.run({"cluster", "status", "--json"});
  ASSERT_EQ(exit_code(status), 0) << status.output;
  const Json report = json_of(status);
  ASSERT_EQ(report["nodes"].size(), 3u) << status.output;
  EXPECT_EQ(report["reachable"], 3);
  EXPECT_EQ(report["leader"]["address"], leader);
  EXPECT_TRUE(report["healthy"].get<bool>());
  for (const Json& node : report["nodes"]) EXPECT_TRUE(node["reachable"].get<bool>());

  // Some writes, so that the resync has state to carry.
  const uint16_t leader_port =
      static_cast<uint16_t>(std::stoi(leader.substr(leader.find(':') + 1)));
  for (int i = 0; i < 20; ++i) {
    const HttpResult created = http_request(
        leader_port, "POST", "/api/kv", R"({"key":"k)" + std::to_string(i) + R"(","value":"v"})");
    ASSERT_EQ(created.status, 201) << created.describe();
  }

  // Both followers healthy (a follower may trail the last writes by a heartbeat: poll).
  RunResult sync;
  ASSERT_TRUE(wait_until(
      [&] {
        sync = env_.run({"cluster", "sync-status"});
        return exit_code(sync) == 0;
      },
      10s, 100ms))
      << sync.output;
  size_t healthy_lines = 0;
  for (const std::string& line : lines_of(sync.output)) {
    if (line.find("(healthy)") != std::string::npos &&
        line.find("- Last replicated: ") != std::string::npos) {
      ++healthy_lines;
    }
  }
  EXPECT_EQ(healthy_lines, 2u) << sync.output;
  EXPECT_NE(sync.output.find("all 2 followers healthy"), std::string::npos) << sync.output;

  const std::string follower = *std::find_if(addresses.begin(), addresses.end(),
                                             [&](const std::string& a) { return a != leader; });
  const RunResult resync =
      env_.run({"cluster", "resync", "--target", follower, "--timeout", "15", "--json"});
  ASSERT_EQ(exit_code(resync), 0) << resync.output;
  const Json resynced = json_of(resync);
  EXPECT_TRUE(resynced["healthy"].get<bool>()) << resync.output;
  EXPECT_EQ(resynced["target"], follower);
  EXPECT_EQ(resynced["answer"]["target"], follower);
  EXPECT_GE(resynced["leader_stats"]["forced_resyncs"].get<uint64_t>(), 1u) << resync.output;
  EXPECT_GE(resynced["leader_stats"]["snapshots_sent"].get<uint64_t>(), 1u) << resync.output;
  EXPECT_GE(resynced["follower"]["match_index"].get<uint64_t>(),
            resynced["snapshot_index"].get<uint64_t>());

  const RunResult stop = env_.run({"cluster", "stop"});
  ASSERT_EQ(exit_code(stop), 0) << stop.output;
  for (pid_t pid : pids) EXPECT_TRUE(process_gone(pid)) << pid;
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
  EXPECT_NE(stop.output.find("stopped (SIGTERM)"), std::string::npos) << stop.output;
}

// Issue 14: every cluster gets its own secret and admin token, private, passed to every node and
// recorded; admin commands authenticate with it and fail clearly with another one.
TEST_F(ClusterCommandTest, StartGeneratesAPrivateSecretAndTokenThatResyncUses) {
  const Json started = start_cluster();
  EXPECT_EQ(started.value("peer_auth", ""), "hmac-sha256") << started.dump();
  const fs::path secret = env_.root() / "cluster-secret";
  const fs::path token = env_.root() / "admin-token";
  EXPECT_EQ(started.value("cluster_secret_file", ""), secret.string());
  EXPECT_EQ(started.value("admin_token_file", ""), token.string());
  for (const fs::path& file : {secret, token}) {
    std::error_code ec;
    EXPECT_EQ(fs::status(file, ec).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << file;
  }
  const Json r = record();
  EXPECT_EQ(r["security"]["cluster_secret_file"], secret.string()) << r.dump();
  EXPECT_EQ(r["security"]["admin_token_file"], token.string()) << r.dump();
  for (const Json& node : r["nodes"]) {
    const auto args = node["args"].get<std::vector<std::string>>();
    const auto flag = std::find(args.begin(), args.end(), "--cluster-secret-file");
    ASSERT_NE(flag, args.end()) << node.dump();
    EXPECT_EQ(*(flag + 1), secret.string());
  }
  for (size_t i = 0; i < 3; ++i) {
    const HttpResult status = http_request(base_port_ + i, "GET", "/status");
    EXPECT_EQ(status.json().value("peer_auth", ""), "hmac-sha256") << status.describe();
    // Admin routes refuse a request without the token.
    const HttpResult admin =
        http_request(base_port_ + i, "POST", "/_raft/force-resync?target=" + address((i + 1) % 3));
    EXPECT_EQ(admin.status, 401) << admin.describe();
  }
  const std::string target = address((started["leader"]["id"].get<size_t>() + 1) % 3);
  const RunResult resync =
      env_.run({"cluster", "resync", "--target", target, "--timeout", "15", "--json"});
  EXPECT_EQ(exit_code(resync), 0) << resync.output;

  // Another token (say, another cluster's): the node answers 401 and resync says why, exit 3.
  fs::remove(token);
  { std::ofstream(token) << std::string(64, 'f') << "\n"; }
  expect_one_line_error(env_.run({"cluster", "resync", "--target", target}), 3, "admin token");
}

TEST_F(ClusterCommandTest, InsecurePeersStartsWithoutSecrets) {
  base_port_ = BombarderEnv::free_port_range(1);
  const RunResult start = env_.run({"cluster", "start", "--port", std::to_string(base_port_),
                                    "--nodes", "1", "--insecure-peers", "--json"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  EXPECT_EQ(json_of(start).value("peer_auth", ""), "insecure");
  EXPECT_FALSE(fs::exists(env_.root() / "cluster-secret"));
  const HttpResult status = http_request(base_port_, "GET", "/status");
  EXPECT_EQ(status.json().value("peer_auth", ""), "insecure") << status.describe();
  EXPECT_EQ(status.json().value("admin_api", ""), "disabled") << status.describe();
}

TEST_F(ClusterCommandTest, HumanStartPrintsTheMembersAndTheLeader) {
  base_port_ = BombarderEnv::free_port_range(3);
  const RunResult start =
      env_.run({"cluster", "start", "--port", std::to_string(base_port_), "--tick-ms", "20",
                "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  const std::vector<std::string> lines = lines_of(start.output);
  // Summary, header, 3 members, leader, peer authentication.
  ASSERT_EQ(lines.size(), 7u) << start.output;
  EXPECT_NE(lines[1].find("address"), std::string::npos) << start.output;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NE(lines[2 + i].find("http://" + address(i)), std::string::npos) << start.output;
    EXPECT_NE(lines[2 + i].find(std::to_string(recorded_pids().at(i))), std::string::npos);
  }
  EXPECT_EQ(lines[5].rfind("leader: node ", 0), 0u) << start.output;
  EXPECT_EQ(lines[6].rfind("peers: HMAC-SHA256, secret ", 0), 0u) << start.output;
}

TEST_F(ClusterCommandTest, StartRefusesWhileARecordedClusterRuns) {
  start_cluster();
  const std::vector<pid_t> before = recorded_pids();
  const uint16_t other = BombarderEnv::free_port_range(3);
  const RunResult again = env_.run({"cluster", "start", "--port", std::to_string(other)});
  expect_one_line_error(again, 3, "a cluster is already running");
  EXPECT_NE(again.output.find("bombarder cluster stop"), std::string::npos) << again.output;
  // The running cluster and its record are untouched.
  EXPECT_EQ(recorded_pids(), before);
  for (pid_t pid : before) EXPECT_FALSE(process_gone(pid));
}

TEST_F(ClusterCommandTest, StartRefusesATakenPortAndNamesIt) {
  base_port_ = BombarderEnv::free_port_range(3);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(base_port_ + 1));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  const RunResult start =
      env_.run({"cluster", "start", "--port", std::to_string(base_port_), "--tick-ms", "20",
                "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ::close(fd);
  expect_one_line_error(start, 3,
                        "port " + std::to_string(base_port_ + 1) + " on 127.0.0.1 is in use");
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
}

TEST_F(ClusterCommandTest, StartReportsANodeThatEndsDuringStartupAndStopsTheOthers) {
  // A stand-in node binary that fails the way a node with a broken data directory does.
  const fs::path fake = env_.root() / "bin" / "stress_node";
  fs::create_directories(fake.parent_path());
  std::ofstream(fake) << "#!/bin/sh\necho 'cannot open the data directory: broken'\nexit 1\n";
  fs::permissions(fake, fs::perms::owner_all);
  base_port_ = BombarderEnv::free_port_range(3);
  const RunResult start = env_.run(
      {"cluster", "start", "--port", std::to_string(base_port_), "--node-bin", fake.string()});
  EXPECT_EQ(exit_code(start), 3) << start.output;
  const std::vector<std::string> lines = lines_of(start.output);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("bombarder: error: node ", 0), 0u) << start.output;
  EXPECT_NE(lines.back().find("ended during startup (exit code 1)"), std::string::npos)
      << start.output;
  // The node's own words, from its console.log.
  EXPECT_NE(start.output.find("cannot open the data directory: broken"), std::string::npos)
      << start.output;
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
}

TEST_F(ClusterCommandTest, StopWithoutAClusterIsAOneLineError) {
  expect_one_line_error(env_.run({"cluster", "stop"}), 3, "no cluster recorded in");
}

TEST_F(ClusterCommandTest, StopAfterANodeWasKilledByHandStopsTheRestAndRemovesTheRecord) {
  start_cluster();
  const std::vector<pid_t> pids = recorded_pids();
  ASSERT_EQ(pids.size(), 3u);
  kill_and_wait(pids[1]);
  const RunResult stop = env_.run({"cluster", "stop", "--json"});
  ASSERT_EQ(exit_code(stop), 0) << stop.output;
  const Json outcome = json_of(stop);
  ASSERT_EQ(outcome["nodes"].size(), 3u) << stop.output;
  EXPECT_EQ(outcome["nodes"][1]["outcome"], "not running");
  EXPECT_EQ(outcome["nodes"][0]["outcome"], "stopped (SIGTERM)");
  EXPECT_EQ(outcome["nodes"][2]["outcome"], "stopped (SIGTERM)");
  EXPECT_FALSE(outcome["stale"].get<bool>());
  EXPECT_TRUE(outcome["record_removed"].get<bool>());
  for (pid_t pid : pids) EXPECT_TRUE(process_gone(pid)) << pid;
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
}

TEST_F(ClusterCommandTest, StaleRecordIsCleanedByStopAndReplacedByStart) {
  start_cluster();
  for (pid_t pid : recorded_pids()) kill_and_wait(pid);
  ASSERT_TRUE(BombarderEnv::wait_port_range_free(base_port_, 3, 10s));
  // start on a stale record: replaced, with a note.
  const RunResult restart =
      env_.run({"cluster", "start", "--port", std::to_string(base_port_), "--tick-ms", "20",
                "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(restart), 0) << restart.output;
  EXPECT_NE(restart.output.find("replacing the stale record"), std::string::npos) << restart.output;
  // The nodes came back on their old data.
  EXPECT_NE(restart.output.find("starts on the existing data"), std::string::npos)
      << restart.output;

  for (pid_t pid : recorded_pids()) kill_and_wait(pid);
  const RunResult stop = env_.run({"cluster", "stop"});
  ASSERT_EQ(exit_code(stop), 0) << stop.output;
  EXPECT_NE(stop.output.find("the record was stale"), std::string::npos) << stop.output;
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
  expect_one_line_error(env_.run({"cluster", "stop"}), 3, "no cluster recorded");
}

TEST_F(ClusterCommandTest, StatusAndSyncStatusFindTheNewLeaderAfterTheLeaderIsKilled) {
  const Json started = start_cluster();
  const std::string old_leader = started["leader"]["address"];
  kill_and_wait(recorded_pid(old_leader));

  // Poll until the survivors elect a new leader; status then names it and reports the dead node.
  Json report;
  RunResult status;
  ASSERT_TRUE(wait_until(
      [&] {
        status = env_.run({"cluster", "status", "--json"});
        report = json_of(status);
        return report.is_object() && report["leader"].is_object() &&
               report["leader"]["address"] != old_leader && report["leader"]["id"].is_number();
      },
      15s, 100ms))
      << status.output;
  const std::string new_leader = report["leader"]["address"];
  EXPECT_EQ(exit_code(status), 1) << status.output;  // a node is down: not healthy
  EXPECT_EQ(report["unreachable"], 1);
  EXPECT_FALSE(report["healthy"].get<bool>());
  for (const Json& node : report["nodes"]) {
    EXPECT_EQ(node["reachable"].get<bool>(), node["address"] != old_leader) << node.dump();
  }

  // sync-status discovers the same leader, also when pointed at the dead node (it then asks the
  // recorded members), and calls the dead node, now a follower, not healthy.
  RunResult sync = env_.run({"cluster", "sync-status", "--json"});
  EXPECT_EQ(exit_code(sync), 1) << sync.output;
  Json sync_report = json_of(sync);
  EXPECT_EQ(sync_report["leader"], new_leader) << sync.output;
  EXPECT_FALSE(sync_report["all_healthy"].get<bool>());
  const RunResult human = env_.run({"cluster", "sync-status", "--leader", old_leader});
  EXPECT_EQ(exit_code(human), 1) << human.output;
  EXPECT_NE(human.output.find("leader http://" + new_leader), std::string::npos) << human.output;
  EXPECT_NE(human.output.find("NOT healthy: " + old_leader), std::string::npos) << human.output;
}

TEST_F(ClusterCommandTest, ResyncRefusesATargetTheLeaderDoesNotAccept) {
  const Json started = start_cluster();
  const std::string leader = started["leader"]["address"];
  const uint16_t stranger = BombarderEnv::free_port_range(1);
  expect_one_line_error(
      env_.run({"cluster", "resync", "--target", "127.0.0.1:" + std::to_string(stranger)}), 2,
      "is not a member of this cluster");
  expect_one_line_error(env_.run({"cluster", "resync", "--target", leader}), 2,
                        "the target is this node (the leader)");
}

TEST_F(ClusterCommandTest, UnreachableNodesGiveAOneLineErrorAndExit3) {
  const std::string nowhere = std::to_string(BombarderEnv::free_port_range(1));
  expect_one_line_error(env_.run({"cluster", "status", "--nodes", nowhere}), 3,
                        "no node answers /status");
  expect_one_line_error(env_.run({"cluster", "sync-status", "--leader", nowhere}), 3,
                        "no node answers /status");
  expect_one_line_error(
      env_.run({"cluster", "resync", "--leader", nowhere, "--target", "127.0.0.1:1"}), 3,
      "no node answers /status");
}

TEST_F(ClusterCommandTest, BadInputIsAOneLineUsageError) {
  expect_one_line_error(env_.run({"cluster", "status", "--nodes", "http://x:notaport"}), 2,
                        "'http://x:notaport' is not a node address");
  expect_one_line_error(env_.run({"cluster", "sync-status", "--leader", "https://h:1"}), 2,
                        "https is not supported");
  expect_one_line_error(env_.run({"cluster", "resync", "--target", "h:99999"}), 2,
                        "'h:99999' is not a node address");
  expect_one_line_error(env_.run({"cluster", "resync"}), 2, "--target is required");
  expect_one_line_error(env_.run({"cluster", "start", "--nodes", "10"}), 2, "--nodes");
  expect_one_line_error(env_.run({"cluster", "start", "--nodes", "0"}), 2, "--nodes");
  expect_one_line_error(env_.run({"cluster", "start", "--log-level", "loud"}), 2, "--log-level");
  for (const char* command : {"start", "stop", "status", "sync-status"}) {
    expect_one_line_error(env_.run({"cluster", command, "--bogus"}), 2, "--bogus");
  }
  expect_one_line_error(env_.run({"cluster", "resync", "--target", "1", "--bogus"}), 2, "--bogus");
  expect_one_line_error(env_.run({"cluster"}), 2, "subcommand");
  EXPECT_FALSE(fs::exists(env_.root() / "cluster.json"));
}

TEST_F(ClusterCommandTest, HelpDocumentsEveryFlag) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"start",
       {"--port", "--nodes", "--node-bin", "--host", "--log-level", "--tick-ms", "--election-ticks",
        "--snapshot-threshold", "--commit-timeout-ms", "--timeout", "--fresh", "--json"}},
      {"stop", {"--grace", "--json"}},
      {"status", {"--nodes", "--json"}},
      {"sync-status", {"--leader", "--wait", "--json"}},
      {"resync", {"--target", "--leader", "--no-wait", "--timeout", "--json"}}};
  for (const auto& [command, flags] : expected) {
    const RunResult help = env_.run({"cluster", command, "--help"});
    EXPECT_EQ(exit_code(help), 0) << help.output;
    for (const std::string& flag : flags) {
      EXPECT_NE(help.output.find(flag), std::string::npos) << command << " " << flag;
    }
  }
}

}  // namespace
}  // namespace integration
