#include "peer_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "common/http_client.h"
#include "peer_codec.h"

namespace stress_node {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// One request in flight per peer needs one connection; the second covers the moment a failed
// connection is being replaced. Nothing ever waits in the pool's queue.
constexpr size_t kConnectionsPerPeerMax = 2;
constexpr size_t kPoolQueueMax = 4;
// Peer answers are empty or a short error text.
constexpr uint64_t kResponseBodyBytesMax = 64 << 10;

bool is_vote_traffic(raft::MessageType t) {
  return t == raft::MessageType::kPreVote || t == raft::MessageType::kPreVoteResp ||
         t == raft::MessageType::kVote || t == raft::MessageType::kVoteResp;
}

}  // namespace

PeerRoute route_of(raft::MessageType type) {
  if (is_vote_traffic(type)) return PeerRoute::kVote;
  if (type == raft::MessageType::kSnapshot) return PeerRoute::kSnapshot;
  return PeerRoute::kAppend;
}

std::string_view path_of(PeerRoute route) {
  switch (route) {
    case PeerRoute::kAppend: return kRaftAppendPath;
    case PeerRoute::kVote: return kRaftVotePath;
    case PeerRoute::kSnapshot: return kRaftSnapshotPath;
  }
  return kRaftAppendPath;
}

// Locking: `mutex_` guards every Peer's queue, flags and stats (shared by the raft thread,
// io threads and stats()). Timers and the request path run on `strand_`. A peer is "busy" from
// the moment a pump is scheduled until its request completes with an empty queue; while busy
// nobody else schedules one, so each peer has at most one request in flight.
class PeerTransport::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, raft::NodeId self, std::map<raft::NodeId, common::Endpoint> peers,
       PeerTransportOptions options);

  void send(std::vector<raft::Message>&& messages);
  void peer_alive(raft::NodeId id);
  std::map<raft::NodeId, PeerStats> stats() const;
  void stop();

 private:
  enum class Reachability : uint8_t { kUnknown, kUp, kDown };
  struct Peer {
    Peer(raft::NodeId peer_id, common::Endpoint to,
         asio::strand<asio::io_context::executor_type>& s)
        : id(peer_id), endpoint(std::move(to)), backoff_timer(s) {}
    const raft::NodeId id;
    const common::Endpoint endpoint;
    std::deque<raft::Message> queue;
    uint64_t queue_bytes = 0;
    size_t queued_heartbeats = 0;  // kHeartbeat messages in `queue`: 0 or 1 (see enqueue)
    bool busy = false;
    std::chrono::milliseconds backoff{0};  // 0 while healthy
    bool woken = false;                    // peer_alive() cut the backoff short: retry now
    Reachability reachability = Reachability::kUnknown;
    int last_failed_status = 0;  // logged once per change, not per failure
    std::optional<Clock::time_point> last_success;
    PeerStats stats;
    asio::steady_timer backoff_timer;  // strand only
  };
  struct Batch {
    PeerRoute route = PeerRoute::kAppend;
    std::vector<raft::Message> messages;
  };

  void enqueue(Peer& peer, raft::Message&& message);
  void drop_oldest(Peer& peer);
  Batch take_batch(Peer& peer);
  void pump(Peer& peer);
  void on_sent(Peer& peer, size_t message_count, size_t body_bytes, boost::system::error_code ec,
               int status);
  void log_outcome(Peer& peer, boost::system::error_code ec, int status, PeerRoute route);
  void after_failure(Peer& peer);
  void schedule_pump(Peer& peer);

  const raft::NodeId self_;
  const PeerTransportOptions options_;
  asio::strand<asio::io_context::executor_type> strand_;
  common::HttpClientPool client_;
  std::map<raft::NodeId, Peer> peers_;  // fixed after construction; Peer fields under mutex_
  mutable std::mutex mutex_;
  bool stopped_ = false;
};

