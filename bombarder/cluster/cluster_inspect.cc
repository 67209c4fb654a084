#include "bombarder/cluster/cluster_inspect.h"

#include <algorithm>
#include <map>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/client/node_url.h"
#include "bombarder/client/store_adapter.h"
#include "bombarder/cluster/cluster_leader.h"
#include "bombarder/cluster/cluster_secrets.h"
#include "bombarder/cluster/cluster_table.h"

namespace bombarder {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// Leader changes met while talking to "the leader" before giving up (each one re-discovers).
constexpr int kLeaderChangesMax = 3;
// How long resync looks for a leader while an election runs.
constexpr auto kResyncLeaderWait = 5s;
constexpr auto kResyncPoll = 100ms;

std::string u64(uint64_t value) { return std::to_string(value); }

// The leader a 503 not_leader answer names, if any.
std::optional<common::Endpoint> named_leader(const ApiResponse& answer) {
  const Json body = answer.json();
  if (!body.is_object() || !body.contains("leader") || !body["leader"].is_string()) {
    return std::nullopt;
  }
  return common::Endpoint::parse(body["leader"].get<std::string>(), "127.0.0.1", nullptr);
}

bool is_not_leader(const ApiResponse& answer) {
  const Json body = answer.json();
  return answer.status == 503 && body.is_object() && body.value("error", "") == "not_leader";
}

// Polls until the leader reports the target healthy, out of snapshot transfer, and holding
// every entry up to `snapshot_index` (the snapshot the leader took for this resync). A forced
// snapshot replaces the target's state even when its log already holds that index (it is then
// "reinstalled" and re-applies its own committed entries after it), but a target whose log is
// compacted past the snapshot refuses it (raft_core.h, send_snapshot), so "installed" is not the
// criterion; the caller tells the cases apart by the target's resync counters.
// Also done only once the leader has finished sending a snapshot since the resync began (its
// snapshots_sent went past `sent_before`): a follower already holding that index looks healthy
// before the transfer even starts. (Another follower's transfer finishing meanwhile would count
// too; the leader's counters are not per follower.)
ResyncWait wait_resynced(ApiClient& client, common::Endpoint leader, const common::Endpoint& target,
                         uint64_t snapshot_index, uint64_t sent_before,
                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  ResyncWait wait;
  while (true) {
    const ApiResponse answer = client.get(leader, "/_raft/sync-status", 2s);
    if (is_not_leader(answer)) {
      if (auto named = named_leader(answer)) leader = *named;
      wait.why = "leadership moved to " + leader.to_string();
    } else if (answer.status != 200) {
      wait.why = "sync-status: " + answer.describe();
    } else {
      wait.follower.reset();
      const Json body = answer.json();
      for (const Json& entry : body.value("followers", Json::array())) {
        FollowerSync f = FollowerSync::from_json(entry);
        if (f.address == target.to_string()) wait.follower = std::move(f);
      }
      if (wait.follower) {
        const FollowerSync& f = *wait.follower;
        const bool sent =
            resync_counter(resync_stats(client, leader), "snapshots_sent") > sent_before;
        wait.healthy = sent && f.state == "healthy" && f.progress != "snapshot" &&
                       f.match_index >= snapshot_index;
        if (wait.healthy) return wait;
        wait.why = "follower " + f.state + " (progress " + f.progress + ", last replicated " +
                   u64(f.match_index) + ", snapshot index " + u64(snapshot_index) +
                   (sent ? "" : ", the leader has not finished sending") + ")";
      } else {
        wait.why = "the leader does not list " + target.to_string();
      }
    }
    if (Clock::now() >= deadline) return wait;
    std::this_thread::sleep_for(kResyncPoll);  // poll interval, bounded by the deadline above
  }
}

uint64_t snapshot_index_of(const std::optional<Json>& stats) {
  if (!stats || !stats->contains("current_snapshot")) return 0;
  const Json& snapshot = (*stats)["current_snapshot"];
  return snapshot.is_object() ? snapshot.value("index", uint64_t{0}) : 0;
}

}  // namespace

// ---- cluster status ------------------------------------------------------------------------

HashAgreement compare_hashes(const ClusterView& view) {
  // applied index -> (hash -> nodes holding it); ordered maps keep the output stable.
  std::map<uint64_t, std::map<std::string, std::vector<std::string>>> at;
  for (const ClusterView::Node& node : view.nodes) {
    if (!node.status || node.status->state_hash_index != node.status->applied_index) continue;
    at[node.status->applied_index][node.status->state_hash].push_back(node.endpoint.to_string());
  }
  HashAgreement out;
  for (const auto& [index, hashes] : at) {
    size_t nodes = 0;
    for (const auto& [hash, holders] : hashes) nodes += holders.size();
    if (nodes < 2) continue;
    out.compared_at.push_back(index);
    if (hashes.size() == 1) continue;
    std::string text = "applied index " + u64(index) + ":";
    for (const auto& [hash, holders] : hashes) {
      for (const std::string& holder : holders) text += " " + holder + " " + hash;
    }
    out.disagreements.push_back(text);
  }
  return out;
}

