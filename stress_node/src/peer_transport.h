// PeerTransport: delivers the raft thread's outgoing messages to the other members, bodies in the
// peer codec (peer_codec.h), over one of two carriers (PeerTransportOptions::stream):
//
// - HTTP/1.1 keep-alive requests (common::HttpClientPool), one POST per batch, answered 204.
// - With `stream` (issue 15, the node's default): appends, heartbeats and their answers go as
//   frames on one persistent connection per peer, opened with an upgrade on the peer's own port
//   (peer_stream.h): no answer per frame, the next batch is written as soon as the previous one
//   is in the socket. Votes and snapshots still go as requests (route_of: kVote, kSnapshot), so
//   an election never waits behind an append batch in the stream's socket. A stream that fails
//   (connection, TLS, a refused upgrade, a write) drops the batch it carried and is reopened
//   after the same backoff as a failed request; one closed by the receiver (idle, a restart) is
//   reopened by the next message; one written to for request_timeout without a word from its
//   peer (peer_alive) is replaced, since every message on it makes the peer answer.
//
// Per peer and carrier: ONE bounded FIFO queue (holding at most one heartbeat: a newer one
// replaces it) and at most one request or frame write in flight. Messages that arrive while
// one is in flight accumulate and leave together as the next batch; that is the batching.
// When the queue is over its bounds the oldest non-snapshot message is dropped (Raft tolerates
// loss and retransmits; a lost snapshot chunk costs a restart of the transfer). A failed request
// (transport error or non-2xx) drops its batch and backs off exponentially before the next one,
// so a dead peer costs one connection attempt per backoff, and nothing about it ever waits on
// another peer or on the raft thread.
//
// Threads: send() is called on the raft thread and never blocks on I/O (it takes a short lock
// and posts). stats() and stop() are thread-safe. Network work runs on the io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/endpoint.h"
#include "common/http_client.h"  // forward-declares boost::asio::ssl::context
#include "peer_auth.h"
#include "peer_sender.h"
#include "peer_stream.h"
#include "raft/message.h"

namespace stress_node {

inline constexpr std::string_view kRaftAppendPath = "/_raft/append";
inline constexpr std::string_view kRaftVotePath = "/_raft/vote";
inline constexpr std::string_view kRaftSnapshotPath = "/_raft/snapshot";

// Which endpoint a message travels to. Votes get their own route so the receiver can answer
// elections without waiting behind appends; snapshots theirs because their bodies are large.
// kStream: the persistent stream (peer_stream.h), which carries what would go to kAppend.
enum class PeerRoute : uint8_t { kAppend, kVote, kSnapshot, kStream };
[[nodiscard]] PeerRoute route_of(raft::MessageType type);
[[nodiscard]] std::string_view path_of(PeerRoute route);

struct PeerTransportOptions {
  size_t queue_messages_max = 4096;        // per peer; past it the oldest are dropped
  uint64_t queue_bytes_max = 64ull << 20;  // per peer, by encoded_size_bound
  size_t batch_messages_max = 1024;        // per request; <= kPeerBatchMessagesMax
  // Per request body, by encoded_size_bound; a single larger message still goes alone. The
  // receiving server's body limit on /_raft/* must allow this plus one snapshot chunk.
  uint64_t batch_bytes_max = 4ull << 20;
  // Issue 15: appends, heartbeats and their answers go as frames on one persistent stream per
  // peer (peer_stream.h) instead of one POST each; votes and snapshots stay on HTTP requests.
  // false: everything on HTTP requests (--peer-transport http).
  bool stream = false;
  // Per request; on the stream: connecting and upgrading, each frame's write, and the silence
  // from the peer after which a stream that keeps being written is replaced.
  std::chrono::milliseconds request_timeout{2000};
  std::chrono::milliseconds snapshot_request_timeout{10000};
  std::chrono::milliseconds backoff_min{50};  // after the first failure, doubling per failure
  // Short (issue 15): a restarted follower sends nothing until its election timeout, so the
  // leader's next retry is what brings it back; a dead peer on loopback or a LAN costs one
  // refused connection per retry. 1 s here kept restarted followers out for up to a second.
  std::chrono::milliseconds backoff_max{100};
  // Client TLS context (common/tls.h): peers are dialled over HTTPS, their certificates checked
  // against its CA and their address, and its certificate presented (mutual TLS). Null: HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Signs every request (X-Raft-From/To/Mac, peer_auth.h); null: --insecure-peers, no MAC.
  std::shared_ptr<const PeerKey> key{};
};

struct PeerStats {
  // The last request got an HTTP answer (any status), or the stream was opened or written.
  bool reachable = false;
  uint64_t batches_sent = 0;           // requests answered 2xx, stream frames written
  uint64_t messages_sent = 0;          // messages in those requests
  uint64_t messages_dropped = 0;       // dropped from the queue by its bounds (or unknown peer)
  uint64_t heartbeats_superseded = 0;  // queued heartbeats replaced by a newer one, unsent
  // Requests failed (transport error or non-2xx; batch lost), streams that failed to open or broke.
  uint64_t send_failures = 0;
  uint64_t bytes_sent = 0;           // request bodies answered 2xx, frame bodies written
  int64_t last_success_ms_ago = -1;  // -1: never
  uint64_t queued_messages = 0;      // waiting now
};

class PeerTransport final : public PeerSender {
 public:
  // `peers` maps every other member to its address; an entry for `self` is ignored.
  PeerTransport(boost::asio::io_context& io, raft::NodeId self,
                std::map<raft::NodeId, common::Endpoint> peers, PeerTransportOptions options = {});
  ~PeerTransport() override;  // stop()
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Messages to unknown peers (or to self) are dropped and logged at debug level.
  void send(std::vector<raft::Message>&& messages) override;

  // `id` sent us a message: if we are backing off from it, retry at once.
  void peer_alive(raft::NodeId id) override;

  // One entry per peer.
  [[nodiscard]] std::map<raft::NodeId, PeerStats> stats() const;

  // Drops everything queued, aborts requests in flight; later send()s are ignored. Idempotent.
  void stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with handlers still queued on the io_context
};

}  // namespace stress_node
