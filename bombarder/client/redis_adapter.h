// The Redis adapter (store_adapter.h, issue 18): Redis 7 (Debian's redis-server) over RESP, a
// primary and its replicas as `cluster start --system redis` runs them. Requests are RESP
// commands (redis_resp.h); the load connections read one RESP reply per request
// (WireFraming::kResp) and hand it to classify() whole.
//
// Operations (the id of an entry is its key, as for etcd: Redis has no ids):
//   create  SET k v NX GET: nil = created; the old value when the key exists (refused), unless
//           it is this create's own value after an attempt that may have been applied (values
//           are unique per operation): then that attempt's success
//   update  SET k v XX: +OK = applied; nil = absent (a lost write: this run holds the id)
//   read    GETEX k: the value, or nil = absent. GETEX without options reads and changes nothing
//           (nothing is replicated or logged), but Redis counts it as a write command, which a
//           replica refuses (-READONLY): reads meant for the primary are served by the primary
//           alone, never by a replica the engine rotated to while the primary was down. With
//           --read-from replica (RedisOptions::read_from_replicas) it is GET, served by replicas.
//   delete  DEL k: :1 = deleted; :0 = absent, or outcome unknown after an attempt that may have
//           deleted it
//   list    the read's command on the lookup's key: one entry or none. Not SCAN MATCH: a SCAN call
//   is not
//           atomic and returns an arbitrary slice of the keyspace, so one call may miss a key
//           that exists (the checker would call that a violation); verify scans (redis_state.h).
// Outcomes: a reply is an answer; an error reply the store sends before doing anything
// (-READONLY from a replica, -LOADING, -MASTERDOWN, -TRYAGAIN, -BUSY, -NOREPLICAS) is
// "unavailable, not applied" and retried elsewhere; any other error (-ERR, -WRONGTYPE, -NOAUTH)
// is a final failure. Transport errors follow classify_transport: refused before sending is not
// applied; a timeout or reset after the command went out is "may have been applied".
// answer_status() gives replies HTTP's meanings for reports and the history: 200 for a reply,
// 503 for the unavailable errors, 400 for the others.
//
// Cluster facts (node_statuses): INFO replication on every node. role:master is the leader
// ("leader"), role:slave a follower; the applied position is the replication offset
// (master_repl_offset on the primary, slave_repl_offset on a replica). A replica names as its
// leader the primary among the given nodes whose master_replid it shares while its link is up
// (with `--proxied` its master_host:master_port is its link proxy, not the primary's address),
// else master_host:master_port; a replica whose link is down names none. Redis has no term: 0.
#pragma once

#include "bombarder/client/redis_resp.h"
#include "bombarder/client/store_adapter.h"

namespace bombarder {

struct RedisOptions {
  bool read_from_replicas = false;  // --read-from replica: reads are GET, which replicas serve
};

class RedisAdapter final : public StoreAdapter {
 public:
  explicit RedisAdapter(RedisOptions options = {}) : options_(options) {}
  [[nodiscard]] StoreSystem system() const override { return StoreSystem::kRedis; }
  [[nodiscard]] WireFraming wire_framing() const override { return WireFraming::kResp; }
  void format_request(const StoreRequest& request, std::string_view host,
                      std::string& wire) const override;
  [[nodiscard]] StoreAnswer classify(const StoreRequest& request, int status,
                                     const std::string& body) const override;
  [[nodiscard]] int answer_status(int status, const std::string& body) const override;
  [[nodiscard]] std::vector<NodeStatusAnswer> node_statuses(
      ApiClient& client, const std::vector<common::Endpoint>& nodes,
      std::chrono::milliseconds timeout) const override;

  // One node's facts from its INFO replication text; `index` is its position among the nodes
  // asked (its node id). Throws std::invalid_argument when the text is not a Redis node's.
  [[nodiscard]] static StatusResponse status_from(const common::Endpoint& node, size_t index,
                                                  const std::string& info);
  // Names each replica's leader among `statuses` (nullopt: unreachable) by master_replid;
  // `replids[i]` is node i's master_replid.
  static void link_leaders(std::vector<NodeStatusAnswer>& statuses,
                           const std::vector<std::string>& replids);

 private:
  RedisOptions options_;
};

// True for the error codes Redis answers before doing anything, when another node (the primary)
// or a later attempt may succeed: READONLY, LOADING, MASTERDOWN, TRYAGAIN, BUSY, NOREPLICAS.
[[nodiscard]] bool is_redis_unavailable_error(std::string_view code);

}  // namespace bombarder
