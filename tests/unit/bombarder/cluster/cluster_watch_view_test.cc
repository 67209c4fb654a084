// watch_view.h: what a `watch` round computes from two consecutive surveys (lag, writes per
// second) and how it renders.
#include <gtest/gtest.h>

#include "bombarder/cluster/watch_view.h"

namespace bombarder {
namespace {

ClusterView::Node node(uint16_t port, const std::string& role, uint64_t commit, uint64_t applied) {
  StatusResponse s;
  s.node_id = port % 10;
  s.role = role;
  s.term = 4;
  s.commit_index = commit;
  s.applied_index = applied;
  s.entry_count = applied;
  return {{"127.0.0.1", port}, s, {}};
}

ClusterView::Node down(uint16_t port, const std::string& error) {
  return {{"127.0.0.1", port}, std::nullopt, error};
}

ClusterView view_of(std::vector<ClusterView::Node> nodes) {
  ClusterView view;
  view.nodes = std::move(nodes);
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    if (view.nodes[i].status && view.nodes[i].status->role == "leader") {
      view.leader = i;
      view.leader_address = view.nodes[i].endpoint.to_string();
    }
  }
  return view;
}

TEST(WatchRound, LagIsTheLeadersCommitMinusEachNodesApplied) {
  const ClusterView view = view_of(
      {node(8080, "leader", 150, 150), node(8081, "follower", 140, 120), down(8082, "refused")});
  const WatchRound round = make_watch_round(view, nullptr, 0, 1, "t");
  EXPECT_EQ(round.leader, "127.0.0.1:8080");
  EXPECT_EQ(round.leader_id, 0u);
  EXPECT_EQ(round.leader_commit, 150u);
  EXPECT_EQ(round.reachable(), 2u);
  ASSERT_EQ(round.rows.size(), 3u);
  EXPECT_EQ(round.rows[0].lag, 0u);
  EXPECT_EQ(round.rows[1].lag, 30u);
  EXPECT_FALSE(round.rows[2].status.has_value());
  // No previous round: no rates yet.
  EXPECT_FALSE(round.writes_per_s.has_value());
  EXPECT_FALSE(round.rows[0].writes_per_s.has_value());
}

TEST(WatchRound, WritesPerSecondIsAppliedGrowthOverTheElapsedTime) {
  const WatchRound first =
      make_watch_round(view_of({node(8080, "leader", 100, 100), node(8081, "follower", 100, 90)}),
                       nullptr, 0, 1, "t1");
  const WatchRound second =
      make_watch_round(view_of({node(8080, "leader", 300, 300), node(8081, "follower", 300, 290)}),
                       &first, 0.5, 2, "t2");
  ASSERT_TRUE(second.writes_per_s.has_value());
  EXPECT_DOUBLE_EQ(*second.writes_per_s, 400.0);
  ASSERT_TRUE(second.rows[1].writes_per_s.has_value());
  EXPECT_DOUBLE_EQ(*second.rows[1].writes_per_s, 400.0);
}

TEST(WatchRound, NoRateForANodeThatWasDownInThePreviousRound) {
  const WatchRound first = make_watch_round(
      view_of({node(8080, "leader", 100, 100), down(8081, "refused")}), nullptr, 0, 1, "t1");
  const WatchRound second =
      make_watch_round(view_of({node(8080, "leader", 110, 110), node(8081, "follower", 110, 110)}),
                       &first, 1.0, 2, "t2");
  EXPECT_TRUE(second.rows[0].writes_per_s.has_value());
  EXPECT_FALSE(second.rows[1].writes_per_s.has_value());
}

TEST(WatchRound, WithoutALeaderTheHighestCommitAndTermStandIn) {
  ClusterView view = view_of({node(8080, "candidate", 90, 90), node(8081, "follower", 95, 95)});
  view.nodes[1].status->term = 7;
  const WatchRound round = make_watch_round(view, nullptr, 0, 1, "t");
  EXPECT_TRUE(round.leader.empty());
  EXPECT_EQ(round.term, 7u);
  EXPECT_EQ(round.leader_commit, 95u);
  EXPECT_EQ(round.rows[0].lag, 5u);
}

TEST(WatchRound, RendersASummaryLineAndOneRowPerNode) {
  const ClusterView view =
      view_of({node(8080, "leader", 150, 150), down(8082, "no answer: refused")});
  const std::vector<std::string> lines =
      render_watch_round(make_watch_round(view, nullptr, 0, 3, "2026-01-01T00:00:00.000Z"));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "2026-01-01T00:00:00.000Z  leader: 127.0.0.1:8080 (node 0)  term 4  commit 150  "
            "writes/s -  nodes up 1/2");
  EXPECT_EQ(lines[1].rfind("id  address", 0), 0u) << lines[1];
  EXPECT_NE(lines[2].find("leader"), std::string::npos);
  EXPECT_NE(lines[3].find("DOWN"), std::string::npos);
  EXPECT_NE(lines[3].find("no answer: refused"), std::string::npos);
}

TEST(WatchRound, JsonHasEveryNodeAndNullForUnknownRates) {
  const ClusterView view = view_of({node(8080, "leader", 150, 150), down(8082, "refused")});
  const Json json = watch_round_json(make_watch_round(view, nullptr, 0, 1, "t"));
  EXPECT_EQ(json["round"], 1);
  EXPECT_EQ(json["leader"], "127.0.0.1:8080");
  ASSERT_EQ(json["nodes"].size(), 2u);
  EXPECT_EQ(json["nodes"][0]["applied_index"], 150);
  EXPECT_TRUE(json["nodes"][0]["writes_per_s"].is_null());
  EXPECT_FALSE(json["nodes"][1]["reachable"].get<bool>());
  EXPECT_EQ(json["nodes"][1]["error"], "refused");
}

}  // namespace
}  // namespace bombarder
