// cluster/cluster_leader.h: the leader is discovered, never assumed (design.md §4). Fake nodes on
// loopback answer /status as stress_node does; the search widens from the node the user named
// to the members it lists and the leader it names, falls back to the recorded cluster when
// that node is down, waits out an election, and gives up with a one-line reason.
#include "bombarder/cluster/cluster_leader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../common/test_http_server.h"
#include "base/temp_data_root.h"
#include "bombarder/cluster/cluster_record.h"
#include "error_message.h"

namespace bombarder {
namespace {

namespace http = boost::beast::http;
using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;

// One fake stress_node: /status with its role and term, the members it knows, and the leader it
// names. A node becomes leader once it has answered `leads_after` probes (an election ending);
// the default never.
class FakeNode {
 public:
  explicit FakeNode(uint64_t id, std::string role = "follower") : id_(id), role_(std::move(role)) {}

  void set_members(std::vector<std::string> members) {
    std::lock_guard lock(mutex_);
    members_ = std::move(members);
  }
  void set_leader(std::string leader) {
    std::lock_guard lock(mutex_);
    leader_ = std::move(leader);
  }
  void lead_after(int probes) { leads_after_ = probes; }
  [[nodiscard]] int probes() const { return probes_; }
  [[nodiscard]] common::Endpoint endpoint() const { return server_.endpoint(); }
  [[nodiscard]] std::string address() const { return endpoint().to_string(); }

 private:
  std::optional<Response> status(const Request& r) {
    if (r.target() != "/status") return json_response(http::status::not_found, {});
    const int n = ++probes_;
    std::lock_guard lock(mutex_);
    const bool leads = role_ == "leader" || (leads_after_ > 0 && n > leads_after_);
    Json members = Json::array();
    for (const std::string& m : members_) members.push_back({{"address", m}});
    return json_response(http::status::ok, {{"node_id", id_},
                                            {"address", address()},
                                            {"role", leads ? "leader" : role_},
                                            {"term", 3},
                                            {"leader", leads ? address() : leader_},
                                            {"commit_index", 10},
                                            {"applied_index", 10},
                                            {"entry_count", 4},
                                            {"state_hash", "abc"},
                                            {"members", members}});
  }

