// survey() (store_adapter.h) over a scripted store: which node it takes for the leader. Redis has
// no terms, so after a Sentinel failover the restarted old primary and the promoted replica both
// say they lead in "term 0": the one the other nodes follow is the leader.
#include <gtest/gtest.h>

#include "bombarder/client/store_adapter.h"

namespace bombarder {
namespace {

class ScriptedStore final : public StoreAdapter {
 public:
  explicit ScriptedStore(std::vector<NodeStatusAnswer> answers) : answers_(std::move(answers)) {}
  [[nodiscard]] StoreSystem system() const override { return StoreSystem::kRedis; }
  void format_request(const StoreRequest&, std::string_view, std::string&) const override {}
  [[nodiscard]] StoreAnswer classify(const StoreRequest&, int, const std::string&) const override {
    return {};
  }
  [[nodiscard]] std::vector<NodeStatusAnswer> node_statuses(
      ApiClient&, const std::vector<common::Endpoint>&, std::chrono::milliseconds) const override {
    return answers_;
  }

 private:
  std::vector<NodeStatusAnswer> answers_;
};

NodeStatusAnswer node(const std::string& address, const std::string& role, uint64_t term,
                      const std::string& leader) {
  StatusResponse s;
  s.address = address;
  s.role = role;
  s.term = term;
  s.leader = leader;
  return NodeStatusAnswer{s, ""};
}

const std::vector<common::Endpoint> kNodes = {
    {"127.0.0.1", 7000}, {"127.0.0.1", 7001}, {"127.0.0.1", 7002}};

TEST(Survey, OfTwoLeadersInOneTermTheOneTheOthersFollowLeads) {
  const ScriptedStore store({node("127.0.0.1:7000", "leader", 0, "127.0.0.1:7000"),
                             node("127.0.0.1:7001", "follower", 0, "127.0.0.1:7002"),
                             node("127.0.0.1:7002", "leader", 0, "127.0.0.1:7002")});
  ApiClient client;
  const ClusterView view = survey(store, client, kNodes);
  ASSERT_TRUE(view.leader.has_value());
  EXPECT_EQ(*view.leader, 2u);
  EXPECT_EQ(view.leader_address, "127.0.0.1:7002");
}

TEST(Survey, AHigherTermLeadsWhateverTheOthersFollow) {
  const ScriptedStore store({node("127.0.0.1:7000", "leader", 5, "127.0.0.1:7000"),
                             node("127.0.0.1:7001", "follower", 4, "127.0.0.1:7002"),
                             node("127.0.0.1:7002", "leader", 4, "127.0.0.1:7002")});
  ApiClient client;
  const ClusterView view = survey(store, client, kNodes);
  ASSERT_TRUE(view.leader.has_value());
  EXPECT_EQ(*view.leader, 0u);
}

}  // namespace
}  // namespace bombarder
