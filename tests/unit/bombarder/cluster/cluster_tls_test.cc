// cluster/cluster_tls.h: the throw-away PKI of `cluster start --tls`. Its files must work
// together (each node's certificate verified by the CA for the host bombarder dials, bombarder's
// client certificate accepted by a node that checks client certificates), keys must never be
// readable by others, and the recorded cluster leads later commands to them.
#include "bombarder/cluster/cluster_tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "base/temp_data_root.h"
#include "bombarder/cluster/cluster_record.h"
#include "common/http_server.h"
#include "common/tls.h"

namespace bombarder {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// A TLS server (common::HttpServer) with one node's certificate, verifying client certificates
// against the CA, as a node started with --tls-cert/--tls-key/--tls-ca does.
class TlsNode {
 public:
  explicit TlsNode(const common::TlsFiles& files) {
    std::string error;
    common::HttpServerOptions options;
    options.tls = common::make_server_tls_context(files, &error);
    EXPECT_TRUE(options.tls) << error;
    if (!options.tls) return;
    server_ = std::make_unique<common::HttpServer>(io_, router_, options);
    EXPECT_FALSE(server_->listen());
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsNode() {
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
    }
  }
  [[nodiscard]] uint16_t port() const { return server_ ? server_->port() : 0; }

 private:
  asio::io_context io_;
  common::Router router_;
  std::unique_ptr<common::HttpServer> server_;
  std::thread thread_;
};

// Connects to 127.0.0.1:`port` and completes a TLS handshake that verifies the server's
// certificate for `host`; "" when it succeeded, else why not.
std::string handshake(uint16_t port, const common::TlsFiles& client_files,
                      const std::string& host) {
  std::string error;
  auto context = common::make_client_tls_context(client_files, &error);
  if (!context) return "client context: " + error;
  asio::io_context io;
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, *context);
  boost::system::error_code ec;
  stream.next_layer().connect({asio::ip::make_address_v4("127.0.0.1"), port}, ec);
  if (ec) return "connect: " + ec.message();
  if (!common::prepare_client_tls(stream.native_handle(), host, &error)) return error;
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return "handshake: " + ec.message();
  // TLS 1.3 reports a refused client certificate after the handshake: one request round trip.
  const std::string request = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(stream, asio::buffer(request), ec);
  char byte;
  if (!ec) stream.read_some(asio::buffer(&byte, 1), ec);
  if (ec) return "request: " + ec.message();
  return "";
}

class ClusterTlsTest : public test::TempDataRootTest {};

TEST_F(ClusterTlsTest, OneCaOneCertificatePerNodeAndAClientCertificateWithPrivateKeys) {
  const GeneratedTls tls = generate_cluster_tls(root_ / "tls", 3, "127.0.0.1");
  EXPECT_EQ(tls.ca_file, root_ / "tls" / "ca.crt");
  ASSERT_EQ(tls.node_cert_files.size(), 3u);
  ASSERT_EQ(tls.node_key_files.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(tls.node_cert_files[i], root_ / "tls" / ("node-" + std::to_string(i) + ".crt"));
    EXPECT_EQ(mode_of(tls.node_cert_files[i]), 0644u);
    EXPECT_EQ(mode_of(tls.node_key_files[i]), 0600u) << tls.node_key_files[i];
  }
  EXPECT_EQ(mode_of(tls.ca_file), 0644u);
  EXPECT_EQ(mode_of(tls.client_cert_file), 0644u);
  EXPECT_EQ(mode_of(tls.client_key_file), 0600u);
  EXPECT_FALSE(fs::exists(root_ / "tls" / "ca.key")) << "the CA's key is thrown away";
}

