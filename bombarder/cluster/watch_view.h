// What `watch` shows each round (issue 4 "Verify and watch"): per node its role, term, commit
// and applied index, lag behind the leader's commit index, entries and writes per second, and
// whether it answers. Pure: built from two consecutive surveys, rendered as text or JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/client/api_client.h"

namespace bombarder {

struct WatchRow {
  std::string address;  // "host:port"
  std::optional<StatusResponse> status;
  std::string error;  // when status is missing
  uint64_t lag = 0;   // the leader's commit index minus this node's applied index, at least 0
  // Applied-index growth per second since the previous round; nullopt on the first round or
  // when the node did not answer in both.
  std::optional<double> writes_per_s;
};

struct WatchRound {
  uint64_t round = 0;  // 1, 2, ...
  std::string time;    // UTC, ISO 8601
  std::string leader;  // "host:port" or "" when none is known
  std::optional<uint64_t> leader_id;
  uint64_t term = 0;                   // the leader's, else the highest seen
  uint64_t leader_commit = 0;          // the leader's commit index, else the highest seen
  std::optional<double> writes_per_s;  // growth of leader_commit per second
  std::vector<WatchRow> rows;
  [[nodiscard]] size_t reachable() const;
};

// `previous` is the round before (nullptr on the first), `elapsed_s` the time between the two
// surveys (ignored when not positive).
[[nodiscard]] WatchRound make_watch_round(const ClusterView& view, const WatchRound* previous,
                                          double elapsed_s, uint64_t round, std::string time);

// A summary line and an aligned table, one string per line.
[[nodiscard]] std::vector<std::string> render_watch_round(const WatchRound& round);
// One JSON object, printed by `watch --json` on a line of its own.
[[nodiscard]] Json watch_round_json(const WatchRound& round);

}  // namespace bombarder
