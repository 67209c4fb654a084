// `bombarder cluster start --proxied` (issue 6): a fault proxy in front of every node's client
// port and on every directed peer link. Faults are injected through the proxy's Toxiproxy API
// only: a `timeout` toxic with attribute 0 (data held back, the connection left open: a silent
// network stall) on both streams of a link proxy cuts that link's RPCs.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "bombarder_harness.h"

namespace integration {
namespace {

constexpr size_t kNodes = 3;

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

uint16_t port_of(const std::string& url_or_address) {
  return static_cast<uint16_t>(std::stoi(url_or_address.substr(url_or_address.rfind(':') + 1)));
}

std::string link_name(size_t from, size_t to) {
  return "link-" + std::to_string(from) + "-to-" + std::to_string(to);
}

class ProxiedClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 3 client proxies, 3 nodes, 6 links, the API.
    base_port_ = BombarderEnv::free_port_range(2 * kNodes + kNodes * (kNodes - 1) + 1);
    const RunResult start =
        env_.run({"cluster", "start", "--proxied", "--port", std::to_string(base_port_), "--nodes",
                  std::to_string(kNodes), "--tick-ms", "20", "--election-ticks", "10",
                  "--heartbeat-ticks", "1", "--commit-timeout-ms", "1000", "--json"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
    started_ = json_of(start);
    ASSERT_TRUE(started_.is_object() && started_.contains("proxy")) << start.output;
    api_port_ = port_of(started_["proxy"]["api"].get<std::string>());
  }

  uint16_t client_port(size_t node) const { return static_cast<uint16_t>(base_port_ + node); }

  // /status of a node through its client proxy, or a discarded value.
  Json status(size_t node) const {
    const HttpResult r = http_request(client_port(node), "GET", "/status", {}, {}, 1s);
    return r.status == 200 ? r.json() : Json(Json::value_t::discarded);
  }

  // POST /api/kv through a node's client proxy; the status (0: no answer).
  int write(size_t node, const std::string& key) const {
    return http_request(client_port(node), "POST", "/api/kv",
                        Json{{"key", key}, {"value", "v"}}.dump(), {}, 3s)
        .status;
  }

  // Cuts (or restores) both streams of link-<from>-to-<to>.
  void cut(size_t from, size_t to) {
    for (const char* stream : {"upstream", "downstream"}) {
      const Json toxic = {{"name", std::string("cut_") + stream},
                          {"type", "timeout"},
                          {"stream", stream},
                          {"attributes", {{"timeout", 0}}}};
      const HttpResult r = http_request(
          api_port_, "POST", "/proxies/" + link_name(from, to) + "/toxics", toxic.dump());
      ASSERT_EQ(r.status, 200) << link_name(from, to) << ": " << r.describe();
    }
  }
  void heal(size_t from, size_t to) {
    for (const char* name : {"cut_upstream", "cut_downstream"}) {
      const HttpResult r =
          http_request(api_port_, "DELETE", "/proxies/" + link_name(from, to) + "/toxics/" + name);
      ASSERT_EQ(r.status, 204) << link_name(from, to) << ": " << r.describe();
    }
  }

  // The leader's id once every node in `nodes` names the same leader, itself among `nodes`.
  std::optional<uint64_t> agreed_leader(const std::set<size_t>& nodes) const {
    std::optional<uint64_t> leader;
    for (size_t i : nodes) {
      const Json s = status(i);
      if (s.is_discarded() || !s.contains("leader_id") || !s["leader_id"].is_number()) {
        return std::nullopt;
      }
      const uint64_t id = s["leader_id"].get<uint64_t>();
      if (leader && *leader != id) return std::nullopt;
      leader = id;
    }
    if (!leader || !nodes.contains(*leader)) return std::nullopt;
    if (status(*leader).value("role", "") != "leader") return std::nullopt;
    return leader;
  }

  // A sample of node's /metrics through its client proxy ("name{labels}" as rendered), or 0.
  double metric(size_t node, const std::string& sample) const {
    const HttpResult r = http_request(client_port(node), "GET", "/metrics", {}, {}, 2s);
    if (r.status != 200) return 0;
    const size_t at = r.body.find("\n" + sample + " ");
    if (at == std::string::npos) return 0;
    return std::stod(r.body.substr(at + sample.size() + 2));
  }
  // Peer streams node has accepted (issue 15: one per peer direction while they last).
  double streams_accepted(size_t node) const {
    return metric(node, "http_requests_total{code=\"101\",route=\"/_raft/stream\"}");
  }

  uint64_t applied(size_t node) const {
    const Json s = status(node);
    return s.is_discarded() ? 0 : s.value("applied_index", uint64_t{0});
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
  uint16_t api_port_ = 0;
  Json started_;
};

TEST_F(ProxiedClusterTest, RecordsProxiesAndServesWritesThroughTheClientProxies) {
  std::ifstream in(env_.root() / "cluster.json");
  const Json record = Json::parse(in, nullptr, false);
  ASSERT_TRUE(record.is_object());
  ASSERT_EQ(record["nodes"].size(), kNodes);
  for (size_t i = 0; i < kNodes; ++i) {
    // Clients (and every bombarder command) address node<i>-client; the node listens behind it.
    EXPECT_EQ(record["nodes"][i]["port"], client_port(i));
    EXPECT_EQ(record["nodes"][i]["listen_port"], base_port_ + kNodes + i);
  }
  EXPECT_EQ(record["proxy"]["port"], api_port_);

  const HttpResult proxies = http_request(api_port_, "GET", "/proxies");
  ASSERT_EQ(proxies.status, 200) << proxies.describe();
  std::set<std::string> names;
  const Json listed = proxies.json();
  for (const auto& [name, proxy] : listed.items()) names.insert(name);
  std::set<std::string> want;
  for (size_t i = 0; i < kNodes; ++i) {
    want.insert("node" + std::to_string(i) + "-client");
    for (size_t j = 0; j < kNodes; ++j) {
      if (i != j) want.insert(link_name(i, j));
    }
  }
  EXPECT_EQ(names, want);

  for (size_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(write(i, "via-node" + std::to_string(i)), 201) << "through node" << i << "-client";
  }
  const RunResult status = env_.run({"cluster", "status"});
  EXPECT_EQ(exit_code(status), 0) << status.output;
  EXPECT_NE(status.output.find("fault proxy: Toxiproxy API at http://127.0.0.1:" +
                               std::to_string(api_port_)),
            std::string::npos)
      << status.output;

  const RunResult stop = env_.run({"cluster", "stop", "--json"});
  ASSERT_EQ(exit_code(stop), 0) << stop.output;
  EXPECT_EQ(json_of(stop)["proxy"]["outcome"], "stopped (SIGTERM)") << stop.output;
  EXPECT_NE(http_request(api_port_, "GET", "/version", {}, {}, 1s).status, 200);
}

TEST_F(ProxiedClusterTest, CuttingTheLeadersLinksElectsANewLeaderAndHealingRejoinsIt) {
  const uint64_t old_leader = started_["leader"]["id"].get<uint64_t>();
  std::set<size_t> others;
  for (size_t i = 0; i < kNodes; ++i) {
    if (i != old_leader) others.insert(i);
  }
  ASSERT_EQ(write(old_leader, "before"), 201);

  for (size_t j : others) {
    cut(old_leader, j);
    cut(j, old_leader);
  }
  std::optional<uint64_t> new_leader;
  ASSERT_TRUE(wait_until(
      [&] {
        new_leader = agreed_leader(others);
        return new_leader.has_value();
      },
      15s, 50ms))
      << "no leader among the other two";
  EXPECT_NE(*new_leader, old_leader);
  // The majority side serves writes; the cut-off old leader cannot commit any.
  int status = 0;
  ASSERT_TRUE(wait_until([&] { return (status = write(*new_leader, "during")) == 201; }, 10s))
      << "last status " << status;
  EXPECT_NE(write(old_leader, "isolated"), 201);

  // Toxiproxy's reset removes every toxic: the old leader rejoins and catches up.
  ASSERT_EQ(http_request(api_port_, "POST", "/reset").status, 204);
  const uint64_t target = applied(*new_leader);
  std::set<size_t> all;
  for (size_t i = 0; i < kNodes; ++i) all.insert(i);
  EXPECT_TRUE(wait_until([&] { return agreed_leader(all) && applied(old_leader) >= target; }, 15s))
      << "old leader applied " << applied(old_leader) << " of " << target;
  ASSERT_TRUE(wait_until([&] { return (status = write(old_leader, "after")) == 201; }, 10s))
      << "last status " << status;
}

TEST_F(ProxiedClusterTest, AClientProxyToxicSlowsThatNodesClientsOnly) {
  const uint64_t leader = started_["leader"]["id"].get<uint64_t>();
  const size_t follower = (leader + 1) % kNodes;
  constexpr int kLatencyMs = 300;
  const Json toxic = {{"type", "latency"}, {"attributes", {{"latency", kLatencyMs}}}};
  const std::string proxy = "node" + std::to_string(leader) + "-client";
  const HttpResult added =
      http_request(api_port_, "POST", "/proxies/" + proxy + "/toxics", toxic.dump());
  ASSERT_EQ(added.status, 200) << added.describe();

  auto timed_write = [&](size_t node, const std::string& key) {
    const auto start = Clock::now();
    const int status = write(node, key);
    return std::make_pair(status, std::chrono::duration<double, std::milli>(Clock::now() - start));
  };
  // Through the leader's client proxy every answer waits; a write through a follower reaches the
  // leader over a link, which the toxic does not touch.
  const auto [slow_status, slow_ms] = timed_write(leader, "slow");
  EXPECT_EQ(slow_status, 201);
  EXPECT_GE(slow_ms.count(), kLatencyMs - 5) << "through " << proxy;
  const auto [fast_status, fast_ms] = timed_write(follower, "fast");
  EXPECT_EQ(fast_status, 201);
  EXPECT_LT(fast_ms.count(), kLatencyMs) << "through node" << follower << "-client";
}

TEST_F(ProxiedClusterTest, OneDirectionOfOneLinkCutsOnlyThatDirection) {
  const uint64_t leader = started_["leader"]["id"].get<uint64_t>();
  const Json leader_status = status(leader);
  const uint64_t term = leader_status.value("term", uint64_t{0});
  const size_t victim = (leader + 1) % kNodes;
  const size_t witness = (leader + 2) % kNodes;
  ASSERT_EQ(write(leader, "before"), 201);
  // The victim names the leader by its own link proxy to it, link-<victim>-to-<leader>.
  const Json victim_status = status(victim);
  ASSERT_TRUE(victim_status.contains("leader") && victim_status["leader"].is_string());
  const uint16_t victim_to_leader = port_of(victim_status["leader"].get<std::string>());

  // The leader can no longer reach the victim; the victim still reaches the leader.
  cut(leader, victim);
  const HttpResult backward = http_request(victim_to_leader, "GET", "/status", {}, {}, 2s);
  EXPECT_EQ(backward.status, 200) << "victim -> leader must still work: " << backward.describe();

  ASSERT_EQ(write(leader, "while-cut"), 201) << "leader + witness are a majority";
  const uint64_t committed = applied(leader);
  ASSERT_TRUE(wait_until([&] { return applied(witness) >= committed; }, 5s));
  // Only the leader's appends carry entries to the victim, and they cannot pass: it lags. Pre-vote
  // keeps it from deposing the leader meanwhile (the leader and the witness hear each other).
  EXPECT_LT(applied(victim), committed);
  EXPECT_EQ(status(leader).value("role", ""), "leader");
  EXPECT_EQ(status(leader).value("term", uint64_t{0}), term);

  heal(leader, victim);
  EXPECT_TRUE(wait_until([&] { return applied(victim) >= committed; }, 10s))
      << "victim applied " << applied(victim) << " of " << committed;
}

// Issue 15: the peer links carry the streaming transport through the proxy (the upgrade and its
// frames are plain bytes to it), and a toxic that breaks a link's connections makes the stream
// reconnect once it is gone: the follower behind it catches up over a new stream. The toxics act
// on the upstream direction, the one a stream's frames travel.
TEST_F(ProxiedClusterTest, PeerStreamsCommitThroughTheProxyAndReconnectAfterToxics) {
  const uint64_t leader = started_["leader"]["id"].get<uint64_t>();
  const size_t victim = (leader + 1) % kNodes;
  ASSERT_EQ(write(leader, "before"), 201);
  for (size_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(metric(i, "http_requests_total{code=\"204\",route=\"/_raft/append\"}"), 0)
        << "node " << i << " got appends as HTTP requests";
  }
  ASSERT_GE(streams_accepted(victim), 1) << "the leader's stream to node " << victim;

  for (const Json& toxic : {Json{{"name", "reset"},
                                 {"type", "reset_peer"},
                                 {"stream", "upstream"},
                                 {"attributes", {{"timeout", 0}}}},
                            Json{{"name", "close"},
                                 {"type", "timeout"},
                                 {"stream", "upstream"},
                                 {"attributes", {{"timeout", 100}}}}}) {
    const std::string type = toxic["type"].get<std::string>();
    const double accepted = streams_accepted(victim);
    const std::string proxy = "/proxies/" + link_name(leader, victim) + "/toxics";
    const HttpResult added = http_request(api_port_, "POST", proxy, toxic.dump());
    ASSERT_EQ(added.status, 200) << type << ": " << added.describe();
    // The leader's connections to the victim break while the toxic lasts; the witness keeps the
    // majority, so writes commit meanwhile.
    ASSERT_EQ(write(leader, "during-" + type), 201) << type;
    const uint64_t committed = applied(leader);
    const HttpResult removed =
        http_request(api_port_, "DELETE", proxy + "/" + toxic["name"].get<std::string>());
    ASSERT_EQ(removed.status, 204) << type << ": " << removed.describe();
    EXPECT_TRUE(wait_until([&] { return applied(victim) >= committed; }, 10s))
        << type << ": victim applied " << applied(victim) << " of " << committed;
    EXPECT_GT(streams_accepted(victim), accepted) << type << ": no new stream to the victim";
  }
}

}  // namespace
}  // namespace integration
