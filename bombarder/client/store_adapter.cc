#include "bombarder/client/store_adapter.h"

#include <algorithm>
#include <map>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/client/etcd_adapter.h"
#include "bombarder/client/redis_adapter.h"
#include "bombarder/client/stress_node_adapter.h"

namespace bombarder {

const char* to_string(StoreSystem system) {
  switch (system) {
    case StoreSystem::kStressNode: return "stress_node";
    case StoreSystem::kEtcd: return "etcd";
    case StoreSystem::kRedis: return "redis";
  }
  return "?";
}

StoreSystem parse_store_system(std::string_view text) {
  if (text == "stress_node") return StoreSystem::kStressNode;
  if (text == "etcd") return StoreSystem::kEtcd;
  if (text == "redis") return StoreSystem::kRedis;
  invalid_input("--system must be stress_node, etcd or redis, not '" + std::string(text) + "'");
}

const char* to_string(AnswerClass answer) {
  switch (answer) {
    case AnswerClass::kOk: return "ok";
    case AnswerClass::kAbsent: return "absent";
    case AnswerClass::kExists: return "exists";
    case AnswerClass::kUnavailable: return "unavailable";
    case AnswerClass::kMaybeApplied: return "maybe_applied";
    case AnswerClass::kOutcomeUnknown: return "outcome_unknown";
    case AnswerClass::kClientError: return "client_error";
    case AnswerClass::kServerError: return "server_error";
    case AnswerClass::kBadResponse: return "bad_response";
  }
  return "?";
}

StoreAnswer classify_transport(bool connection_refused, std::string what) {
  StoreAnswer a;
  // Refused: the request never left. Anything else (timeout, reset, EOF) may have come after
  // the store received it.
  a.answer = connection_refused ? AnswerClass::kUnavailable : AnswerClass::kMaybeApplied;
  a.problem = std::move(what);
  return a;
}

const StoreAdapter& stress_node_adapter() {
  static const StressNodeAdapter adapter;
  return adapter;
}

std::shared_ptr<const StoreAdapter> make_store_adapter(StoreSystem system,
                                                       bool serializable_reads) {
  switch (system) {
    case StoreSystem::kStressNode: return std::make_shared<StressNodeAdapter>();
    case StoreSystem::kEtcd: return std::make_shared<EtcdAdapter>(EtcdOptions{serializable_reads});
    // Reads a node answers from its own state, without the leader: --read-from replica.
    case StoreSystem::kRedis:
      return std::make_shared<RedisAdapter>(RedisOptions{serializable_reads});
  }
  invalid_input("unknown store system");
}

ClusterView survey(const StoreAdapter& store, ApiClient& client,
                   const std::vector<common::Endpoint>& nodes, std::chrono::milliseconds timeout) {
  ClusterView view;
  std::vector<NodeStatusAnswer> answers = store.node_statuses(client, nodes, timeout);
  std::map<std::string, size_t> named;  // leader address -> how many nodes name it
  for (size_t i = 0; i < nodes.size(); ++i) {
    ClusterView::Node node{nodes[i], std::move(answers[i].status), std::move(answers[i].error)};
    if (node.status && !node.status->leader.empty()) ++named[node.status->leader];
    view.nodes.push_back(std::move(node));
  }
  // Two nodes leading in one term cannot happen in Raft; it does in Redis, which has no terms:
  // an old primary restarted after a failover leads itself until Sentinel demotes it. Then the
  // one the others follow leads.
  uint64_t leader_term = 0;
  size_t leader_named = 0;
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    const std::optional<StatusResponse>& s = view.nodes[i].status;
    if (!s || s->role != "leader") continue;
    const auto it = named.find(s->address);
    const size_t followers = it != named.end() ? it->second : 0;
    if (!view.leader || s->term > leader_term ||
        (s->term == leader_term && followers > leader_named)) {
      view.leader = i;
      leader_term = s->term;
      leader_named = followers;
    }
  }
  if (view.leader) {
    view.leader_address = view.nodes[*view.leader].endpoint.to_string();
  } else if (!named.empty()) {
    view.leader_address =
        std::max_element(named.begin(), named.end(), [](const auto& a, const auto& b) {
          return a.second < b.second;
        })->first;
  }
  return view;
}

ClusterView wait_for_leader(const StoreAdapter& store, ApiClient& client,
                            const std::vector<common::Endpoint>& nodes,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    ClusterView view = survey(store, client, nodes, std::chrono::seconds(1));
    if (view.leader || std::chrono::steady_clock::now() >= deadline) return view;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll, bounded by the deadline
  }
}

}  // namespace bombarder
