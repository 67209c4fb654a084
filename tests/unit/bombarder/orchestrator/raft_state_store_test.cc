// --store raft://... (raft_state_store.h): the URL's nodes and prefix, and its refusals.
#include "bombarder/orchestrator/raft_state_store.h"

#include <gtest/gtest.h>

#include "error_message.h"

namespace bombarder {
namespace {

TEST(StoreUrlTest, NodesAreHostPortOrABarePortOnLoopbackWithTheDefaultPrefix) {
  const RaftStoreOptions o = parse_store_url("raft://10.0.0.5:8080,8081");
  ASSERT_EQ(o.nodes.size(), 2u);
  EXPECT_EQ(o.nodes[0].to_string(), "10.0.0.5:8080");
  EXPECT_EQ(o.nodes[1].to_string(), "127.0.0.1:8081");
  EXPECT_EQ(o.prefix, "bombarder-orchestrator");
}

TEST(StoreUrlTest, APathNamesThePrefix) {
  EXPECT_EQ(parse_store_url("raft://127.0.0.1:8080/orch-b").prefix, "orch-b");
}

TEST(StoreUrlTest, OtherSchemesNoNodesBadPortsAndEmptyPrefixesAreRefused) {
  for (const char* url : {"etcd://127.0.0.1:2379", "raft://", "raft://127.0.0.1:99999",
                          "raft://127.0.0.1:8080/", "127.0.0.1:8080"}) {
    const std::string message = test::runtime_error_message([&] { (void)parse_store_url(url); });
    EXPECT_NE(message.find("--store"), std::string::npos) << url << ": " << message;
  }
}

}  // namespace
}  // namespace bombarder
