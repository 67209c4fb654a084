// The node's operational and peer endpoints (design.md §4):
//
//   GET  /status                  node id, address, role, term, leader, commit/applied/last
//                                 index, entry count, state hash, uptime, version
//   GET  /metrics                 Prometheus text format 0.0.4
//   GET  /_raft/health            term, commit and applied index, role, leader
//   GET  /_raft/sync-status       leader only (else 503 + leader): per follower match/next
//                                 index, lag, state (healthy / lagging / desynced /
//                                 snapshotting), last contact, transport failures
//   GET  /_raft/resync_stats      snapshot transfer counters
//   POST /_raft/force-resync?target=HOST:PORT   leader only: send that follower a fresh snapshot
//                                 (admin: Authorization: Bearer <token>, admin_auth.h)
//   POST /_raft/append, /_raft/vote, /_raft/snapshot   peer RPCs: a peer-codec batch -> 204;
//                                 401/403 when authenticate_frame() refuses it (peer_auth.h),
//                                 400 when it fails to decode
//   GET  /_raft/stream            upgrade to a peer stream (peer_stream.h) -> 101, then frames
//                                 read by PeerStreamReceiver; 400/401/403 as above
//   GET  /_raft/snapshot          the current snapshot's meta (unauthenticated: index, term,
//                                 voters, size, checksum, all also in /status and /metrics)
//
// Threads: handlers run on the io_context thread; RaftNode completions are posted back to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/asio.h"
#include "common/endpoint.h"
#include "http_server.h"
#include "kv/state_machine.h"
#include "metrics.h"
#include "peer_auth.h"
#include "peer_stream_receiver.h"
#include "peer_transport.h"
#include "peer_validator.h"
#include "raft_node.h"
#include "state_hash_cache.h"

namespace stress_node {

struct RaftApiOptions {
  raft::NodeId self_id = 0;
  std::map<raft::NodeId, common::Endpoint> members;  // every member's address, self included
  // A follower silent for longer than this is "desynced": one maximal election timeout.
  std::chrono::milliseconds contact_timeout{1000};
  uint64_t lag_healthy_max = 100;           // entries behind the leader's last index
  uint64_t lag_desynced_min = 10'000;       // this far behind it will need a snapshot
  size_t peer_body_limit_bytes = 32 << 20;  // a transport batch plus one snapshot chunk
  raft::MessageLimits message_limits{};     // as the members' raft::Config (peer_validator.h)
  // Issue 14 (peer_auth.h): the key every peer frame's MAC must verify with (null:
  // --insecure-peers), and the admin token of force-resync (null: admin routes disabled).
  std::shared_ptr<const PeerKey> peer_key{};
  std::shared_ptr<const AdminToken> admin_token{};
  // Issue 15: inbound peer streams (peer_stream_receiver.h).
  size_t streams_per_peer_max = 2;
  std::chrono::milliseconds stream_idle_timeout{60'000};
};

enum class FollowerHealth : uint8_t { kHealthy, kLagging, kDesynced, kSnapshotting };
[[nodiscard]] const char* to_string(FollowerHealth health);

// The sync-status verdict for one follower. `last_contact_ms` < 0: never heard from.
[[nodiscard]] FollowerHealth classify_follower(const raft::FollowerStatus& follower,
                                               raft::Index leader_last_index,
                                               int64_t last_contact_ms, bool reachable,
                                               const RaftApiOptions& options);

class RaftApi {
 public:
  // `transport` may be null (a single node, tests): no per-peer transport figures then.
  RaftApi(boost::asio::io_context& io, RaftNode& node, const PeerTransport* transport,
          Registry& metrics, RaftApiOptions options);
  void register_routes(Router& router);
  // Closes the inbound peer streams (they are not the HTTP server's connections any more).
  void stop_streams();

 private:
  void status(Request request, Respond respond);
  void metrics(Request request, Respond respond);
  void health(Request request, Respond respond);
  void sync_status(Request request, Respond respond);
  void resync_stats(Request request, Respond respond);
  void force_resync(Request request, Respond respond);
  void peer_rpc(Request request, Respond respond);
  void peer_stream(Request request, Respond respond);
  struct Delivery {
    bool ok = false;  // false: the batch was refused as a whole
    Response answer;  // for an HTTP sender
  };
  [[nodiscard]] Delivery deliver_batch(const FrameParties& parties, std::string_view body,
                                       const std::string& path);
  // Counts the rejection and logs it (rate-limited).
  void count_rejection(FrameRejection reason, const std::string& message, std::string_view path);
  // count_rejection() and answers the sender.
  void reject_frame(FrameRejection reason, const std::string& message, const Request& request,
                    const Respond& respond);
  void snapshot_meta(Request request, Respond respond);

  [[nodiscard]] nlohmann::ordered_json leader_fields(raft::NodeId leader) const;
  [[nodiscard]] std::string address_of(raft::NodeId id) const;  // "" when unknown
  [[nodiscard]] nlohmann::ordered_json address_or_null(raft::NodeId id) const;

  boost::asio::io_context& io_;
  RaftNode& node_;
  const PeerTransport* transport_;
  Registry& metrics_;
  const RaftApiOptions options_;
  PeerValidator validator_;
  const std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  // The state hash reads every entry: computed off the io thread, served with its index.
  std::unique_ptr<StateHashCache> state_hash_;
  PeerAuthConfig peer_auth_;
  RejectionLogLimiter rejection_log_;  // io thread only
  // Frames authenticate_frame() refused, by reason label (io thread only); /metrics adds them to
  // the validator's and the core's counts of the same family.
  std::map<std::string, uint64_t> frames_refused_;
  PeerStreamReceiver streams_;
  uint64_t forced_resyncs_ = 0;
  uint64_t forced_resync_failures_ = 0;
};

}  // namespace stress_node
