#include "bombarder/cluster/cluster_inspect.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_leader.h"
#include "bombarder/cluster/cluster_record.h"
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

std::chrono::milliseconds seconds_flag(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

std::string u64(uint64_t value) { return std::to_string(value); }

std::optional<common::Endpoint> optional_url(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_node_url(text);
}

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

// ---- cluster status ------------------------------------------------------------------------

Json status_json(const ClusterView::Node& node) {
  Json row = {{"address", node.endpoint.to_string()},
              {"url", node_url(node.endpoint)},
              {"reachable", node.status.has_value()}};
  if (!node.status) {
    row["error"] = node.error;
    return row;
  }
  const StatusResponse& s = *node.status;
  row.update({{"node_id", s.node_id},
              {"role", s.role},
              {"term", s.term},
              {"leader", s.leader.empty() ? Json(nullptr) : Json(s.leader)},
              {"commit_index", s.commit_index},
              {"applied_index", s.applied_index},
              {"last_index", s.last_index},
              {"entry_count", s.entry_count},
              {"state_hash", s.state_hash},
              {"state_hash_index", s.state_hash_index},
              {"snapshot_index", s.snapshot_index},
              {"uptime_s", s.uptime_s}});
  return row;
}

std::string hash_summary(const ClusterView& view, const HashAgreement& hashes) {
  if (!hashes.agree()) return "state hashes: DIFFER (" + hashes.disagreements.front() + ")";
  if (view.reachable() < 2) return "state hashes: fewer than two nodes answer, nothing to compare";
  if (hashes.compared_at.empty()) {
    return "state hashes: not comparable right now (no two nodes at the same applied index)";
  }
  std::string at;
  for (uint64_t index : hashes.compared_at) at += (at.empty() ? "" : ", ") + u64(index);
  return "state hashes: identical at applied index " + at;
}

// ---- cluster sync-status -------------------------------------------------------------------

struct SyncAnswer {
  common::Endpoint leader;
  Json body;
  std::vector<FollowerSync> followers;
};

// GET /_raft/sync-status from the leader, following leader changes a bounded number of times.
SyncAnswer fetch_sync_status(ApiClient& client, std::optional<common::Endpoint> hint,
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
    SyncAnswer out{leader.endpoint, answer.json(), {}};
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

std::vector<std::string> follower_lines(const std::vector<FollowerSync>& followers) {
  size_t state_width = 0;
  size_t index_width = 0;
  for (const FollowerSync& f : followers) {
    state_width = std::max(state_width, f.state.size());
    index_width = std::max(index_width, u64(f.match_index).size());
  }
  std::vector<std::string> lines;
  for (const FollowerSync& f : followers) {
    lines.push_back(format_follower_line(f, state_width, index_width));
  }
  return lines;
}

std::string leader_line(const SyncAnswer& sync) {
  return "leader " + node_url(sync.leader) + " (node " +
         sync.body.value("leader_id", Json(nullptr)).dump() + "), term " +
         sync.body.value("term", Json(0)).dump() + ", commit " +
         sync.body.value("commit_index", Json(0)).dump() + ", last index " +
         sync.body.value("last_index", Json(0)).dump();
}

// ---- cluster resync ------------------------------------------------------------------------

// Short: a stopped target must not hold the resync up (its counters are only informative).
std::optional<Json> resync_stats(ApiClient& client, const common::Endpoint& node) {
  return client.get_json(node, "/_raft/resync_stats", 1s);
}

uint64_t counter(const std::optional<Json>& stats, const char* name) {
  if (!stats || !stats->contains(name) || !(*stats)[name].is_number_unsigned()) return 0;
  return (*stats)[name].get<uint64_t>();
}

struct ResyncStart {
  common::Endpoint leader;
  Json answer;
  uint64_t sent_before = 0;  // the leader's snapshots_sent just before the request
};

// POST /_raft/force-resync to the leader; a 400 is the user's mistake (exit 2), a refusal for
// another reason a failed action (exit 1), no leader an environment problem (exit 3).
ResyncStart start_resync(ApiClient& client, std::optional<common::Endpoint> hint,
                         const common::Endpoint& target) {
  const std::string path = "/_raft/force-resync?target=" + target.to_string();
  for (int attempt = 0;; ++attempt) {
    const FoundLeader leader = discover_leader(client, hint, kResyncLeaderWait);
    const uint64_t sent_before = counter(resync_stats(client, leader.endpoint), "snapshots_sent");
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

struct ResyncWait {
  bool healthy = false;
  std::optional<FollowerSync> follower;  // as last seen
  std::string why;                       // when not healthy
};

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
        const bool sent = counter(resync_stats(client, leader), "snapshots_sent") > sent_before;
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

std::string stats_line(const char* who, const std::optional<Json>& stats) {
  if (!stats) return std::string(who) + ": resync_stats unavailable";
  std::string line =
      std::string(who) + ": snapshots sent " + u64(counter(stats, "snapshots_sent")) + " (" +
      format_bytes(counter(stats, "snapshot_bytes_sent")) + "), received " +
      u64(counter(stats, "snapshots_received")) + " (" +
      format_bytes(counter(stats, "snapshot_bytes_received")) + "), forced resyncs " +
      u64(counter(stats, "forced_resyncs")) + ", failures " + u64(counter(stats, "failures"));
  if (stats->contains("current_snapshot") && (*stats)["current_snapshot"].is_object()) {
    line += ", snapshot at index " + (*stats)["current_snapshot"].value("index", Json(0)).dump();
  }
  return line;
}

}  // namespace

// ---- shared helpers ------------------------------------------------------------------------

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

// ---- the commands --------------------------------------------------------------------------

namespace {

// What `cluster status` judges: reachability, the leader, the state hashes.
struct ClusterHealth {
  HashAgreement hashes;
  size_t unreachable = 0;
  std::vector<std::string> problems;
  [[nodiscard]] bool healthy() const { return problems.empty(); }
};

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

void print_status_json(const ClusterView& view, const ClusterHealth& health,
                       const std::optional<ProxyRecord>& proxy) {
  Json rows = Json::array();
  for (const ClusterView::Node& node : view.nodes) rows.push_back(status_json(node));
  Json leader = nullptr;
  if (view.leader) {
    const StatusResponse& s = *view.nodes[*view.leader].status;
    leader = {{"id", s.node_id}, {"address", view.leader_address}, {"term", s.term}};
  } else if (!view.leader_address.empty()) {
    leader = {{"id", nullptr}, {"address", view.leader_address}, {"term", nullptr}};
  }
  Json out = {{"nodes", std::move(rows)},
              {"leader", std::move(leader)},
              {"reachable", view.reachable()},
              {"unreachable", health.unreachable},
              {"hashes",
               {{"agree", health.hashes.agree()},
                {"compared_at", health.hashes.compared_at},
                {"disagreements", health.hashes.disagreements}}},
              {"healthy", health.healthy()},
              {"problems", health.problems}};
  if (proxy) out["proxy"] = {{"api", "http://" + proxy->api.to_string()}, {"pid", proxy->pid}};
  std::cout << out.dump(2) << std::endl;
}

void print_status_table(const ClusterView& view) {
  TextTable table({{"id", TextTable::Align::kRight},
                   {"address"},
                   {"role"},
                   {"term", TextTable::Align::kRight},
                   {"leader"},
                   {"commit", TextTable::Align::kRight},
                   {"applied", TextTable::Align::kRight},
                   {"entries", TextTable::Align::kRight},
                   {"state hash"},
                   {"uptime", TextTable::Align::kRight},
                   {"note"}});
  for (const ClusterView::Node& node : view.nodes) {
    if (!node.status) {
      table.add_row({"-", node_url(node.endpoint), "unreachable", "-", "-", "-", "-", "-", "-", "-",
                     node.error});
      continue;
    }
    const StatusResponse& s = *node.status;
    table.add_row(
        {u64(s.node_id), node_url(node.endpoint), s.role, u64(s.term),
         s.leader.empty() ? "-" : s.leader, u64(s.commit_index), u64(s.applied_index),
         u64(s.entry_count), s.state_hash, format_uptime(s.uptime_s),
         s.state_hash_index == s.applied_index ? "" : "hash at index " + u64(s.state_hash_index)});
  }
  std::fputs(table.render().c_str(), stdout);
}

void print_status_text(const ClusterView& view, const ClusterHealth& health,
                       const std::optional<ProxyRecord>& proxy) {
  print_status_table(view);
  if (view.leader) {
    const StatusResponse& s = *view.nodes[*view.leader].status;
    std::printf("leader: node %s at %s (term %s)\n", u64(s.node_id).c_str(),
                node_url(view.nodes[*view.leader].endpoint).c_str(), u64(s.term).c_str());
  } else if (!view.leader_address.empty()) {
    std::printf("leader: %s (named by the nodes, not among those asked)\n",
                view.leader_address.c_str());
  } else {
    std::printf("leader: none (an election in progress, or no quorum)\n");
  }
  std::printf("%s\n", hash_summary(view, health.hashes).c_str());
  if (proxy) {
    std::printf("fault proxy: Toxiproxy API at %s (node<i>-client, link-<i>-to-<j>)\n",
                ("http://" + proxy->api.to_string()).c_str());
  }
  if (health.healthy()) {
    std::printf("cluster: healthy\n");
  } else {
    std::string text;
    for (const std::string& p : health.problems) text += (text.empty() ? "" : "; ") + p;
    std::printf("cluster: NOT HEALTHY: %s\n", text.c_str());
  }
}

}  // namespace

bool run_cluster_status(const StatusFlags& flags) {
  const std::vector<common::Endpoint> nodes =
      flags.nodes.empty() ? default_nodes() : parse_node_list(flags.nodes);
  ApiClient client;
  const ClusterView view = survey(client, nodes, 2s);
  if (view.reachable() == 0) {
    environment_failure("no node answers /status (" + view.nodes[0].endpoint.to_string() + ": " +
                        view.nodes[0].error + (nodes.size() > 1 ? "; ..." : "") +
                        "); is a cluster running? (`bombarder cluster start`)");
  }
  const ClusterHealth health = assess_health(view);
  // `cluster start --proxied`: where faults are injected (only for the recorded cluster).
  std::optional<ProxyRecord> proxy;
  if (flags.nodes.empty()) {
    if (auto record = load_cluster_record()) proxy = record->proxy;
  }
  if (flags.json) {
    print_status_json(view, health, proxy);
  } else {
    print_status_text(view, health, proxy);
  }
  return health.healthy();
}

bool run_cluster_sync_status(const SyncStatusFlags& flags) {
  if (!(flags.wait_s >= 0)) invalid_input("--wait must not be negative");
  const std::optional<common::Endpoint> hint = optional_url(flags.leader);
  ApiClient client;
  const SyncAnswer sync = fetch_sync_status(client, hint, seconds_flag(flags.wait_s));
  std::vector<std::string> unhealthy;
  for (const FollowerSync& f : sync.followers) {
    if (f.state != "healthy") unhealthy.push_back(f.address + " (" + f.state + ")");
  }
  if (flags.json) {
    Json out = sync.body;
    out["leader_url"] = node_url(sync.leader);
    out["all_healthy"] = unhealthy.empty();
    std::cout << out.dump(2) << std::endl;
    return unhealthy.empty();
  }
  std::printf("%s\n", leader_line(sync).c_str());
  for (const std::string& line : follower_lines(sync.followers)) {
    std::printf("  %s\n", line.c_str());
  }
  if (sync.followers.empty()) {
    std::printf("no followers (a single-node cluster)\n");
  } else if (unhealthy.empty()) {
    std::printf("all %zu followers healthy\n", sync.followers.size());
  } else {
    std::string list;
    for (const std::string& u : unhealthy) list += (list.empty() ? "" : ", ") + u;
    std::printf("%zu of %zu followers NOT healthy: %s\n", unhealthy.size(), sync.followers.size(),
                list.c_str());
  }
  return unhealthy.empty();
}

namespace {

// What a finished resync left behind: the counters after, and whether the target installed or
// refused the snapshot (unknown when its counters could not be read before or after).
struct ResyncOutcome {
  ResyncWait wait;
  double elapsed_s = 0;
  uint64_t snapshot_index = 0;
  std::optional<Json> leader_stats;
  std::optional<Json> target_stats;
  std::optional<bool> installed;
  std::optional<bool> refused;
};

void print_resync_json(Json out, const ResyncOutcome& r) {
  out["healthy"] = r.wait.healthy;
  out["elapsed_s"] = r.elapsed_s;
  out["snapshot_index"] = r.snapshot_index;
  out["installed"] = r.installed ? Json(*r.installed) : Json(nullptr);
  if (r.wait.follower) {
    out["follower"] = {{"state", r.wait.follower->state},
                       {"progress", r.wait.follower->progress},
                       {"match_index", r.wait.follower->match_index},
                       {"lag", r.wait.follower->lag}};
  }
  if (!r.wait.healthy) out["why"] = r.wait.why;
  out["leader_stats"] = r.leader_stats.value_or(Json(nullptr));
  out["target_stats"] = r.target_stats.value_or(Json(nullptr));
  std::cout << out.dump(2) << std::endl;
}

void print_resync_text(const common::Endpoint& target, const ResyncOutcome& r) {
  if (r.wait.follower) std::printf("  %s\n", follower_lines({*r.wait.follower}).front().c_str());
  std::printf("%s\n", stats_line("leader", r.leader_stats).c_str());
  std::printf("%s\n", stats_line("target", r.target_stats).c_str());
  const std::string index = u64(r.snapshot_index);
  if (r.installed && *r.installed) {
    std::printf("the target installed the snapshot (index %s)\n", index.c_str());
  } else if (r.refused && *r.refused) {
    std::printf(
        "the target refused the snapshot (index %s): its log is compacted past it; it "
        "already holds everything the snapshot holds\n",
        index.c_str());
  } else if (r.installed) {
    std::printf("the target did not install the snapshot (index %s)\n", index.c_str());
  }
  if (r.wait.healthy) {
    std::printf("resync of %s done: healthy after %.1f s\n", target.to_string().c_str(),
                r.elapsed_s);
  }
}

// Waits until the target holds the leader's resync snapshot, and reads what it did.
ResyncOutcome await_resync(ApiClient& client, const ResyncStart& start,
                           const common::Endpoint& target, const std::optional<Json>& target_before,
                           Clock::time_point started, double timeout_s) {
  ResyncOutcome r;
  // The snapshot the leader took for this resync: the follower must hold at least that much.
  r.snapshot_index = snapshot_index_of(resync_stats(client, start.leader));
  r.wait = wait_resynced(client, start.leader, target, r.snapshot_index, start.sent_before,
                         seconds_flag(timeout_s));
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  r.leader_stats = resync_stats(client, start.leader);
  r.target_stats = resync_stats(client, target);
  if (target_before && r.target_stats) {
    const auto grew = [&](const char* name) {
      return counter(r.target_stats, name) > counter(target_before, name);
    };
    r.installed = grew("snapshots_received") || grew("snapshots_reinstalled");
    r.refused = grew("snapshots_refused");
  }
  return r;
}

}  // namespace

void run_cluster_resync(const ResyncFlags& flags) {
  if (flags.target.empty()) invalid_input("--target ADDR is required");
  const common::Endpoint target = parse_node_url(flags.target);
  if (!(flags.timeout_s > 0)) invalid_input("--timeout must be positive");
  const std::optional<common::Endpoint> hint = optional_url(flags.leader);
  ApiClient client;
  const std::optional<Json> target_before = resync_stats(client, target);
  const auto started = Clock::now();
  const ResyncStart start = start_resync(client, hint, target);
  const std::string target_id = start.answer.value("target_id", Json(nullptr)).dump();
  if (!flags.json) {
    std::printf("leader %s: %s to node %s (%s)\n", node_url(start.leader).c_str(),
                start.answer.value("status", "accepted").c_str(), target_id.c_str(),
                target.to_string().c_str());
  }
  Json out = {{"leader", start.leader.to_string()},
              {"target", target.to_string()},
              {"answer", start.answer},
              {"waited", !flags.no_wait}};
  if (flags.no_wait) {
    if (flags.json) std::cout << out.dump(2) << std::endl;
    return;
  }
  const ResyncOutcome r =
      await_resync(client, start, target, target_before, started, flags.timeout_s);
  if (flags.json) {
    print_resync_json(std::move(out), r);
  } else {
    print_resync_text(target, r);
  }
  if (!r.wait.healthy) {
    char text[64];
    std::snprintf(text, sizeof text, "%.1f", flags.timeout_s);
    check_failed("resync of " + target.to_string() + " not complete after " + text +
                 " s: " + r.wait.why);
  }
}

}  // namespace bombarder
