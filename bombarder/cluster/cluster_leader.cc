#include "bombarder/cluster/cluster_leader.h"

#include <algorithm>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;

// A bound on how far the search widens: more addresses than any real cluster has members.
constexpr size_t kCandidatesMax = 64;

void add_unique(std::vector<common::Endpoint>& nodes, const common::Endpoint& node) {
  if (nodes.size() < kCandidatesMax && std::find(nodes.begin(), nodes.end(), node) == nodes.end()) {
    nodes.push_back(node);
  }
}

// "127.0.0.1:8080: no answer: Connection refused; 127.0.0.1:8081: ..." (at most three).
std::string unreachable_summary(const ClusterView& view) {
  std::string text;
  size_t shown = 0;
  for (const ClusterView::Node& node : view.nodes) {
    if (node.status) continue;
    if (shown == 3) {
      text += "; ...";
      break;
    }
    if (shown++ > 0) text += "; ";
    text += node.endpoint.to_string() + ": " + node.error;
  }
  return text;
}

}  // namespace

std::vector<common::Endpoint> with_members(std::vector<common::Endpoint> first,
                                           const StatusResponse& status) {
  for (const std::string& member : status.members) {
    if (auto endpoint = common::Endpoint::parse(member, "127.0.0.1", nullptr)) {
      add_unique(first, *endpoint);
    }
  }
  return first;
}

FoundLeader discover_leader(ApiClient& client, const std::optional<common::Endpoint>& hint,
                            std::chrono::milliseconds wait) {
  std::vector<common::Endpoint> candidates =
      hint ? std::vector<common::Endpoint>{*hint} : default_nodes();
  const auto deadline = Clock::now() + wait;
  bool hint_down = false;
  while (true) {
    const ClusterView view = survey(client, candidates, 1s);
    if (view.leader) {
      const ClusterView::Node& leader = view.nodes[*view.leader];
      return {leader.endpoint, *leader.status};
    }
    if (view.reachable() == 0 && hint && !hint_down) {
      // The node the user named is down: look at the recorded cluster's members instead.
      hint_down = true;
      if (auto record = load_cluster_record()) {
        for (const common::Endpoint& node : record->endpoints()) add_unique(candidates, node);
      }
      if (candidates.size() > 1) continue;
    }
    if (view.reachable() == 0) {
      environment_failure("no node answers /status (" + unreachable_summary(view) +
                          "); is a cluster running? (`bombarder cluster start`)");
    }
    // Widen the search: members the nodes know of, and the leader they name.
    const size_t known = candidates.size();
    for (const ClusterView::Node& node : view.nodes) {
      if (node.status) candidates = with_members(std::move(candidates), *node.status);
    }
    if (!view.leader_address.empty()) {
      if (auto named = common::Endpoint::parse(view.leader_address, "127.0.0.1", nullptr)) {
        add_unique(candidates, *named);
      }
    }
    if (candidates.size() > known) continue;  // ask the new ones at once
    if (Clock::now() >= deadline) {
      std::string text = "no leader: " + std::to_string(view.reachable()) + " of " +
                         std::to_string(view.nodes.size()) +
                         " nodes answer and none leads (an election in progress, or no quorum)";
      if (view.reachable() < view.nodes.size())
        text += "; unreachable: " + unreachable_summary(view);
      environment_failure(text);
    }
    std::this_thread::sleep_for(100ms);  // poll interval, bounded by the deadline above
  }
}

}  // namespace bombarder
