// `cluster status`, `cluster sync-status` and `cluster resync`: what cluster/cluster_inspect.h
// finds out, printed (a table or --json), and the exit code it earns. The flags are declared in
// cluster_command.cc.
#include <cstdio>
#include <iostream>

#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_inspect.h"
#include "bombarder/cluster/cluster_table.h"
#include "bombarder/commands/cluster_command.h"
#include "bombarder/commands/exit_codes.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds seconds_flag(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

std::string u64(uint64_t value) { return std::to_string(value); }

std::optional<common::Endpoint> optional_url(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_node_url(text);
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
              {"state_hash", s.state_hash_index ? Json(s.state_hash) : Json(nullptr)},
              {"state_hash_index", s.state_hash_index ? Json(*s.state_hash_index) : Json(nullptr)},
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

Json sentinels_json(const std::vector<SentinelView>& sentinels) {
  Json out = Json::array();
  for (const SentinelView& s : sentinels) {
    out.push_back({{"id", s.sentinel.id},
                   {"address", s.sentinel.endpoint.to_string()},
                   {"pid", s.sentinel.pid},
                   {"running", s.running},
                   {"primary", s.primary.empty() ? Json(nullptr) : Json(s.primary)}});
    if (s.primary.empty()) out.back()["error"] = s.error;
  }
  return out;
}

void print_sentinels(const std::vector<SentinelView>& sentinels) {
  for (const SentinelView& s : sentinels) {
    std::printf("sentinel %s (pid %d): %s\n", s.sentinel.endpoint.to_string().c_str(),
                static_cast<int>(s.sentinel.pid),
                !s.running          ? "not running"
                : s.primary.empty() ? ("no answer: " + s.error).c_str()
                                    : ("names " + s.primary + " as the primary").c_str());
  }
}

void print_status_json(const ClusterView& view, const ClusterHealth& health,
                       const std::optional<ProxyRecord>& proxy,
                       const std::vector<SentinelView>& sentinels) {
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
  if (!sentinels.empty()) out["sentinels"] = sentinels_json(sentinels);
  std::cout << out.dump(2) << std::endl;
}

// The status table's note on a node whose hash does not describe its applied index.
std::string hash_note(const StatusResponse& s) {
  if (!s.state_hash_index) return "hash not computed yet";
  return *s.state_hash_index == s.applied_index ? "" : "hash at index " + u64(*s.state_hash_index);
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
    table.add_row({u64(s.node_id), node_url(node.endpoint), s.role, u64(s.term),
                   s.leader.empty() ? "-" : s.leader, u64(s.commit_index), u64(s.applied_index),
                   u64(s.entry_count), s.state_hash_index ? s.state_hash : "-",
                   format_uptime(s.uptime_s), hash_note(s)});
  }
  std::fputs(table.render().c_str(), stdout);
}

void print_status_text(const ClusterView& view, const ClusterHealth& health,
                       const std::optional<ProxyRecord>& proxy,
                       const std::vector<SentinelView>& sentinels) {
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
  print_sentinels(sentinels);
  if (health.healthy()) {
    std::printf("cluster: healthy\n");
  } else {
    std::string text;
    for (const std::string& p : health.problems) text += (text.empty() ? "" : "; ") + p;
    std::printf("cluster: NOT HEALTHY: %s\n", text.c_str());
  }
}

// ---- cluster sync-status -------------------------------------------------------------------

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

std::string leader_line(const SyncStatus& sync) {
  return "leader " + node_url(sync.leader) + " (node " +
         sync.body.value("leader_id", Json(nullptr)).dump() + "), term " +
         sync.body.value("term", Json(0)).dump() + ", commit " +
         sync.body.value("commit_index", Json(0)).dump() + ", last index " +
         sync.body.value("last_index", Json(0)).dump();
}

// ---- cluster resync ------------------------------------------------------------------------

std::string stats_line(const char* who, const std::optional<Json>& stats) {
  if (!stats) return std::string(who) + ": resync_stats unavailable";
  std::string line = std::string(who) + ": snapshots sent " +
                     u64(resync_counter(stats, "snapshots_sent")) + " (" +
                     format_bytes(resync_counter(stats, "snapshot_bytes_sent")) + "), received " +
                     u64(resync_counter(stats, "snapshots_received")) + " (" +
                     format_bytes(resync_counter(stats, "snapshot_bytes_received")) +
                     "), forced resyncs " + u64(resync_counter(stats, "forced_resyncs")) +
                     ", failures " + u64(resync_counter(stats, "failures"));
  if (stats->contains("current_snapshot") && (*stats)["current_snapshot"].is_object()) {
    line += ", snapshot at index " + (*stats)["current_snapshot"].value("index", Json(0)).dump();
  }
  return line;
}

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

}  // namespace

int cluster_status_command(const StatusFlags& flags) {
  const ClusterStatus status = inspect_cluster(flags.nodes);
  if (flags.json) {
    print_status_json(status.view, status.health, status.proxy, status.sentinels);
  } else {
    print_status_text(status.view, status.health, status.proxy, status.sentinels);
  }
  return status.health.healthy() ? kExitOk : kExitCheckFailed;
}

int cluster_sync_status_command(const SyncStatusFlags& flags) {
  if (!(flags.wait_s >= 0)) invalid_input("--wait must not be negative");
  const std::optional<common::Endpoint> hint = optional_url(flags.leader);
  ApiClient client;
  const SyncStatus sync = fetch_sync_status(client, hint, seconds_flag(flags.wait_s));
  const std::vector<std::string> unhealthy = sync.unhealthy();
  if (flags.json) {
    Json out = sync.body;
    out["leader_url"] = node_url(sync.leader);
    out["all_healthy"] = unhealthy.empty();
    std::cout << out.dump(2) << std::endl;
    return unhealthy.empty() ? kExitOk : kExitCheckFailed;
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
  return unhealthy.empty() ? kExitOk : kExitCheckFailed;
}

int cluster_resync_command(const ResyncFlags& flags) {
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
    return kExitOk;
  }
  const ResyncOutcome r =
      await_resync(client, start, target, target_before, started, seconds_flag(flags.timeout_s));
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
  return kExitOk;
}

}  // namespace bombarder
