// A TLS cluster (issue 14 "TLS (opt-in, tested)" and "Proof"): `cluster start --tls` makes a
// throw-away CA and certificates, the nodes serve HTTPS with mutual TLS between them, and the
// main job passes over it: storm with chaos (kills and restarts) and the linearizability check,
// verify --deep, and curl with --cacert as docs/security.md shows it.
#include <gtest/gtest.h>

#include <fstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

namespace fs = std::filesystem;

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

RunResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, std::chrono::seconds(20));
}

TEST(TlsCluster, StormWithChaosAndCheckThenDeepVerifyPassOverTls) {
  BombarderEnv env;
  const uint16_t base = BombarderEnv::free_port_range(3);
  const RunResult start =
      env.run({"cluster", "start", "--tls", "--port", std::to_string(base), "--nodes", "3",
               "--tick-ms", "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
  ASSERT_EQ(exit_code(start), 0) << start.output;
  EXPECT_NE(start.output.find("https://127.0.0.1:" + std::to_string(base)), std::string::npos)
      << start.output;
  const fs::path ca = env.root() / "tls" / "ca.crt";
  ASSERT_TRUE(fs::exists(ca));
  EXPECT_EQ(fs::status(env.root() / "tls" / "node-0.key").permissions() & fs::perms::others_read,
            fs::perms::none);

  // Plain HTTP on a TLS port: an error at once, not a hang.
  const HttpResult plain =
      http_request(base, "GET", "/status", {}, {}, std::chrono::milliseconds(3000));
  EXPECT_FALSE(plain.ok()) << plain.body;

  // The main job: random operations while a node is killed and restarted every 2 s, every
  // answer checked for linearizability; then every replica compared entry by entry.
  const RunResult storm =
      env.run({"storm", "--chaos", "--check", "--kill-interval", "2", "--downtime", "0.5",
               "--duration", "12", "--concurrency", "16", "--json"},
              std::chrono::seconds(90));
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["failed"], 0) << storm.output;
  size_t kills = 0, restarts = 0;
  for (const Json& event : summary["chaos"]) {
    const std::string action = event["action"];
    kills += (action == "sigkill" || action == "sigterm") ? 1 : 0;
    restarts += action == "restart" ? 1 : 0;
  }
  EXPECT_GE(kills, 2u) << storm.output;
  EXPECT_EQ(restarts, kills) << storm.output;
  EXPECT_GT(summary["operations"]["create"]["succeeded"].get<uint64_t>(), 0u);

  const RunResult verify = env.run({"verify", "--deep", "--json"}, std::chrono::seconds(90));
  ASSERT_EQ(exit_code(verify), 0) << verify.output;
  const Json report = json_of(verify);
  ASSERT_TRUE(report.is_object()) << verify.output;
  EXPECT_TRUE(report["hashes_match"].get<bool>());
  EXPECT_EQ(report["deep"]["differences"], 0);
  EXPECT_GT(report["acked"]["acknowledged_ids"].get<uint64_t>(), 0u);
  for (const auto& [address, check] : report["acked"]["nodes"].items()) {
    EXPECT_TRUE(check["ok"].get<bool>()) << address << " " << check.dump();
  }

  // curl, as docs/security.md shows it: the API with the CA only; the peer RPCs refuse a client
  // without a certificate and accept bombarder's client certificate.
  const std::string url = "https://127.0.0.1:" + std::to_string(base);
  const RunResult status = curl({"--cacert", ca.string(), url + "/status"});
  ASSERT_EQ(exit_code(status), 0) << status.output;
  EXPECT_EQ(json_of(status)["node_id"], 0) << status.output;
  const RunResult refused =
      curl({"--cacert", ca.string(), "-X", "POST", "--data-binary", "x", url + "/_raft/append"});
  EXPECT_NE(refused.output.find("client_certificate_required"), std::string::npos)
      << refused.output;
  const RunResult member =
      curl({"--cacert", ca.string(), "--cert", (env.root() / "tls" / "client.crt").string(),
            "--key", (env.root() / "tls" / "client.key").string(), "-X", "POST", "--data-binary",
            "x", url + "/_raft/append"});
  EXPECT_EQ(member.output.find("client_certificate_required"), std::string::npos) << member.output;
  EXPECT_NE(member.output.find("\"error\""), std::string::npos)
      << "a garbage batch is still refused, by the decoder: " << member.output;
  // Without the CA curl refuses the throw-away certificate.
  EXPECT_NE(exit_code(curl({url + "/status"})), 0);

  const RunResult stop = env.run({"cluster", "stop"});
  EXPECT_EQ(exit_code(stop), 0) << stop.output;
}

TEST(TlsCluster, HttpsNodeUrlNeedsACaAndBadCaFileIsAUsageError) {
  BombarderEnv env;
  const RunResult no_ca = env.run({"cluster", "status", "--nodes", "https://127.0.0.1:1"}, 10s);
  EXPECT_EQ(exit_code(no_ca), 2) << no_ca.output;
  EXPECT_NE(no_ca.output.find("--cacert"), std::string::npos) << no_ca.output;
  const RunResult bad = env.run(
      {"cluster", "status", "--nodes", "https://127.0.0.1:1", "--cacert", "/nonexistent.crt"}, 10s);
  EXPECT_EQ(exit_code(bad), 2) << bad.output;
  EXPECT_NE(bad.output.find("/nonexistent.crt"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace integration