  const uint64_t id_;
  const std::string role_;
  std::mutex mutex_;
  std::vector<std::string> members_;
  std::string leader_;
  std::atomic<int> leads_after_{0};
  std::atomic<int> probes_{0};
  TestHttpServer server_{[this](const Request& r) { return status(r); }};
};

// A fresh, empty $STRESS_TEST_DATA: no recorded cluster unless the test writes one.
class DiscoverLeader : public test::TempDataRootTest {
 protected:
  ApiClient client_{ApiClient::Transport::kPlain};
};

TEST_F(DiscoverLeader, TheNamedNodeThatLeadsIsTheAnswer) {
  FakeNode leader(0, "leader");
  const FoundLeader found = discover_leader(client_, leader.endpoint(), 2s);
  EXPECT_EQ(found.endpoint, leader.endpoint());
  EXPECT_EQ(found.status.role, "leader");
  EXPECT_EQ(found.status.node_id, 0u);
}

TEST_F(DiscoverLeader, AFollowerLeadsTheSearchToTheLeaderAmongItsMembers) {
  FakeNode follower(1), leader(0, "leader");
  follower.set_members({follower.address(), leader.address()});
  const FoundLeader found = discover_leader(client_, follower.endpoint(), 2s);
  EXPECT_EQ(found.endpoint, leader.endpoint());
  EXPECT_GE(leader.probes(), 1);
}

TEST_F(DiscoverLeader, TheLeaderAFollowerNamesIsAskedEvenWhenNotAMember) {
  // A follower whose member list is stale but who knows the current leader's address.
  FakeNode follower(1), leader(0, "leader");
  follower.set_leader(leader.address());
  const FoundLeader found = discover_leader(client_, follower.endpoint(), 2s);
  EXPECT_EQ(found.endpoint, leader.endpoint());
}

TEST_F(DiscoverLeader, AnElectionInProgressIsWaitedOut) {
  FakeNode a(0), b(1);
  a.set_members({a.address(), b.address()});
  b.lead_after(3);  // leads from its fourth answer on
  const FoundLeader found = discover_leader(client_, a.endpoint(), 5s);
  EXPECT_EQ(found.endpoint, b.endpoint());
  EXPECT_GE(b.probes(), 4);
}

TEST_F(DiscoverLeader, NodesThatAnswerButNeverLeadEndTheSearchAtTheDeadline) {
  FakeNode a(0), b(1);
  a.set_members({a.address(), b.address()});
  const auto started = std::chrono::steady_clock::now();
  const std::string error =
      test::runtime_error_message([&] { (void)discover_leader(client_, a.endpoint(), 300ms); });
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(
      error,
      "no leader: 2 of 2 nodes answer and none leads (an election in progress, or no quorum)");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
}

TEST_F(DiscoverLeader, AnUnreachableMemberIsNamedWhenNoneLeads) {
  FakeNode a(0);
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
  a.set_members({a.address(), dead.to_string()});
  const std::string error =
      test::runtime_error_message([&] { (void)discover_leader(client_, a.endpoint(), 200ms); });
  EXPECT_TRUE(error.starts_with("no leader: 1 of 2 nodes answer and none leads")) << error;
  EXPECT_NE(error.find("; unreachable: " + dead.to_string() + ": no answer"), std::string::npos)
      << error;
}

TEST_F(DiscoverLeader, ADownNamedNodeWithoutARecordedClusterFailsAtOnce) {
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
  const auto started = std::chrono::steady_clock::now();
  const std::string error =
      test::runtime_error_message([&] { (void)discover_leader(client_, dead, 10s); });
  EXPECT_TRUE(error.starts_with("no node answers /status (" + dead.to_string() + ": no answer"))
      << error;
  EXPECT_NE(error.find("is a cluster running? (`bombarder cluster start`)"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);  // not the 10 s wait
}

TEST_F(DiscoverLeader, ADownNamedNodeFallsBackToTheRecordedClustersMembers) {
  FakeNode follower(1), leader(2, "leader");
  ClusterRecord record;
  for (const FakeNode* node : {&follower, &leader}) {
    NodeRecord n;
    n.endpoint = node->endpoint();
    record.nodes.push_back(n);
  }
  save_cluster_record(record);
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
  const FoundLeader found = discover_leader(client_, dead, 2s);
  EXPECT_EQ(found.endpoint, leader.endpoint());
}

TEST(WithMembers, AddsTheMembersNotYetListedInTheirOrder) {
  StatusResponse status;
  status.members = {"127.0.0.1:8081", "127.0.0.1:8080", "10.0.0.5:9000", "8082"};
  const std::vector<common::Endpoint> nodes = with_members({{"127.0.0.1", 8080}}, status);
  const std::vector<common::Endpoint> expected = {
      {"127.0.0.1", 8080}, {"127.0.0.1", 8081}, {"10.0.0.5", 9000}, {"127.0.0.1", 8082}};
  EXPECT_EQ(nodes, expected);
}

TEST(WithMembers, MembersThatDoNotParseAreSkipped) {
  StatusResponse status;
  status.members = {"not an address", "127.0.0.1:99999", "127.0.0.1:8081"};
  const std::vector<common::Endpoint> nodes = with_members({}, status);
  const std::vector<common::Endpoint> expected = {{"127.0.0.1", 8081}};
  EXPECT_EQ(nodes, expected);
}

TEST(WithMembers, TheListIsBoundedWhateverANodeClaims) {
  StatusResponse status;
  for (int port = 10000; port < 10200; ++port)
    status.members.push_back("127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(with_members({}, status).size(), 64u);
}

}  // namespace
}  // namespace bombarder
