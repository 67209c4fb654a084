// cluster_record.h and the node addresses of node_url.h: what `cluster start` writes is what
// `cluster stop`, chaos and the default node list read back; node URLs as users write them.
#include "bombarder/cluster/cluster_record.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>

#include "base/temp_data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_secrets.h"

namespace bombarder {
namespace {

namespace fs = std::filesystem;

// A fresh $STRESS_TEST_DATA for each test.
class ClusterRecordTest : public test::TempDataRootTest {};

TEST_F(ClusterRecordTest, SavedRecordLoadsBackFieldForField) {
  ClusterRecord record;
  record.started_at = "2026-01-01T00:00:00.000Z";
  record.node_binary = "/opt/bin/stress_node";
  for (uint64_t id = 0; id < 2; ++id) {
    NodeRecord node;
    node.id = id;
    node.endpoint = {"127.0.0.1", static_cast<uint16_t>(9000 + id)};
    node.pid = static_cast<pid_t>(4000 + id);
    node.data_dir = root_ / ("node-" + std::to_string(id));
    node.output_path = node.data_dir / "console.log";
    node.args = {"/opt/bin/stress_node", "--node-id", std::to_string(id)};
    record.nodes.push_back(node);
  }
  record.cluster_secret_file = root_ / "cluster-secret";
  record.admin_token_file = root_ / "admin-token";
  save_cluster_record(record);
  EXPECT_EQ(cluster_record_path(), root_ / "cluster.json");

  const std::optional<ClusterRecord> loaded = load_cluster_record();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->started_at, record.started_at);
  EXPECT_EQ(loaded->node_binary, record.node_binary);
  EXPECT_EQ(loaded->cluster_secret_file, record.cluster_secret_file);
  EXPECT_EQ(loaded->admin_token_file, record.admin_token_file);
  ASSERT_EQ(loaded->nodes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(loaded->nodes[i].id, record.nodes[i].id);
    EXPECT_EQ(loaded->nodes[i].endpoint, record.nodes[i].endpoint);
    EXPECT_EQ(loaded->nodes[i].pid, record.nodes[i].pid);
    EXPECT_EQ(loaded->nodes[i].data_dir, record.nodes[i].data_dir);
    EXPECT_EQ(loaded->nodes[i].output_path, record.nodes[i].output_path);
    EXPECT_EQ(loaded->nodes[i].args, record.nodes[i].args);
  }
  // The recorded members are every command's default nodes.
  EXPECT_EQ(default_nodes(), record.endpoints());
  ASSERT_NE(loaded->find({"127.0.0.1", 9001}), nullptr);
  EXPECT_EQ(loaded->find({"127.0.0.1", 9001})->id, 1u);
  EXPECT_EQ(loaded->find({"127.0.0.1", 9009}), nullptr);

  remove_cluster_record();
  EXPECT_FALSE(load_cluster_record().has_value());
}

TEST_F(ClusterRecordTest, ProxiedRecordKeepsTheNodesOwnPortsAndTheProxyProcess) {
  ClusterRecord record;
  record.node_binary = "/opt/bin/stress_node";
  NodeRecord node;
  node.endpoint = {"127.0.0.1", 9000};  // node0-client
  node.listen_port = 9003;
  node.pid = 4000;
  record.nodes.push_back(node);
  ProxyRecord proxy;
  proxy.pid = 4100;
  proxy.api = {"127.0.0.1", 9012};
  proxy.config_path = root_ / "proxies.json";
  proxy.output_path = root_ / "proxy.log";
  proxy.args = {"/opt/bin/bombarder", "proxy", "--port", "9012"};
  record.proxy = proxy;
  save_cluster_record(record);

  const std::optional<ClusterRecord> loaded = load_cluster_record();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->nodes.size(), 1u);
  EXPECT_EQ(loaded->nodes[0].endpoint.port, 9000);
  EXPECT_EQ(loaded->nodes[0].node_port(), 9003);
  ASSERT_TRUE(loaded->proxy.has_value());
  EXPECT_EQ(loaded->proxy->pid, 4100);
  EXPECT_EQ(loaded->proxy->api, proxy.api);
  EXPECT_EQ(loaded->proxy->config_path, proxy.config_path);
  EXPECT_EQ(loaded->proxy->output_path, proxy.output_path);
  EXPECT_EQ(loaded->proxy->args, proxy.args);
  // Every command talks to the client proxies.
  EXPECT_EQ(default_nodes(), (std::vector<common::Endpoint>{{"127.0.0.1", 9000}}));
}