PeerTransport::Impl::Impl(asio::io_context& io, raft::NodeId self,
                          std::map<raft::NodeId, common::Endpoint> peers,
                          PeerTransportOptions options)
    : self_(self),
      options_(options),
      strand_(asio::make_strand(io)),
      client_(io, kConnectionsPerPeerMax, kPoolQueueMax, kResponseBodyBytesMax, options.tls) {
  if (options_.queue_messages_max == 0 || options_.batch_messages_max == 0 ||
      options_.batch_messages_max > kPeerBatchMessagesMax || options_.backoff_min.count() <= 0 ||
      options_.backoff_max < options_.backoff_min) {
    throw std::invalid_argument("PeerTransportOptions out of range");
  }
  for (auto& [id, endpoint] : peers) {
    if (id != self_) peers_.try_emplace(id, id, std::move(endpoint), strand_);
  }
}

void PeerTransport::Impl::send(std::vector<raft::Message>&& messages) {
  std::vector<Peer*> to_pump;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    for (raft::Message& m : messages) {
      auto it = peers_.find(m.to);
      if (it == peers_.end()) {
        spdlog::debug("dropping {} to unknown peer {}", raft::to_string(m.type), m.to);
        continue;
      }
      enqueue(it->second, std::move(m));
    }
    for (auto& [id, peer] : peers_) {
      if (peer.busy || peer.queue.empty()) continue;
      peer.busy = true;
      to_pump.push_back(&peer);
    }
  }
  for (Peer* peer : to_pump) schedule_pump(*peer);
}

void PeerTransport::Impl::enqueue(Peer& peer, raft::Message&& message) {
  // A heartbeat supersedes the ones still queued: it carries the newest commit index and read
  // round, which is all a follower takes from one. Without this, a peer that was down for two
  // seconds comes back to thousands of stale heartbeats (ReadIndex rounds send one per batch)
  // queued ahead of the appends that would catch it up, and the leader's read and replication
  // traffic to it waits behind them: a restarted follower stalled 400 ms after its first
  // catch-up batch (docs/benchmarks.md). Dropping a heartbeat is a message loss Raft tolerates.
  if (message.type == raft::MessageType::kHeartbeat && peer.queued_heartbeats > 0) {
    // Every heartbeat queued replaces its predecessor, so there is exactly one to remove.
    const auto stale = std::find_if(peer.queue.begin(), peer.queue.end(), [](const auto& m) {
      return m.type == raft::MessageType::kHeartbeat;
    });
    peer.queue_bytes -= encoded_size_bound(*stale);
    peer.queue.erase(stale);
    --peer.queued_heartbeats;
    ++peer.stats.heartbeats_superseded;
  }
  if (message.type == raft::MessageType::kHeartbeat) ++peer.queued_heartbeats;
  peer.queue_bytes += encoded_size_bound(message);
  peer.queue.push_back(std::move(message));
  while (peer.queue.size() > options_.queue_messages_max ||
         (peer.queue_bytes > options_.queue_bytes_max && peer.queue.size() > 1)) {
    drop_oldest(peer);
  }
}

// Snapshot chunks are kept when possible: losing one restarts a transfer that may be large,
// while a lost append or heartbeat is repaired by the next one.
void PeerTransport::Impl::drop_oldest(Peer& peer) {
  auto victim = std::find_if(peer.queue.begin(), peer.queue.end(), [](const raft::Message& m) {
    return m.type != raft::MessageType::kSnapshot;
  });
  if (victim == peer.queue.end()) victim = peer.queue.begin();
  if (victim->type == raft::MessageType::kHeartbeat) --peer.queued_heartbeats;
  peer.queue_bytes -= encoded_size_bound(*victim);
  peer.queue.erase(victim);
  ++peer.stats.messages_dropped;
}