TEST_F(ClusterTlsTest, ANodesCertificateServesTheClusterHostAndLoopbackNamesOnly) {
  const GeneratedTls tls = generate_cluster_tls(root_ / "tls", 2, "10.1.2.3");
  TlsNode node(
      {tls.node_cert_files[1].string(), tls.node_key_files[1].string(), tls.ca_file.string()});
  ASSERT_NE(node.port(), 0);
  const common::TlsFiles client{tls.client_cert_file.string(), tls.client_key_file.string(),
                                tls.ca_file.string()};
  EXPECT_EQ(handshake(node.port(), client, "10.1.2.3"), "");
  EXPECT_EQ(handshake(node.port(), client, "127.0.0.1"), "");
  EXPECT_EQ(handshake(node.port(), client, "localhost"), "");
  EXPECT_NE(handshake(node.port(), client, "10.9.9.9"), "");
}

TEST_F(ClusterTlsTest, TheClientCertificateIsRequiredAndAcceptedByTheNodes) {
  const GeneratedTls tls = generate_cluster_tls(root_ / "tls", 1, "127.0.0.1");
  TlsNode node(
      {tls.node_cert_files[0].string(), tls.node_key_files[0].string(), tls.ca_file.string()});
  ASSERT_NE(node.port(), 0);
  // A client certificate from another run's CA is refused: each cluster's PKI is its own.
  const GeneratedTls other = generate_cluster_tls(root_ / "other", 1, "127.0.0.1");
  EXPECT_EQ(
      handshake(node.port(),
                {tls.client_cert_file.string(), tls.client_key_file.string(), tls.ca_file.string()},
                "127.0.0.1"),
      "");
  EXPECT_NE(handshake(node.port(),
                      {other.client_cert_file.string(), other.client_key_file.string(),
                       tls.ca_file.string()},
                      "127.0.0.1"),
            "");
}

TEST_F(ClusterTlsTest, RegeneratingOverAReadableKeyMakesItPrivateAgain) {
  fs::create_directories(root_ / "tls");
  { std::ofstream(root_ / "tls" / "node-0.key") << "an old key"; }
  fs::permissions(root_ / "tls" / "node-0.key", fs::perms(0644));
  const GeneratedTls tls = generate_cluster_tls(root_ / "tls", 1, "127.0.0.1");
  EXPECT_EQ(mode_of(tls.node_key_files[0]), 0600u);
  std::string text;
  std::getline(std::ifstream(tls.node_key_files[0]), text);
  EXPECT_NE(text, "an old key");
}

TEST_F(ClusterTlsTest, ADirectoryThatCannotBeCreatedIsAnErrorNamingIt) {
  std::ofstream(root_ / "a-file") << "x";
  try {
    (void)generate_cluster_tls(root_ / "a-file" / "tls", 1, "127.0.0.1");
    FAIL() << "creating a directory under a file must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(
        std::string(e.what()).starts_with("cannot create " + (root_ / "a-file" / "tls").string()))
        << e.what();
  }
}

TEST_F(ClusterTlsTest, NoRecordedClusterOrOneWithoutTlsMeansNoTlsFiles) {
  EXPECT_FALSE(recorded_cluster_tls());
  ClusterRecord record;
  record.nodes.emplace_back().endpoint = {"127.0.0.1", 8080};
  save_cluster_record(record);
  EXPECT_FALSE(recorded_cluster_tls());
}

TEST_F(ClusterTlsTest, ARecordedTlsClusterLeadsToItsFilesAndNamesTheRecord) {
  ClusterRecord record;
  record.nodes.emplace_back().endpoint = {"127.0.0.1", 8080};
  record.tls = TlsRecord{root_ / "tls" / "ca.crt", root_ / "tls" / "client.crt",
                         root_ / "tls" / "client.key"};
  save_cluster_record(record);
  const std::optional<RecordedNodeTls> tls = recorded_cluster_tls();
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->ca_file, root_ / "tls" / "ca.crt");
  EXPECT_EQ(tls->client_cert_file, root_ / "tls" / "client.crt");
  EXPECT_EQ(tls->client_key_file, root_ / "tls" / "client.key");
  EXPECT_EQ(tls->source, "the cluster recorded in " + (root_ / "cluster.json").string());
}

}  // namespace
}  // namespace bombarder
