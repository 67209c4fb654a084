#include "bombarder/cluster/node_restart.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/base/process.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/store_adapter.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;

// Serving and back in the cluster: /status answers 200 and names a leader; for another store,
// its adapter's status names one.
bool serves_with_a_leader(ApiClient& client, const NodeRecord& node) {
  if (node.system != StoreSystem::kStressNode) {
    const std::vector<NodeStatusAnswer> answers =
        make_store_adapter(node.system, false)
            ->node_statuses(client, {node.endpoint}, std::chrono::milliseconds(500));
    return answers[0].status && !answers[0].status->leader.empty();
  }
  const ApiResponse r = client.get(node.endpoint, "/status", std::chrono::milliseconds(500));
  if (r.status != 200) return false;
  const nlohmann::json body = r.json();
  return body.is_object() && body.contains("leader") && body["leader"].is_string() &&
         !body["leader"].get<std::string>().empty();
}

}  // namespace

Respawned respawn_recorded_node(const NodeRecord& node) {
  Respawned out;
  out.pid = spawn_detached(node.args, node.output_path);
  try {
    if (std::optional<ClusterRecord> current = load_cluster_record()) {
      for (NodeRecord& recorded : current->nodes) {
        if (recorded.id == node.id) recorded.pid = out.pid;
      }
      save_cluster_record(*current);
    }
  } catch (const std::exception& e) {
    out.record_error = e.what();
  }
  return out;
}

NodeReady wait_node_ready(const NodeRecord& node, pid_t pid, Clock::time_point started,
                          std::chrono::milliseconds timeout) {
  ApiClient client;
  NodeReady out;
  const auto took = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  };
  while (Clock::now() - started < timeout) {
    if (!process_alive(pid)) {
      out.took = took();
      out.why = "pid " + std::to_string(pid) + " exited; see " + node.output_path.string();
      return out;
    }
    if (serves_with_a_leader(client, node)) {
      out.ready = true;
      out.took = took();
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll, bounded by timeout
  }
  out.took = took();
  out.why = "pid " + std::to_string(pid) + " not serving with a leader after " +
            std::to_string(timeout.count()) + " ms";
  return out;
}

}  // namespace bombarder
