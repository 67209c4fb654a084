// cluster_proxies.h without processes: the port layout of `cluster start --proxied`, the proxies
// it configures, and the node command lines that route every peer link through its own proxy.
#include "bombarder/cluster/cluster_proxies.h"

#include <gtest/gtest.h>

#include <set>

#include "bombarder/cluster/cluster_lifecycle.h"
#include "bombarder/cluster/etcd_members.h"

namespace bombarder {
namespace {

TEST(ProxiedLayout, ClientProxiesKeepTheUnproxiedPortsAndEveryPortIsUsedOnce) {
  const ProxiedLayout layout(9000, 3);
  EXPECT_EQ(layout.ports_used(), 13);  // 3 client proxies, 3 nodes, 6 links, the API
  std::set<uint16_t> ports;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(layout.client_port(i), 9000 + i);
    EXPECT_EQ(layout.node_port(i), 9003 + i);
    ports.insert({layout.client_port(i), layout.node_port(i)});
    for (int j = 0; j < 3; ++j) {
      if (i != j) ports.insert(layout.link_port(i, j));
    }
  }
  ports.insert(layout.api_port());
  EXPECT_EQ(layout.api_port(), 9012);
  EXPECT_EQ(ports.size(), 13u);
  EXPECT_EQ(*ports.begin(), 9000);
  EXPECT_EQ(*ports.rbegin(), 9012);
  EXPECT_EQ(layout.link_port(0, 1), 9006);
  EXPECT_EQ(layout.link_port(2, 1), 9011);
}

TEST(ProxiedConfig, OneClientProxyPerNodeAndOneProxyPerDirectedLink) {
  const ProxiedLayout layout(9000, 3);
  const nlohmann::json config = proxied_config(layout, 3, "127.0.0.1", StoreSystem::kStressNode);
  ASSERT_EQ(config.size(), 9u);
  EXPECT_EQ(config[0], (nlohmann::json{{"name", "node0-client"},
                                       {"listen", "127.0.0.1:9000"},
                                       {"upstream", "127.0.0.1:9003"},
                                       {"enabled", true}}));
  // link-2-to-0: node 2's address for node 0, leading to node 0 itself.
  bool found = false;
  for (const auto& proxy : config) {
    if (proxy["name"] == "link-2-to-0") {
      found = true;
      EXPECT_EQ(proxy["listen"], "127.0.0.1:" + std::to_string(layout.link_port(2, 0)));
      EXPECT_EQ(proxy["upstream"], "127.0.0.1:9003");
    }
  }
  EXPECT_TRUE(found) << config.dump();
}

TEST(NodeCommandLine, ProxiedNodesListenBehindTheirClientProxyAndReachPeersThroughTheirLinks) {
  StartFlags flags;
  flags.port = 9000;
  flags.nodes = 3;
  flags.proxied = true;
  const ProxiedLayout layout(9000, 3);
  const std::vector<std::string> argv = node_command_line(flags, "/bin/stress_node", 1, "/d/n1");
  const std::vector<std::string> expected = {
      "/bin/stress_node",
      "--node-id",
      "1",
      "--host",
      "127.0.0.1",
      "--port",
      "9004",
      "--data-dir",
      "/d/n1",
      "--log-level",
      "info",
      "--peers",
      "0@127.0.0.1:" + std::to_string(layout.link_port(1, 0)) +
          ",2@127.0.0.1:" + std::to_string(layout.link_port(1, 2))};
  EXPECT_EQ(argv, expected);
}

// --system etcd (issue 18): after the API port, each member's peer listener and its SOCKS5 front.
TEST(ProxiedLayout, EtcdPeerListenersAndSocksFrontsComeAfterTheApiPort) {
  const ProxiedLayout layout(9000, 3);
  EXPECT_EQ(layout.etcd_ports_used(), 19);
  EXPECT_EQ(layout.etcd_peer_port(0), 9013);
  EXPECT_EQ(layout.etcd_peer_port(2), 9015);
  EXPECT_EQ(layout.socks_port(0), 9016);
  EXPECT_EQ(layout.socks_port(2), 9018);
}

TEST(ProxiedConfig, EtcdLinksLeadToPeerListenersAndEachFrontRoutesToItsOwnLinks) {
  const ProxiedLayout layout(9000, 3);
  const nlohmann::json config = proxied_config(layout, 3, "127.0.0.1", StoreSystem::kEtcd);
  ASSERT_EQ(config.size(), 9u);
  EXPECT_EQ(config[1]["upstream"], "127.0.0.1:9004") << "clients reach member 1's client URL";
  for (const auto& proxy : config) {
    if (proxy["name"] == "link-2-to-0") {
      EXPECT_EQ(proxy["upstream"], "127.0.0.1:9013");
    }
  }
  const nlohmann::json fronts = etcd_socks_config(layout, 3, "127.0.0.1");
  ASSERT_EQ(fronts.size(), 3u);
  EXPECT_EQ(fronts[1],
            (nlohmann::json{
                {"name", "node1-peers"},
                {"listen", "127.0.0.1:9017"},
                {"routes",
                 {{"etcd-node-0:9013", "127.0.0.1:" + std::to_string(layout.link_port(1, 0))},
                  {"etcd-node-2:9015", "127.0.0.1:" + std::to_string(layout.link_port(1, 2))}}}}));
}

TEST(EtcdCommandLine, ProxiedMembersDialPeersByNameThroughTheirOwnSocksFront) {
  StartFlags flags;
  flags.port = 9000;
  flags.nodes = 3;
  flags.proxied = true;
  flags.system = StoreSystem::kEtcd;
  const std::vector<std::string> argv =
      etcd_command_line(flags, "/usr/bin/etcd", 1, "/d/node-1", "token");
  ASSERT_GE(argv.size(), 9u);
  EXPECT_EQ(argv[0], "/usr/bin/env");
  EXPECT_EQ(argv[7], "HTTP_PROXY=socks5://127.0.0.1:9017");
  EXPECT_EQ(argv[8], "/usr/bin/etcd");
  const auto value = [&argv](const std::string& flag) {
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == flag) return argv[i + 1];
    }
    return std::string("<missing>");
  };
  EXPECT_EQ(value("--listen-client-urls"), "http://127.0.0.1:9004");
  EXPECT_EQ(value("--advertise-client-urls"), "http://127.0.0.1:9001");
  EXPECT_EQ(value("--listen-peer-urls"), "http://127.0.0.1:9014");
  EXPECT_EQ(value("--initial-advertise-peer-urls"), "http://etcd-node-1:9014");
  EXPECT_EQ(value("--initial-cluster"),
            "node-0=http://etcd-node-0:9013,node-1=http://etcd-node-1:9014,"
            "node-2=http://etcd-node-2:9015");
}

}  // namespace
}  // namespace bombarder