TEST_F(ClusterRecordTest, UnproxiedRecordHasNoProxyAndNodesListenOnTheirEndpoint) {
  ClusterRecord record;
  record.node_binary = "/opt/bin/stress_node";
  NodeRecord node;
  node.endpoint = {"127.0.0.1", 9000};
  record.nodes.push_back(node);
  save_cluster_record(record);
  const std::optional<ClusterRecord> loaded = load_cluster_record();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_FALSE(loaded->proxy.has_value());
  EXPECT_EQ(loaded->nodes[0].node_port(), 9000);
}

TEST_F(ClusterRecordTest, WithoutARecordTheDefaultNodesAreTheReferencePorts) {
  const std::vector<common::Endpoint> expected = {
      {"127.0.0.1", 8080}, {"127.0.0.1", 8081}, {"127.0.0.1", 8082}};
  EXPECT_EQ(default_nodes(), expected);
}

TEST_F(ClusterRecordTest, UnreadableRecordIsAnEnvironmentErrorNamingTheFile) {
  std::ofstream(root_ / "cluster.json") << "{\"nodes\": [ {\"id\": 0 } ]";
  try {
    (void)load_cluster_record();
    FAIL() << "a broken record loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kEnvironment) << to_string(e.kind());
    EXPECT_NE(std::string(e.what()).find((root_ / "cluster.json").string()), std::string::npos)
        << e.what();
  }
}

TEST(ParseNodeUrl, AcceptsTheFormsUsersWrite) {
  const common::Endpoint expected{"127.0.0.1", 8081};
  EXPECT_EQ(parse_node_url("http://127.0.0.1:8081"), expected);
  EXPECT_EQ(parse_node_url("http://127.0.0.1:8081/"), expected);
  EXPECT_EQ(parse_node_url("127.0.0.1:8081"), expected);
  EXPECT_EQ(parse_node_url("8081"), expected);
  EXPECT_EQ(parse_node_url("http://node-a.local:80"), (common::Endpoint{"node-a.local", 80}));
  EXPECT_EQ(node_url(expected), "http://127.0.0.1:8081");
}

// The kind of Error parse_node_url throws for `text`; nullopt when it parses.
std::optional<ErrorKind> url_error_kind(std::string_view text) {
  try {
    (void)parse_node_url(text);
  } catch (const Error& e) {
    return e.kind();
  }
  return std::nullopt;
}

TEST(ParseNodeUrl, RefusesWhatIsNotANodeAddressAsInvalidInput) {
  EXPECT_EQ(url_error_kind("http://x:notaport"), ErrorKind::kInvalidInput);
  EXPECT_EQ(url_error_kind("https://127.0.0.1:8080"), ErrorKind::kInvalidInput);
  EXPECT_EQ(url_error_kind("http://127.0.0.1:8080/status"), ErrorKind::kInvalidInput);
  EXPECT_EQ(url_error_kind("127.0.0.1:70000"), ErrorKind::kInvalidInput);
  EXPECT_EQ(url_error_kind(""), ErrorKind::kInvalidInput);
}

TEST(ParseNodeList, SplitsCommasAndRefusesEmptyItems) {
  const std::vector<common::Endpoint> nodes =
      parse_node_list({"8080,http://127.0.0.1:8081", "8082"});
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[2], (common::Endpoint{"127.0.0.1", 8082}));
  EXPECT_THROW((void)parse_node_list({"8080,,8081"}), Error);
}

// Issue 14: `cluster start` writes a fresh secret and token, private from the first byte, and
// admin commands find the token through the record.
TEST_F(ClusterRecordTest, ClusterSecretsArePrivateFreshAndFoundThroughTheRecord) {
  const ClusterSecrets first = create_cluster_secrets(root_);
  for (const fs::path& file : {first.cluster_secret_file, first.admin_token_file}) {
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
    std::ifstream in(file);
    std::string text;
    in >> text;
    EXPECT_EQ(text.size(), 64u) << file;
    EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), std::string::npos) << text;
  }
  std::ifstream old_secret(first.cluster_secret_file);
  std::string before;
  old_secret >> before;
  const ClusterSecrets second = create_cluster_secrets(root_);
  std::ifstream new_secret(second.cluster_secret_file);
  std::string after;
  new_secret >> after;
  EXPECT_NE(before, after) << "every start makes a new secret";

  // No record: the token file in the cluster directory.
  std::ifstream token_in(second.admin_token_file);
  std::string token;
  token_in >> token;
  const auto headers = admin_auth_headers();
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].first, "Authorization");
  EXPECT_EQ(headers[0].second, "Bearer " + token);
  // A record naming another file wins.
  ClusterRecord record;
  record.node_binary = "/bin/stress_node";
  record.admin_token_file = root_ / "elsewhere";
  std::ofstream(root_ / "elsewhere") << "recorded-token\n";
  save_cluster_record(record);
  EXPECT_EQ(admin_auth_headers().at(0).second, "Bearer recorded-token");
  remove_cluster_record();
}

}  // namespace
}  // namespace bombarder