ClusterHealth assess_health(const ClusterView& view) {
  ClusterHealth h;
  h.hashes = compare_hashes(view);
  h.unreachable = view.nodes.size() - view.reachable();
  if (h.unreachable > 0) {
    h.problems.push_back(u64(h.unreachable) + " of " + u64(view.nodes.size()) +
                         " nodes unreachable");
  }
  if (!view.leader) {
    h.problems.push_back(view.leader_address.empty()
                             ? "no leader"
                             : "the leader " + view.leader_address + " is not among these nodes");
  }
  for (const std::string& d : h.hashes.disagreements) {
    h.problems.push_back("state hashes differ at " + d);
  }
  return h;
}

namespace {

// A sentinel that is down or silent, or that names another primary than the one the nodes say
// leads (the window after a failover in which the old primary, restarted, still says it is one).
void assess_sentinels(const ClusterRecord& record, const ClusterView& view,
                      const std::vector<SentinelView>& sentinels, ClusterHealth& health) {
  std::string leader_own;  // the leader's own address, as the sentinels name it
  if (view.leader) {
    const common::Endpoint& endpoint = view.nodes[*view.leader].endpoint;
    const NodeRecord* node = record.find(endpoint);
    leader_own = node != nullptr ? common::Endpoint{endpoint.host, node->node_port()}.to_string()
                                 : endpoint.to_string();
  }
  for (const SentinelView& s : sentinels) {
    const std::string who = "sentinel " + s.sentinel.endpoint.to_string();
    if (!s.running) {
      health.problems.push_back(who + " is not running");
    } else if (s.primary.empty()) {
      health.problems.push_back(who + " does not answer (" + s.error + ")");
    } else if (!leader_own.empty() && s.primary != leader_own) {
      health.problems.push_back(who + " names " + s.primary + " as the primary, not " + leader_own);
    }
  }
}

}  // namespace

ClusterStatus inspect_cluster(const std::vector<std::string>& node_urls) {
  const std::vector<common::Endpoint> nodes =
      node_urls.empty() ? default_nodes() : parse_node_list(node_urls);
  ApiClient client;
  ClusterStatus status;
  // The recorded cluster's members are asked as its store answers (cluster start --system).
  const std::optional<ClusterRecord> record =
      node_urls.empty() ? load_cluster_record() : std::nullopt;
  const auto store = make_store_adapter(record ? record->system : StoreSystem::kStressNode, false);
  status.view = survey(*store, client, nodes, 2s);
  const ClusterView& view = status.view;
  if (view.reachable() == 0) {
    environment_failure("no node answers /status (" + view.nodes[0].endpoint.to_string() + ": " +
                        view.nodes[0].error + (nodes.size() > 1 ? "; ..." : "") +
                        "); is a cluster running? (`bombarder cluster start`)");
  }
  status.health = assess_health(view);
  // `cluster start --proxied`: where faults are injected (only for the recorded cluster).
  if (record) status.proxy = record->proxy;
  if (record && !record->sentinels.empty()) {
    status.sentinels = inspect_sentinels(*record);
    assess_sentinels(*record, view, status.sentinels, status.health);
  }
  return status;
}

// ---- cluster sync-status -------------------------------------------------------------------

FollowerSync FollowerSync::from_json(const Json& entry) {
  FollowerSync f;
  f.id = entry.at("id").get<uint64_t>();
  f.address = entry.at("address").get<std::string>();
  f.state = entry.at("state").get<std::string>();
  f.progress = entry.value("progress", "");
  f.match_index = entry.at("match_index").get<uint64_t>();
  f.lag = entry.at("lag").get<uint64_t>();
  if (entry.contains("last_contact_ms") && entry["last_contact_ms"].is_number()) {
    f.last_contact_ms = entry["last_contact_ms"].get<int64_t>();
  }
  f.reachable = entry.value("reachable", true);
  f.failures = entry.value("failures", uint64_t{0});
  if (entry.contains("snapshot") && entry["snapshot"].is_object()) {
    f.snapshot_index = entry["snapshot"].at("index").get<uint64_t>();
    f.snapshot_offset_bytes = entry["snapshot"].value("offset_bytes", uint64_t{0});
  }
  return f;
}

