#include "store_test_support.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace integration {

using namespace std::chrono_literals;

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

size_t line_count(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

void StoreClusterTest::SetUp() {
  for (const std::string& program : programs_) {
    if (find_program(program).empty()) {
      GTEST_SKIP() << program << " is not installed (scripts/install-deps.sh installs it)";
    }
  }
}

void StoreClusterTest::start_store(size_t ports, const std::vector<std::string>& extra,
                                   const std::string& leader_line) {
  base_port_ = BombarderEnv::free_port_range(ports);
  std::vector<std::string> args = {"cluster", "start",  "--system",
                                   system_,   "--port", std::to_string(base_port_),
                                   "--nodes", "3"};
  args.insert(args.end(), extra.begin(), extra.end());
  started_ = env_.run(args, 90s);
  ASSERT_EQ(exit_code(started_), 0) << started_.output;
  ASSERT_NE(started_.output.find(leader_line), std::string::npos) << started_.output;
}

void StoreClusterTest::expect_chaos_storm_linearizable_and_verified(const std::string& duration) {
  std::ifstream in(env_.root() / "cluster.json");
  const Json record = Json::parse(in, nullptr, false);
  ASSERT_TRUE(record.is_object());
  EXPECT_EQ(record["system"], system_);
  ASSERT_EQ(record["nodes"].size(), 3u);
  const RunResult status = env_.run({"cluster", "status", "--json"});
  EXPECT_EQ(exit_code(status), 0) << status.output;

  // Kills every 3 s (SIGKILL or SIGTERM at random, any node, the leader among them), each back
  // after 1 s; reads, updates, deletes and key lookups.
  const RunResult storm =
      env_.run({"storm", "--system",   system_, "--duration", duration,  "--concurrency",
                "8",     "--list-pct", "10",    "--check",    "--chaos", "--kill-interval",
                "3s",    "--downtime", "1s",    "--seed",     "18",      "--min-success",
                "50",    "--json"},
               150s);
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["system"], system_);
  EXPECT_EQ(summary["check"]["verdict"], "linearizable") << storm.output;
  EXPECT_GT(summary["check"]["ops_checked"].get<uint64_t>(), 100u) << storm.output;
  EXPECT_GE(summary["chaos"].size(), 2u) << "kills happened: " << storm.output;

  // Every node holds the same keyspace and every write the storm had acknowledged.
  const RunResult verify = env_.run({"verify", "--json"}, 90s);
  EXPECT_EQ(exit_code(verify), 0) << verify.output;
  EXPECT_EQ(json_of(verify)["hashes_match"], true) << verify.output;

  const RunResult stop = env_.run({"cluster", "stop"});
  EXPECT_EQ(exit_code(stop), 0) << stop.output;
  EXPECT_FALSE(std::filesystem::exists(env_.root() / "cluster.json"));
}

std::string StoreClusterTest::first_acked_id() const {
  std::ifstream last(env_.root() / "runs" / "last");  // names the last run
  std::string run_id;
  std::getline(last, run_id);
  std::ifstream acked(env_.root() / "runs" / run_id / "acked.jsonl");
  std::string line;
  std::getline(acked, line);
  const Json entry = Json::parse(line, nullptr, false);
  return entry.is_object() ? entry.value("id", "") : "";
}

void StoreClusterTest::expect_verify_finds_a_removed_write(
    const std::function<void(const std::string& key)>& remove) {
  const RunResult flood = env_.run({"flood", "--system", system_, "--count", "50", "--json"});
  ASSERT_EQ(exit_code(flood), 0) << flood.output;
  const RunResult clean = env_.run({"verify"}, 60s);
  ASSERT_EQ(exit_code(clean), 0) << clean.output;
  const std::string key = first_acked_id();
  ASSERT_FALSE(key.empty()) << "no acknowledged write recorded";
  remove(key);
  if (::testing::Test::HasFatalFailure()) return;  // `remove` could not delete it
  const RunResult verify = env_.run({"verify"}, 60s);
  EXPECT_EQ(exit_code(verify), 1) << verify.output;
  EXPECT_NE(verify.output.find("missing 1"), std::string::npos) << verify.output;
  EXPECT_NE(verify.output.find(key), std::string::npos) << verify.output;
}

void StoreClusterTest::expect_one_line_exit3(const std::vector<std::string>& args,
                                             const std::string& message) {
  const RunResult run = env_.run(args);
  EXPECT_EQ(exit_code(run), 3) << run.output;
  EXPECT_EQ(line_count(run.output), 1u) << run.output;
  EXPECT_NE(run.output.find(message), std::string::npos) << run.output;
}

}  // namespace integration
