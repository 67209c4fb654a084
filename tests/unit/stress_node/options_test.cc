#include "options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace stress_node {
namespace {

// A fixed environment, so the tests do not depend on the caller's.
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// These tests are about other flags: peer authentication is off unless a test names a secret
// (a node refuses to start with neither; see the SecurityFlags tests).
ParseOutcome parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  if (std::find(args.begin(), args.end(), "--cluster-secret-file") == args.end()) {
    args.push_back("--insecure-peers");
  }
  return parse_options(args, env_of(std::move(env)));
}

common::Endpoint local(uint16_t port) { return {"127.0.0.1", port}; }

TEST(OptionsTest, ReferenceCommandLineDerivesIdsFromSortedPorts) {
  const auto outcome = parse({"--node-id", "1", "--port", "8081", "--peers", "8080,8082"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  const Options& o = *outcome.options;
  EXPECT_EQ(o.node_id, 1u);
  EXPECT_EQ(o.self, local(8081));
  const std::map<raft::NodeId, common::Endpoint> expected = {
      {0, local(8080)}, {1, local(8081)}, {2, local(8082)}};
  EXPECT_EQ(o.members, expected);
  EXPECT_EQ(o.voters(), (std::vector<raft::NodeId>{0, 1, 2}));
  EXPECT_EQ(o.peers().size(), 2u);
  EXPECT_FALSE(o.peers().contains(1));
}

TEST(OptionsTest, DefaultsMatchTheDesign) {
  const auto outcome = parse({"--node-id", "0", "--port", "8080", "--peers", "8081,8082"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  const Options& o = *outcome.options;
  EXPECT_EQ(o.self.host, "127.0.0.1");
  EXPECT_EQ(o.data_dir, std::filesystem::path("data/node-0"));
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.tick_ms, 25);
  EXPECT_EQ(o.election_ticks, 6);
  EXPECT_EQ(o.heartbeat_ticks, 2);
  EXPECT_EQ(o.snapshot_threshold_entries, 100000u);
  EXPECT_EQ(o.snapshot_state_ratio, 1.0);
  EXPECT_EQ(o.body_limit_bytes, 1u << 20);
  EXPECT_EQ(o.commit_timeout, std::chrono::milliseconds(5000));
}

TEST(OptionsTest, NodeIdMayBeOmittedWhenDerived) {
  const auto outcome = parse({"--port", "8082", "--peers", "8080,8081"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  EXPECT_EQ(outcome.options->node_id, 2u);
}

TEST(OptionsTest, NodeIdThatDisagreesWithThePositionIsRefused) {
  const auto outcome = parse({"--node-id", "0", "--port", "8081", "--peers", "8080,8082"});
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("position 1"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("ID@HOST:PORT"), std::string::npos) << outcome.output;
  EXPECT_EQ(outcome.output.find('\n'), std::string::npos) << "one line";
}

TEST(OptionsTest, HostPortPeersSortByHostThenPort) {
  const auto outcome =
      parse({"--host", "10.0.0.2", "--port", "9000", "--peers", "10.0.0.1:9000,10.0.0.3:8000"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  const auto& m = outcome.options->members;
  EXPECT_EQ(m.at(0), (common::Endpoint{"10.0.0.1", 9000}));
  EXPECT_EQ(m.at(1), (common::Endpoint{"10.0.0.2", 9000}));
  EXPECT_EQ(m.at(2), (common::Endpoint{"10.0.0.3", 8000}));
  EXPECT_EQ(outcome.options->node_id, 1u);
}

TEST(OptionsTest, ExplicitIdsInEveryPeerForm) {
  const auto outcome =
      parse({"--node-id", "7", "--port", "8080", "--peers", "3@8081", "--peers", "5@host-b:9000"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  const std::map<raft::NodeId, common::Endpoint> expected = {
      {3, local(8081)}, {5, {"host-b", 9000}}, {7, local(8080)}};
  EXPECT_EQ(outcome.options->members, expected);
  EXPECT_EQ(outcome.options->data_dir, std::filesystem::path("data/node-7"));
}

TEST(OptionsTest, ExplicitIdsRequireNodeId) {
  const auto outcome = parse({"--port", "8080", "--peers", "1@8081,2@8082"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("--node-id is required"), std::string::npos) << outcome.output;
}

TEST(OptionsTest, MixingPeersWithAndWithoutIdsIsRefused) {
  const auto outcome = parse({"--node-id", "0", "--port", "8080", "--peers", "1@8081,8082"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("every peer or for none"), std::string::npos) << outcome.output;
}

TEST(OptionsTest, DuplicateIdsAndEndpointsAreRefused) {
  EXPECT_EQ(parse({"--node-id", "0", "--port", "8080", "--peers", "0@8081"}).exit_code, 2);
  EXPECT_EQ(parse({"--node-id", "0", "--port", "8080", "--peers", "1@8081,1@8082"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "8080", "--peers", "8081,8081"}).exit_code, 2);
  const auto self = parse({"--port", "8080", "--peers", "8080"});
  EXPECT_EQ(self.exit_code, 2);
  EXPECT_NE(self.output.find("this node itself"), std::string::npos) << self.output;
}

TEST(OptionsTest, BadPeersAreOneLineErrors) {
  for (const char* peer : {"abc", "0", "70000", "host:", "@8081", "x@8081", "1@", "a b:80"}) {
    const auto outcome = parse({"--port", "8080", "--peers", peer});
    EXPECT_FALSE(outcome.options) << peer;
    EXPECT_EQ(outcome.exit_code, 2) << peer;
    EXPECT_EQ(outcome.output.find('\n'), std::string::npos) << outcome.output;
  }
}

TEST(OptionsTest, ParsePeerAcceptsEveryForm) {
  std::string error;
  auto a = parse_peer("8081", &error);
  ASSERT_TRUE(a) << error;
  EXPECT_FALSE(a->id);
  EXPECT_EQ(a->endpoint, local(8081));
  auto b = parse_peer("example.org:80", &error);
  ASSERT_TRUE(b) << error;
  EXPECT_EQ(b->endpoint, (common::Endpoint{"example.org", 80}));
  auto c = parse_peer("4@8084", &error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->id, 4u);
  EXPECT_EQ(c->endpoint, local(8084));
  auto d = parse_peer("12@10.1.2.3:7000", &error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->id, 12u);
  EXPECT_EQ(d->endpoint, (common::Endpoint{"10.1.2.3", 7000}));
}

TEST(OptionsTest, NoPeersIsASingleNodeCluster) {
  const auto outcome = parse({"--node-id", "0", "--port", "18080"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  EXPECT_EQ(outcome.options->members.size(), 1u);
  EXPECT_TRUE(outcome.options->peers().empty());
}

TEST(OptionsTest, DataDirComesFromStressTestDataUnlessGiven) {
  const auto from_env = parse({"--node-id", "2", "--port", "8082", "--peers", "8080,8081"},
                              {{"STRESS_TEST_DATA", "/tmp/x"}});
  ASSERT_TRUE(from_env.options) << from_env.output;
  EXPECT_EQ(from_env.options->data_dir, std::filesystem::path("/tmp/x/node-2"));
  const auto given = parse({"--port", "8080", "--data-dir", "/srv/n"}, {{"STRESS_TEST_DATA", "y"}});
  ASSERT_TRUE(given.options) << given.output;
  EXPECT_EQ(given.options->data_dir, std::filesystem::path("/srv/n"));
}

TEST(OptionsTest, LogLevelFlagWinsOverSpdlogLevel) {
  EXPECT_EQ(parse({"--port", "8080"}, {{"SPDLOG_LEVEL", "debug"}}).options->log_level, "debug");
  EXPECT_EQ(parse({"--port", "8080", "--log-level", "warn"}, {{"SPDLOG_LEVEL", "debug"}})
                .options->log_level,
            "warn");
  EXPECT_EQ(parse({"--port", "8080", "--log-level", "loud"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "8080"}, {{"SPDLOG_LEVEL", "loud"}}).exit_code, 2);
}

TEST(OptionsTest, TunablesAreParsedAndRangeChecked) {
  const auto outcome =
      parse({"--port", "8080", "--tick-ms", "10", "--election-ticks", "20", "--snapshot-threshold",
             "500", "--body-limit", "2MiB", "--commit-timeout-ms", "1500"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  EXPECT_EQ(outcome.options->tick_ms, 10);
  EXPECT_EQ(outcome.options->election_ticks, 20);
  EXPECT_EQ(outcome.options->snapshot_threshold_entries, 500u);
  EXPECT_EQ(outcome.options->body_limit_bytes, 2u << 20);
  EXPECT_EQ(outcome.options->commit_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(parse({"--port", "8080", "--body-limit", "65536"}).options->body_limit_bytes, 65536u);
  EXPECT_EQ(parse({"--port", "8080", "--snapshot-state-ratio", "0"}).options->snapshot_state_ratio,
            0.0);
  EXPECT_EQ(parse({"--port", "8080", "--snapshot-state-ratio", "-1"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "0"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "8080", "--tick-ms", "0"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "8080", "--election-ticks", "1"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "8080", "--body-limit", "1"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "8080", "--commit-timeout-ms", "abc"}).exit_code, 2);
}

TEST(OptionsTest, HeartbeatTicksAreAtMostHalfTheElectionTimeout) {
  EXPECT_EQ(parse({"--port", "8080"}).options->heartbeat_ticks, 2);
  // Not given with a short election timeout: capped at half of it, not refused.
  EXPECT_EQ(parse({"--port", "8080", "--election-ticks", "3"}).options->heartbeat_ticks, 1);
  const auto outcome = parse(
      {"--port", "8080", "--tick-ms", "25", "--election-ticks", "6", "--heartbeat-ticks", "2"});
  ASSERT_TRUE(outcome.options) << outcome.output;
  EXPECT_EQ(outcome.options->heartbeat_ticks, 2);
  const auto too_slow =
      parse({"--port", "8080", "--election-ticks", "6", "--heartbeat-ticks", "4"});
  EXPECT_EQ(too_slow.exit_code, 2);
  EXPECT_NE(too_slow.output.find("more than half of --election-ticks 6"), std::string::npos)
      << too_slow.output;
  EXPECT_EQ(parse({"--port", "8080", "--heartbeat-ticks", "0"}).exit_code, 2);
}

TEST(OptionsTest, WatchdogAndDebugEndpointsAreOffByDefault) {
  const auto defaults = parse({"--port", "8080"});
  ASSERT_TRUE(defaults.options) << defaults.output;
  EXPECT_EQ(defaults.options->watchdog_limit.count(), 0);
  EXPECT_FALSE(defaults.options->debug_endpoints);

  const auto on = parse({"--port", "8080", "--watchdog-ms", "1500", "--debug-endpoints"});
  ASSERT_TRUE(on.options) << on.output;
  EXPECT_EQ(on.options->watchdog_limit, std::chrono::milliseconds(1500));
  EXPECT_TRUE(on.options->debug_endpoints);

  // Below the minimum a healthy loop would be aborted for an ordinary fsync.
  const auto too_small = parse({"--port", "8080", "--watchdog-ms", "20"});
  EXPECT_EQ(too_small.exit_code, 2);
  EXPECT_NE(too_small.output.find("--watchdog-ms"), std::string::npos) << too_small.output;
  EXPECT_EQ(parse({"--port", "8080", "--watchdog-ms", "-1"}).exit_code, 2);
}

TEST(OptionsTest, IdempotencyTtlIsADurationAndTheTableBoundASize) {
  const auto defaults = parse({"--port", "8080"});
  ASSERT_TRUE(defaults.options) << defaults.output;
  EXPECT_EQ(defaults.options->idempotency_ttl, std::chrono::minutes(10));
  EXPECT_EQ(defaults.options->idempotency_table_bytes, uint64_t{256} << 20);
  const std::pair<const char*, int64_t> ttls[] = {
      {"500ms", 500}, {"2s", 2000}, {"10m", 600'000}, {"90", 90'000}, {"1.5s", 1500}};
  for (const auto& [text, ms] : ttls) {
    const auto given = parse({"--port", "8080", "--idempotency-ttl", text});
    ASSERT_TRUE(given.options) << text << ": " << given.output;
    EXPECT_EQ(given.options->idempotency_ttl.count(), ms) << text;
  }
  const auto sized = parse({"--port", "8080", "--idempotency-table-bytes", "1GiB"});
  ASSERT_TRUE(sized.options) << sized.output;
  EXPECT_EQ(sized.options->idempotency_table_bytes, uint64_t{1} << 30);
  for (const char* bad : {"0", "0ms", "soon", "-1s", "8d", "3h", ""}) {
    const auto refused = parse({"--port", "8080", "--idempotency-ttl", bad});
    EXPECT_EQ(refused.exit_code, 2) << bad;
    EXPECT_NE(refused.output.find("--idempotency-ttl"), std::string::npos) << refused.output;
  }
  EXPECT_EQ(parse({"--port", "8080", "--idempotency-table-bytes", "1MiB"}).exit_code, 2);
}

TEST(OptionsTest, UnknownFlagIsAOneLineErrorWithExitCodeTwo) {
  const auto outcome = parse({"--port", "8080", "--frobnicate"});
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_TRUE(outcome.output.starts_with("stress_node: error: ")) << outcome.output;
  EXPECT_EQ(outcome.output.find('\n'), std::string::npos) << outcome.output;
}

TEST(OptionsTest, HelpDocumentsEveryFlag) {
  const auto outcome = parse({"--help"});
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 0);
  for (const char* flag : {"--node-id",
                           "--port",
                           "--peers",
                           "--host",
                           "--data-dir",
                           "--log-level",
                           "--tick-ms",
                           "--election-ticks",
                           "--snapshot-threshold",
                           "--body-limit",
                           "--commit-timeout-ms",
                           "--watchdog-ms",
                           "--debug-endpoints",
                           "--idempotency-ttl",
                           "--idempotency-table-bytes",
                           "--cluster-secret-file",
                           "--insecure-peers",
                           "--admin-token-file",
                           "openssl rand -hex 32",
                           "0600",
                           "--version",
                           "STRESS_TEST_DATA",
                           "SPDLOG_LEVEL"}) {
    EXPECT_NE(outcome.output.find(flag), std::string::npos) << flag;
  }
}

TEST(OptionsSecurityFlagsTest, NodeWithoutClusterSecretOrInsecurePeersIsRefused) {
  const auto outcome = parse_options({"--port", "8080"}, env_of({}));
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("--cluster-secret-file is required"), std::string::npos)
      << outcome.output;
  EXPECT_NE(outcome.output.find("openssl rand -hex 32"), std::string::npos) << outcome.output;
  EXPECT_EQ(outcome.output.find('\n'), std::string::npos) << outcome.output;
}

TEST(OptionsSecurityFlagsTest, SecretAndTokenPathsAreKeptForStartup) {
  const auto outcome =
      parse_options({"--port", "8080", "--cluster-secret-file", "/etc/raftkv/secret",
                     "--admin-token-file", "/etc/raftkv/token"},
                    env_of({}));
  ASSERT_TRUE(outcome.options) << outcome.output;
  EXPECT_EQ(outcome.options->cluster_secret_file, "/etc/raftkv/secret");
  EXPECT_EQ(outcome.options->admin_token_file, "/etc/raftkv/token");
  EXPECT_FALSE(outcome.options->insecure_peers);
}

TEST(OptionsSecurityFlagsTest, InsecurePeersRunsWithoutSecretButNotAlongsideOne) {
  const auto insecure = parse_options({"--port", "8080", "--insecure-peers"}, env_of({}));
  ASSERT_TRUE(insecure.options) << insecure.output;
  EXPECT_TRUE(insecure.options->insecure_peers);
  EXPECT_TRUE(insecure.options->cluster_secret_file.empty());
  const auto both = parse_options(
      {"--port", "8080", "--insecure-peers", "--cluster-secret-file", "/s"}, env_of({}));
  EXPECT_EQ(both.exit_code, 2);
}

TEST(OptionsTest, VersionPrintsTheVersion) {
  const auto outcome = parse({"--version"});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_NE(outcome.output.find(kStressNodeVersion), std::string::npos) << outcome.output;
}

// The TLS flags' usage errors (common/tls.h holds the TLS code itself, tested in
// tests/unit/common/tls_test.cc).
TEST(TlsOptions, CaWithoutCertificateIsAUsageError) {
  const ParseOutcome outcome =
      parse_options({"--port", "8080", "--tls-ca", "ca.crt"},
                    [](const std::string&) { return std::optional<std::string>(); });
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("--tls-ca"), std::string::npos) << outcome.output;
}

TEST(TlsOptions, CertificateWithoutKeyIsAUsageError) {
  const ParseOutcome outcome =
      parse_options({"--port", "8080", "--tls-cert", "node.crt"},
                    [](const std::string&) { return std::optional<std::string>(); });
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 2);
}

// Issue 15: the stream is the default peer transport, TLS or not; http when asked.
TEST(PeerTransportOptions, StreamByDefaultHttpWhenAsked) {
  const std::vector<std::string> base = {"--node-id", "0", "--port", "8080", "--peers", "8081"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return parse(args);
  };
  const auto plain = with({});
  ASSERT_TRUE(plain.options) << plain.output;
  EXPECT_TRUE(plain.options->peer_stream);
  const auto tls = with({"--tls-cert", "n.crt", "--tls-key", "n.key"});
  ASSERT_TRUE(tls.options) << tls.output;
  EXPECT_TRUE(tls.options->peer_stream);
  const auto http = with({"--peer-transport", "http"});
  ASSERT_TRUE(http.options) << http.output;
  EXPECT_FALSE(http.options->peer_stream);
}

TEST(PeerTransportOptions, AnUnknownTransportIsAUsageError) {
  const ParseOutcome outcome =
      parse({"--node-id", "0", "--port", "8080", "--peers", "8081", "--peer-transport", "pigeon"});
  EXPECT_FALSE(outcome.options);
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("--peer-transport"), std::string::npos) << outcome.output;
}

}  // namespace
}  // namespace stress_node