std::string format_follower_line(const FollowerSync& f, size_t state_width, size_t index_width) {
  // The reference pads "(state)" to 12 columns: "127.0.0.1:8081 (healthy)    - Last ...".
  std::string state = "(" + f.state + ")";
  state.resize(std::max({state.size(), state_width + 2, size_t{12}}), ' ');
  std::string index = u64(f.match_index);
  index.resize(std::max(index.size(), index_width), ' ');
  std::string line = f.address + " " + state + " - Last replicated: " + index +
                     " | Lag: " + u64(f.lag) + " | Progress: " + f.progress + " | Contact: ";
  if (!f.last_contact_ms) {
    line += "never";
  } else if (*f.last_contact_ms < 10000) {
    line += std::to_string(*f.last_contact_ms) + " ms ago";
  } else {
    line += std::to_string(*f.last_contact_ms / 1000) + " s ago";
  }
  line += " | Failures: " + u64(f.failures);
  if (!f.reachable) line += " | unreachable";
  if (f.snapshot_index) {
    line += " | Snapshot: index " + u64(*f.snapshot_index) + ", " +
            format_bytes(f.snapshot_offset_bytes) + " sent";
  }
  return line;
}

std::vector<std::string> SyncStatus::unhealthy() const {
  std::vector<std::string> out;
  for (const FollowerSync& f : followers) {
    if (f.state != "healthy") out.push_back(f.address + " (" + f.state + ")");
  }
  return out;
}

SyncStatus fetch_sync_status(ApiClient& client, std::optional<common::Endpoint> hint,
                             std::chrono::milliseconds leader_wait) {
  for (int attempt = 0;; ++attempt) {
    const FoundLeader leader = discover_leader(client, hint, leader_wait);
    const ApiResponse answer = client.get(leader.endpoint, "/_raft/sync-status", 5s);
    if (is_not_leader(answer) && attempt < kLeaderChangesMax) {
      hint = named_leader(answer).value_or(leader.endpoint);
      continue;
    }
    if (answer.status != 200) {
      environment_failure("GET " + node_url(leader.endpoint) +
                          "/_raft/sync-status: " + answer.describe());
    }
    SyncStatus out{leader.endpoint, answer.json(), {}};
    try {
      for (const Json& entry : out.body.at("followers")) {
        out.followers.push_back(FollowerSync::from_json(entry));
      }
    } catch (const std::exception& e) {
      environment_failure("unexpected /_raft/sync-status answer from " +
                          leader.endpoint.to_string() + ": " + e.what());
    }
    return out;
  }
}

// ---- cluster resync ------------------------------------------------------------------------

std::optional<Json> resync_stats(ApiClient& client, const common::Endpoint& node) {
  return client.get_json(node, "/_raft/resync_stats", 1s);
}

uint64_t resync_counter(const std::optional<Json>& stats, const char* name) {
  if (!stats || !stats->contains(name) || !(*stats)[name].is_number_unsigned()) return 0;
  return (*stats)[name].get<uint64_t>();
}

ResyncStart start_resync(ApiClient& client, std::optional<common::Endpoint> hint,
                         const common::Endpoint& target) {
  const std::string path = "/_raft/force-resync?target=" + target.to_string();
  for (int attempt = 0;; ++attempt) {
    const FoundLeader leader = discover_leader(client, hint, kResyncLeaderWait);
    const uint64_t sent_before =
        resync_counter(resync_stats(client, leader.endpoint), "snapshots_sent");
    // The leader takes a fresh snapshot before it answers: allow for a large state.
    // An admin route: the token `cluster start` wrote (cluster_secrets.h).
    const ApiResponse answer =
        client.call(leader.endpoint, http::verb::post, path, {}, 30s, admin_auth_headers());
    if (answer.ok()) return {leader.endpoint, answer.json(), sent_before};
    if (is_not_leader(answer) && attempt < kLeaderChangesMax) {
      hint = named_leader(answer).value_or(leader.endpoint);
      continue;
    }
    const std::string what = "POST " + node_url(leader.endpoint) + path + ": " + answer.describe();
    if (answer.status == 400) invalid_input(what);
    if (answer.status == 401 || answer.status == 403) {
      environment_failure(what + " (the admin token in " + data_root().string() +
                          "/admin-token is missing or not this cluster's)");
    }
    if (answer.status == 0) environment_failure(what);
    check_failed(what);
  }
}

ResyncOutcome await_resync(ApiClient& client, const ResyncStart& start,
                           const common::Endpoint& target, const std::optional<Json>& target_before,
                           Clock::time_point started, std::chrono::milliseconds timeout) {
  ResyncOutcome r;
  // The snapshot the leader took for this resync: the follower must hold at least that much.
  r.snapshot_index = snapshot_index_of(resync_stats(client, start.leader));
  r.wait =
      wait_resynced(client, start.leader, target, r.snapshot_index, start.sent_before, timeout);
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  r.leader_stats = resync_stats(client, start.leader);
  r.target_stats = resync_stats(client, target);
  if (target_before && r.target_stats) {
    const auto grew = [&](const char* name) {
      return resync_counter(r.target_stats, name) > resync_counter(target_before, name);
    };
    r.installed = grew("snapshots_received") || grew("snapshots_reinstalled");
    r.refused = grew("snapshots_refused");
  }
  return r;
}

}  // namespace bombarder
