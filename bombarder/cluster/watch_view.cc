#include "bombarder/cluster/watch_view.h"

#include <algorithm>

#include "bombarder/cluster/cluster_table.h"

namespace bombarder {

namespace {

const WatchRow* find_row(const WatchRound* round, const std::string& address) {
  if (round == nullptr) return nullptr;
  for (const WatchRow& row : round->rows) {
    if (row.address == address) return &row;
  }
  return nullptr;
}

std::optional<double> rate(uint64_t now, uint64_t before, double elapsed_s) {
  if (!(elapsed_s > 0) || now < before) return std::nullopt;
  return static_cast<double>(now - before) / elapsed_s;
}

std::string u64(uint64_t value) { return std::to_string(value); }

}  // namespace

size_t WatchRound::reachable() const {
  return static_cast<size_t>(std::count_if(rows.begin(), rows.end(),
                                           [](const WatchRow& r) { return r.status.has_value(); }));
}

WatchRound make_watch_round(const ClusterView& view, const WatchRound* previous, double elapsed_s,
                            uint64_t round, std::string time) {
  WatchRound out;
  out.round = round;
  out.time = std::move(time);
  out.leader = view.leader_address;
  if (view.leader) {
    const StatusResponse& leader = *view.nodes[*view.leader].status;
    out.leader_id = leader.node_id;
    out.term = leader.term;
    out.leader_commit = leader.commit_index;
  } else {
    for (const ClusterView::Node& node : view.nodes) {
      if (!node.status) continue;
      out.term = std::max(out.term, node.status->term);
      out.leader_commit = std::max(out.leader_commit, node.status->commit_index);
    }
  }
  if (previous != nullptr && previous->reachable() > 0 && !view.nodes.empty() &&
      view.reachable() > 0) {
    out.writes_per_s = rate(out.leader_commit, previous->leader_commit, elapsed_s);
  }
  for (const ClusterView::Node& node : view.nodes) {
    WatchRow row;
    row.address = node.endpoint.to_string();
    row.status = node.status;
    row.error = node.error;
    if (node.status) {
      const uint64_t applied = node.status->applied_index;
      row.lag = out.leader_commit > applied ? out.leader_commit - applied : 0;
      const WatchRow* before = find_row(previous, row.address);
      if (before != nullptr && before->status) {
        row.writes_per_s = rate(applied, before->status->applied_index, elapsed_s);
      }
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

std::vector<std::string> render_watch_round(const WatchRound& round) {
  std::string summary = round.time + "  ";
  if (round.leader.empty()) {
    summary += "leader: none";
  } else {
    summary += "leader: " + round.leader;
    if (round.leader_id) summary += " (node " + u64(*round.leader_id) + ")";
  }
  summary += "  term " + u64(round.term) + "  commit " + u64(round.leader_commit) + "  writes/s " +
             (round.writes_per_s ? format_rate(*round.writes_per_s) : "-") + "  nodes up " +
             u64(round.reachable()) + "/" + u64(round.rows.size());
  TextTable table({{"id", TextTable::Align::kRight},
                   {"address"},
                   {"role"},
                   {"term", TextTable::Align::kRight},
                   {"commit", TextTable::Align::kRight},
                   {"applied", TextTable::Align::kRight},
                   {"lag", TextTable::Align::kRight},
                   {"entries", TextTable::Align::kRight},
                   {"writes/s", TextTable::Align::kRight},
                   {"note"}});
  for (const WatchRow& row : round.rows) {
    if (!row.status) {
      table.add_row({"-", row.address, "DOWN", "-", "-", "-", "-", "-", "-", row.error});
      continue;
    }
    const StatusResponse& s = *row.status;
    table.add_row({u64(s.node_id), row.address, s.role, u64(s.term), u64(s.commit_index),
                   u64(s.applied_index), u64(row.lag), u64(s.entry_count),
                   row.writes_per_s ? format_rate(*row.writes_per_s) : "-", ""});
  }
  std::vector<std::string> lines = {summary};
  for (std::string& line : table.lines()) lines.push_back(std::move(line));
  return lines;
}

Json watch_round_json(const WatchRound& round) {
  Json nodes = Json::array();
  for (const WatchRow& row : round.rows) {
    Json node = {{"address", row.address}, {"reachable", row.status.has_value()}};
    if (row.status) {
      const StatusResponse& s = *row.status;
      node.update({{"node_id", s.node_id},
                   {"role", s.role},
                   {"term", s.term},
                   {"commit_index", s.commit_index},
                   {"applied_index", s.applied_index},
                   {"lag", row.lag},
                   {"entry_count", s.entry_count},
                   {"writes_per_s", row.writes_per_s ? Json(*row.writes_per_s) : Json(nullptr)}});
    } else {
      node["error"] = row.error;
    }
    nodes.push_back(std::move(node));
  }
  return {{"round", round.round},
          {"time", round.time},
          {"leader", round.leader.empty() ? Json(nullptr) : Json(round.leader)},
          {"leader_id", round.leader_id ? Json(*round.leader_id) : Json(nullptr)},
          {"term", round.term},
          {"commit_index", round.leader_commit},
          {"writes_per_s", round.writes_per_s ? Json(*round.writes_per_s) : Json(nullptr)},
          {"reachable", round.reachable()},
          {"nodes", std::move(nodes)}};
}

}  // namespace bombarder
