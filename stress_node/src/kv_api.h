// The client API under /api/kv (design.md §4): JSON in and out, writes through Raft, reads
// linearizable by default (ReadIndex) or `?consistency=local`.
//
//   POST   /api/kv       {"key": s, "value": s}           201 + entry
//   GET    /api/kv       ?limit=1..10000 (100) &after=ID &key=K &consistency=local
//                        200 + JSON array of entries in ascending id order; header
//                        X-Total-Count = entries on this node. Next page: after=<last id>.
//   GET    /api/kv/:id                                    200 + entry, 404
//   PUT    /api/kv/:id   {"value": s, "key"?: s}          200 + entry, 404
//   DELETE /api/kv/:id                                    204, 404
//
// Writes carry `Idempotency-Key` into the command, with this node's clock stamp and the
// idempotency TTL and table bound (kv/state_machine.h): a retry of the same request within the
// TTL answers the original result (same status and body, header Idempotent-Replayed: true);
// the same key on a different request (operation, id or body) answers 422
// idempotency_key_reused, decided by the state machine. A write that reaches a follower is
// forwarded once to the leader's address with header X-Forwarded-By: <our id>, and the leader's
// answer is relayed; a forwarded write that lands on a non-leader again answers 503 (no forwarding
// loops). Successful writes carry X-Raft-Index: the log index of the entry that decided them.
//
// Outcomes: no leader / busy / lost / leader unreachable -> 503 with Retry-After: 1 and
// "leader" (address) when known; commit not confirmed in time -> 504
// {"error":"commit_timeout","message":"outcome unknown"}; a write pending when the node stops
// -> 504 {"error":"shutting_down"} (it may still commit under the next leader); a forward
// the leader did not answer in time -> 504 {"error":"forward_timeout"}. Reads, and writes the
// stopping node never proposed -> 503 {"error":"shutting_down"} (safe to retry elsewhere).
//
// Threads: handlers run on the io_context thread; RaftNode completions are posted back to it.
// KvApi must outlive the RaftNode's pending requests (stop the node first).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/asio.h"
#include "common/endpoint.h"
#include "common/http_client.h"
#include "http_server.h"
#include "kv/codec.h"
#include "metrics.h"
#include "raft_node.h"

namespace stress_node {

inline constexpr size_t kListLimitDefault = 100;
inline constexpr std::string_view kForwardedByHeader = "X-Forwarded-By";
inline constexpr std::string_view kIdempotencyKeyHeader = "Idempotency-Key";

struct KvApiOptions {
  raft::NodeId self_id = 0;
  std::map<raft::NodeId, common::Endpoint> members;  // every member's client address
  std::chrono::milliseconds forward_timeout{6000};   // > the leader's commit timeout
  // Idempotency policy stamped into the commands this node proposes (--idempotency-ttl,
  // --idempotency-table-bytes).
  std::chrono::milliseconds idempotency_ttl{kv::kIdempotencyTtlMsDefault};
  uint64_t idempotency_table_bytes_max = kv::kIdempotencyTableBytesMaxDefault;
};

class KvApi {
 public:
  KvApi(boost::asio::io_context& io, RaftNode& node, common::HttpClientPool& pool,
        Registry& metrics, KvApiOptions options);
  void register_routes(Router& router);

 private:
  void create(Request request, Respond respond);
  void update(Request request, Respond respond);
  void remove(Request request, Respond respond);
  void get_one(Request request, Respond respond);
  void list(Request request, Respond respond);

  void propose(kv::Command command, Request request, Respond respond);
  void on_write_done(const WriteOutcome& outcome, Request request, Respond respond);
  void forward(raft::NodeId leader, Request request, Respond respond);
  // Runs `serve` once reading is linearizable (or at once for ?consistency=local).
  void read(const Request& request, Respond respond, std::function<void(Respond)> serve);
  [[nodiscard]] Response unavailable(Outcome outcome, raft::NodeId leader) const;
  [[nodiscard]] nlohmann::ordered_json leader_fields(raft::NodeId leader) const;

  boost::asio::io_context& io_;
  RaftNode& node_;
  common::HttpClientPool& pool_;
  // Resolved once (metrics.h): raft_append_latency_seconds, http_forwarded_total.
  LatencyHistogram& append_latency_;
  prometheus::Counter& forwarded_;
  const KvApiOptions options_;
  std::mt19937_64 rng_;  // UUIDs; io_context thread only
};

// --- pure helpers, exposed for tests ---

struct CreateBody {
  std::string key;
  std::string value;
};
struct UpdateBody {
  std::string value;
  std::optional<std::string> key;
};
// Strict parsing: a JSON object with the required fields as strings within libkv's bounds
// (other fields are ignored). On failure nullopt and a precise message in *error.
[[nodiscard]] std::optional<CreateBody> parse_create_body(std::string_view body,
                                                          std::string* error);
[[nodiscard]] std::optional<UpdateBody> parse_update_body(std::string_view body,
                                                          std::string* error);

struct ListQuery {
  size_t limit = kListLimitDefault;
  std::string after;               // "" = from the start
  std::optional<std::string> key;  // lookup through the index
};
[[nodiscard]] std::optional<ListQuery> parse_list_query(const Request& request, std::string* error);
// ?consistency= absent, "linearizable" or "strong" -> false; "local" -> true; else error.
[[nodiscard]] std::optional<bool> parse_local_read(const Request& request, std::string* error);

// Lowercase canonical UUID text, or nullopt if `text` is not a UUID (any case accepted).
[[nodiscard]] std::optional<std::string> normalize_id(std::string_view text);
// A random (version 4, variant 1) UUID in canonical lowercase text.
[[nodiscard]] std::string new_uuid_v4(std::mt19937_64& rng);
// "2026-11-22T03:55:01.123456Z" (RFC 3339, UTC, microseconds).
[[nodiscard]] std::string format_rfc3339_us(int64_t unix_us);
// {"id","key","value","seq","source_node","created_at"}
[[nodiscard]] nlohmann::ordered_json entry_to_json(const kv::KvEntry& entry);

}  // namespace stress_node
