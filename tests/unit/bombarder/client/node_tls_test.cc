// client/node_tls.h: which TLS bombarder uses for node traffic. Rule 1, the --cacert/--cert/--key
// flags, wins over rule 2, the recorded cluster's files; with neither, plain HTTP. Bad files are
// one-line errors naming what is wrong.
#include "bombarder/client/node_tls.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "../../common/test_pki.h"
#include "error_message.h"

namespace bombarder {
namespace {

// Node TLS is process-wide state (the flags CLI11 fills, the lookup main installs): each test
// starts without either and leaves none behind.
class NodeTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { reset(); }
  void TearDown() override { reset(); }
  static void reset() {
    node_tls_flags() = NodeTlsFlags{};
    set_recorded_node_tls(nullptr);
  }

  // The recorded cluster's files: bombarder's client certificate "client" from the test CA.
  RecordedNodeTls recorded() {
    pki_.add_leaf("client", {"127.0.0.1"});
    return RecordedNodeTls{pki_.path("ca.crt"), pki_.path("client.crt"), pki_.path("client.key"),
                           "the cluster recorded in /data/cluster.json"};
  }

  common::test::TestPki pki_;
};

TEST_F(NodeTlsTest, WithoutFlagsOrARecordedClusterNodesArePlainHttp) {
  EXPECT_FALSE(node_tls_configured());
  EXPECT_EQ(node_tls_context(), nullptr);
}

TEST_F(NodeTlsTest, CacertFlagAloneGivesAVerifyingContext) {
  node_tls_flags().cacert = pki_.path("ca.crt");
  EXPECT_TRUE(node_tls_configured());
  EXPECT_NE(node_tls_context(), nullptr);
}

TEST_F(NodeTlsTest, ClientCertificateFlagsWithTheCaGiveAContext) {
  node_tls_flags() = {pki_.path("ca.crt"), pki_.path("node.crt"), pki_.path("node.key")};
  EXPECT_NE(node_tls_context(), nullptr);
}

TEST_F(NodeTlsTest, CertificateWithoutCacertIsAUsageErrorNamingTheMissingFlag) {
  node_tls_flags().cert = pki_.path("node.crt");
  node_tls_flags().key = pki_.path("node.key");
  EXPECT_TRUE(node_tls_configured());
  EXPECT_EQ(test::runtime_error_message([] { (void)node_tls_context(); }),
            "--cert/--key need --cacert (the CA of the nodes)");
}

TEST_F(NodeTlsTest, KeyWithoutCacertIsRefusedToo) {
  node_tls_flags().key = pki_.path("node.key");
  EXPECT_NE(test::runtime_error_message([] { (void)node_tls_context(); }).find("--cacert"),
            std::string::npos);
}

TEST_F(NodeTlsTest, MissingCaFileIsAnErrorNamingTheFile) {
  node_tls_flags().cacert = pki_.path("absent-ca.crt");
  const std::string error = test::runtime_error_message([] { (void)node_tls_context(); });
  EXPECT_NE(error.find("absent-ca.crt"), std::string::npos) << error;
}

TEST_F(NodeTlsTest, KeyOfAnotherCertificateIsRefused) {
  node_tls_flags() = {pki_.path("ca.crt"), pki_.path("node.crt"), pki_.path("rogue.key")};
  EXPECT_NE(test::runtime_error_message([] { (void)node_tls_context(); }), test::kNoError);
}

TEST_F(NodeTlsTest, RecordedClusterWithTlsIsUsedWhenNoFlagIsGiven) {
  const RecordedNodeTls files = recorded();
  set_recorded_node_tls([files] { return std::optional<RecordedNodeTls>(files); });
  EXPECT_TRUE(node_tls_configured());
  EXPECT_NE(node_tls_context(), nullptr);
}

TEST_F(NodeTlsTest, RecordedClusterWithoutTlsMeansPlainHttp) {
  set_recorded_node_tls([] { return std::optional<RecordedNodeTls>(); });
  EXPECT_FALSE(node_tls_configured());
  EXPECT_EQ(node_tls_context(), nullptr);
}

TEST_F(NodeTlsTest, FlagsWinOverTheRecordedClusterWhichIsThenNotRead) {
  int lookups = 0;
  set_recorded_node_tls([&lookups] {
    ++lookups;
    return std::optional<RecordedNodeTls>(
        RecordedNodeTls{"/nonexistent/ca.crt", "/nonexistent/c.crt", "/nonexistent/c.key", "x"});
  });
  node_tls_flags().cacert = pki_.path("ca.crt");
  EXPECT_NE(node_tls_context(), nullptr);  // the record's unusable files are never loaded
  EXPECT_TRUE(node_tls_configured());
  EXPECT_EQ(lookups, 0);
}

TEST_F(NodeTlsTest, UnusableRecordedFilesAreAnErrorNamingTheRecord) {
  RecordedNodeTls files = recorded();
  files.client_key_file = pki_.path("rogue.key");  // the key of another certificate
  set_recorded_node_tls([files] { return std::optional<RecordedNodeTls>(files); });
  const std::string error = test::runtime_error_message([] { (void)node_tls_context(); });
  EXPECT_TRUE(
      error.starts_with("the TLS files of the cluster recorded in /data/cluster.json are "
                        "unusable: "))
      << error;
}

TEST_F(NodeTlsTest, TheRecordIsConsultedAgainAtEachCall) {
  // A cluster started with --tls after bombarder started (supervise, watch): the next call
  // sees it.
  std::optional<RecordedNodeTls> current;
  set_recorded_node_tls([&current] { return current; });
  EXPECT_EQ(node_tls_context(), nullptr);
  current = recorded();
  EXPECT_NE(node_tls_context(), nullptr);
  current.reset();
  EXPECT_FALSE(node_tls_configured());
}

}  // namespace
}  // namespace bombarder