// The longest prefix of the queue that shares one route and fits the batch bounds (at least
// one message). Taking a prefix keeps the per-peer order the core sent them in.
PeerTransport::Impl::Batch PeerTransport::Impl::take_batch(Peer& peer) {
  Batch batch;
  batch.route = route_of(peer.queue.front().type);
  uint64_t bytes = 0;
  size_t entries = 0;
  while (!peer.queue.empty() && batch.messages.size() < options_.batch_messages_max) {
    const raft::Message& next = peer.queue.front();
    const uint64_t size = encoded_size_bound(next);
    if (!batch.messages.empty() &&
        (route_of(next.type) != batch.route || bytes + size > options_.batch_bytes_max ||
         entries + next.entries.size() > kPeerBatchEntriesMax)) {
      break;
    }
    bytes += size;
    entries += next.entries.size();
    if (next.type == raft::MessageType::kHeartbeat) --peer.queued_heartbeats;
    peer.queue_bytes -= size;
    batch.messages.push_back(std::move(peer.queue.front()));
    peer.queue.pop_front();
  }
  return batch;
}

void PeerTransport::Impl::schedule_pump(Peer& peer) {
  asio::post(strand_, [self = shared_from_this(), &peer] { self->pump(peer); });
}

// Strand. The peer is busy: send its next batch, or go idle if there is none.
void PeerTransport::Impl::pump(Peer& peer) {
  Batch batch;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || peer.queue.empty()) {
      peer.busy = false;
      return;
    }
    batch = take_batch(peer);
  }
  common::HttpRequest request;
  request.method = boost::beast::http::verb::post;
  request.target = std::string(path_of(batch.route));
  request.content_type = std::string(kPeerContentType);
  request.body = encode_batch(batch.messages);
  request.headers = frame_headers(options_.key.get(), request.target, self_, peer.id, request.body);
  const size_t body_bytes = request.body.size();
  const size_t count = batch.messages.size();
  const PeerRoute route = batch.route;
  const auto timeout =
      route == PeerRoute::kSnapshot ? options_.snapshot_request_timeout : options_.request_timeout;
  // The pool keeps this callback until the answer (client_ is ours): holding ourselves
  // strongly here would be a cycle that outlives a stop once the io_context no longer runs
  // (LeakSanitizer at every node exit with a request in flight). A transport already destroyed
  // has nobody to tell.
  client_.request(peer.endpoint, std::move(request), timeout,
                  [weak = weak_from_this(), &peer, count, body_bytes, route](
                      boost::system::error_code ec, common::HttpResponse response) {
                    std::shared_ptr<Impl> self = weak.lock();
                    if (!self) return;
                    asio::post(self->strand_, [self, &peer, count, body_bytes, route, ec,
                                               status = response.status] {
                      self->log_outcome(peer, ec, status, route);
                      self->on_sent(peer, count, body_bytes, ec, status);
                    });
                  });
}

// Strand.
void PeerTransport::Impl::on_sent(Peer& peer, size_t message_count, size_t body_bytes,
                                  boost::system::error_code ec, int status) {
  const bool ok = !ec && status >= 200 && status < 300;
  std::lock_guard lock(mutex_);
  if (ok) {
    ++peer.stats.batches_sent;
    peer.stats.messages_sent += message_count;
    peer.stats.bytes_sent += body_bytes;
    peer.last_success = Clock::now();
    peer.backoff = std::chrono::milliseconds(0);
  } else {
    ++peer.stats.send_failures;
  }
  if (stopped_) {
    peer.busy = false;
    return;
  }
  if (!ok) return after_failure(peer);
  if (peer.queue.empty()) {
    peer.busy = false;
    return;
  }
  schedule_pump(peer);
}

// Under mutex_, on the strand. The peer stays busy through the backoff so nothing else sends.
void PeerTransport::Impl::after_failure(Peer& peer) {
  peer.backoff = peer.backoff.count() == 0 ? options_.backoff_min
                                           : std::min(peer.backoff * 2, options_.backoff_max);
  peer.woken = false;
  peer.backoff_timer.expires_after(peer.backoff);
  peer.backoff_timer.async_wait([self = shared_from_this(), &peer](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) {
      std::unique_lock lock(self->mutex_);
      if (!peer.woken || self->stopped_) {
        peer.busy = false;
        return;
      }
      peer.woken = false;
    }
    self->pump(peer);
  });
}

// Any thread. A peer that just sent us something is up again: a restarted follower must be
// back in the leader's quorum within an election timeout, not after a backoff of up to
// backoff_max. Cheap when the peer is healthy (one locked read).
void PeerTransport::Impl::peer_alive(raft::NodeId id) {
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(id);
    if (stopped_ || it == peers_.end() || it->second.backoff.count() == 0) return;
  }
  asio::post(strand_, [self = shared_from_this(), id] {
    std::lock_guard lock(self->mutex_);
    auto it = self->peers_.find(id);
    if (self->stopped_ || it == self->peers_.end() || it->second.backoff.count() == 0) return;
    it->second.backoff = std::chrono::milliseconds(0);
    it->second.woken = true;
    it->second.backoff_timer.cancel();
  });
}

// Strand. One line per reachability transition and per change of failing status, never one
// per failure: a dead peer is retried every backoff_max and must not flood the log. Logging
// happens outside the lock so that a slow log sink never stalls the raft thread's send().
void PeerTransport::Impl::log_outcome(Peer& peer, boost::system::error_code ec, int status,
                                      PeerRoute route) {
  const Reachability now = ec ? Reachability::kDown : Reachability::kUp;
  const int failed_status = !ec && (status < 200 || status >= 300) ? status : 0;
  bool log_reachability = false;
  bool log_status = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ && ec == asio::error::operation_aborted) return;
    peer.stats.reachable = now == Reachability::kUp;
    log_reachability = now != peer.reachability;
    peer.reachability = now;
    log_status = failed_status != 0 && failed_status != peer.last_failed_status;
    if (!ec) peer.last_failed_status = failed_status;
  }
  const std::string who = fmt::format("peer {} ({})", peer.id, peer.endpoint.to_string());
  if (log_reachability && now == Reachability::kUp) spdlog::info("{} is reachable", who);
  if (log_reachability && now == Reachability::kDown) {
    spdlog::warn("{} is unreachable: {}", who, ec.message());
  }
  if (log_status) spdlog::warn("{} answered HTTP {} to {}", who, status, path_of(route));
}

std::map<raft::NodeId, PeerStats> PeerTransport::Impl::stats() const {
  const Clock::time_point now = Clock::now();
  std::map<raft::NodeId, PeerStats> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, peer] : peers_) {
    PeerStats s = peer.stats;
    s.queued_messages = peer.queue.size();
    if (peer.last_success) {
      s.last_success_ms_ago =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - *peer.last_success).count();
    }
    out.emplace(id, s);
  }
  return out;
}

void PeerTransport::Impl::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [id, peer] : peers_) {
      peer.queue.clear();
      peer.queue_bytes = 0;
      peer.queued_heartbeats = 0;
    }
  }
  client_.close();
  asio::post(strand_, [self = shared_from_this()] {
    for (auto& [id, peer] : self->peers_) peer.backoff_timer.cancel();
  });
}

PeerTransport::PeerTransport(asio::io_context& io, raft::NodeId self,
                             std::map<raft::NodeId, common::Endpoint> peers,
                             PeerTransportOptions options)
    : impl_(std::make_shared<Impl>(io, self, std::move(peers), options)) {}

PeerTransport::~PeerTransport() { impl_->stop(); }

void PeerTransport::send(std::vector<raft::Message>&& messages) {
  impl_->send(std::move(messages));
}

std::map<raft::NodeId, PeerStats> PeerTransport::stats() const { return impl_->stats(); }

void PeerTransport::peer_alive(raft::NodeId id) { impl_->peer_alive(id); }

void PeerTransport::stop() { impl_->stop(); }

}  // namespace stress_node
