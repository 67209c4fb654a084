#include "peer_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "common/byte_stream.h"
#include "common/http_client.h"
#include "peer_codec.h"
#include "peer_stream.h"

namespace stress_node {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
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
    case PeerRoute::kStream: return kRaftStreamPath;
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
  // One FIFO lane of a peer: the HTTP requests', or the stream's.
  struct Queue {
    std::deque<raft::Message> messages;
    uint64_t bytes = 0;
    size_t heartbeats = 0;  // kHeartbeat messages in `messages`: 0 or 1 (see enqueue)
  };
  // The persistent stream to a peer (options.stream). State and I/O on the strand; `backoff` and
  // `woken` also under mutex_ (peer_alive reads them).
  struct Link {
    explicit Link(asio::strand<asio::io_context::executor_type>& s) : timer(s), resolver(s) {}
    enum class State : uint8_t { kIdle, kConnecting, kOpen, kBackoff };
    State state = State::kIdle;
    uint64_t generation = 0;  // bumped whenever the connection ends: stale completions see it
    std::shared_ptr<common::ByteStream> stream;
    std::optional<StreamFrameWriter> writer;
    bool writing = false;
    std::chrono::milliseconds backoff{0};
    bool woken = false;
    asio::steady_timer timer;  // connect/backoff
    tcp::resolver resolver;
    beast::flat_buffer buffer;
    std::optional<beast::http::response_parser<beast::http::empty_body>> parser;
    beast::http::request<beast::http::empty_body> upgrade;
    std::string client_nonce;
    std::array<char, 1> watch{};  // the server never writes: a read completes at its close
    std::string frame;            // the frame being written
  };
  struct Peer {
    Peer(raft::NodeId peer_id, common::Endpoint to,
         asio::strand<asio::io_context::executor_type>& s)
        : id(peer_id), endpoint(std::move(to)), backoff_timer(s), link(s) {}
    const raft::NodeId id;
    const common::Endpoint endpoint;
    Queue queue;                 // HTTP requests (everything, or votes and snapshots with a stream)
    Queue stream_queue;          // the stream's messages
    bool stream_kicked = false;  // a stream_kick() is posted
    // The first stream write since the peer was last heard from (peer_alive()); under mutex_.
    std::optional<Clock::time_point> unanswered_since;
    bool busy = false;
    std::chrono::milliseconds backoff{0};  // 0 while healthy
    bool woken = false;                    // peer_alive() cut the backoff short: retry now
    Reachability reachability = Reachability::kUnknown;
    int last_failed_status = 0;  // logged once per change, not per failure
    std::optional<Clock::time_point> last_success;
    PeerStats stats;
    asio::steady_timer backoff_timer;  // strand only
    Link link;
  };
  struct Batch {
    PeerRoute route = PeerRoute::kAppend;
    std::vector<raft::Message> messages;
  };

  [[nodiscard]] bool on_stream(raft::MessageType type) const;
  void enqueue(Peer& peer, Queue& queue, raft::Message&& message);
  void drop_oldest(Peer& peer, Queue& queue);
  Batch take_batch(Queue& queue);
  // The stream (strand).
  void stream_kick(Peer& peer);
  void stream_connect(Peer& peer);
  void stream_on_connected(Peer& peer, uint64_t generation);
  void stream_send_upgrade(Peer& peer, uint64_t generation);
  void stream_on_upgraded(Peer& peer, uint64_t generation);
  void stream_watch(Peer& peer);
  void stream_write_next(Peer& peer);
  void stream_on_written(Peer& peer, uint64_t generation, size_t count, size_t bytes,
                         boost::system::error_code ec);
  void stream_fail(Peer& peer, boost::system::error_code ec, int status);
  void stream_close(Peer& peer);
  void stream_after_backoff(Peer& peer, boost::system::error_code ec);
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
  std::vector<Peer*> to_kick;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    for (raft::Message& m : messages) {
      auto it = peers_.find(m.to);
      if (it == peers_.end()) {
        spdlog::debug("dropping {} to unknown peer {}", raft::to_string(m.type), m.to);
        continue;
      }
      Peer& peer = it->second;
      enqueue(peer, on_stream(m.type) ? peer.stream_queue : peer.queue, std::move(m));
    }
    for (auto& [id, peer] : peers_) {
      if (!peer.busy && !peer.queue.messages.empty()) {
        peer.busy = true;
        to_pump.push_back(&peer);
      }
      if (!peer.stream_kicked && !peer.stream_queue.messages.empty()) {
        peer.stream_kicked = true;
        to_kick.push_back(&peer);
      }
    }
  }
  for (Peer* peer : to_pump) schedule_pump(*peer);
  for (Peer* peer : to_kick) {
    asio::post(strand_, [self = shared_from_this(), peer] { self->stream_kick(*peer); });
  }
}

// Votes stay on HTTP requests of their own: an election must not wait behind an append batch of
// up to batch_bytes_max already in the stream's socket. Snapshots too: their chunks are large,
// rare, and have their own timeout.
bool PeerTransport::Impl::on_stream(raft::MessageType type) const {
  return options_.stream && route_of(type) == PeerRoute::kAppend;
}

void PeerTransport::Impl::enqueue(Peer& peer, Queue& queue, raft::Message&& message) {
  // A heartbeat supersedes the ones still queued: it carries the newest commit index and read
  // round, which is all a follower takes from one. Without this, a peer that was down for two
  // seconds comes back to thousands of stale heartbeats (ReadIndex rounds send one per batch)
  // queued ahead of the appends that would catch it up, and the leader's read and replication
  // traffic to it waits behind them: a restarted follower stalled 400 ms after its first
  // catch-up batch (docs/benchmarks.md). Dropping a heartbeat is a message loss Raft tolerates.
  if (message.type == raft::MessageType::kHeartbeat && queue.heartbeats > 0) {
    // Every heartbeat queued replaces its predecessor, so there is exactly one to remove.
    const auto stale =
        std::find_if(queue.messages.begin(), queue.messages.end(),
                     [](const auto& m) { return m.type == raft::MessageType::kHeartbeat; });
    queue.bytes -= encoded_size_bound(*stale);
    queue.messages.erase(stale);
    --queue.heartbeats;
    ++peer.stats.heartbeats_superseded;
  }
  if (message.type == raft::MessageType::kHeartbeat) ++queue.heartbeats;
  queue.bytes += encoded_size_bound(message);
  queue.messages.push_back(std::move(message));
  while (queue.messages.size() > options_.queue_messages_max ||
         (queue.bytes > options_.queue_bytes_max && queue.messages.size() > 1)) {
    drop_oldest(peer, queue);
  }
}

// Snapshot chunks are kept when possible: losing one restarts a transfer that may be large,
// while a lost append or heartbeat is repaired by the next one.
void PeerTransport::Impl::drop_oldest(Peer& peer, Queue& queue) {
  auto victim =
      std::find_if(queue.messages.begin(), queue.messages.end(),
                   [](const raft::Message& m) { return m.type != raft::MessageType::kSnapshot; });
  if (victim == queue.messages.end()) victim = queue.messages.begin();
  if (victim->type == raft::MessageType::kHeartbeat) --queue.heartbeats;
  queue.bytes -= encoded_size_bound(*victim);
  queue.messages.erase(victim);
  ++peer.stats.messages_dropped;
}

// The longest prefix of the queue that shares one route and fits the batch bounds (at least
// one message). Taking a prefix keeps the per-peer order the core sent them in.
PeerTransport::Impl::Batch PeerTransport::Impl::take_batch(Queue& queue) {
  Batch batch;
  batch.route = route_of(queue.messages.front().type);
  uint64_t bytes = 0;
  size_t entries = 0;
  while (!queue.messages.empty() && batch.messages.size() < options_.batch_messages_max) {
    const raft::Message& next = queue.messages.front();
    const uint64_t size = encoded_size_bound(next);
    if (!batch.messages.empty() &&
        (route_of(next.type) != batch.route || bytes + size > options_.batch_bytes_max ||
         entries + next.entries.size() > kPeerBatchEntriesMax)) {
      break;
    }
    bytes += size;
    entries += next.entries.size();
    if (next.type == raft::MessageType::kHeartbeat) --queue.heartbeats;
    queue.bytes -= size;
    batch.messages.push_back(std::move(queue.messages.front()));
    queue.messages.pop_front();
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
    if (stopped_ || peer.queue.messages.empty()) {
      peer.busy = false;
      return;
    }
    batch = take_batch(peer.queue);
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
  if (peer.queue.messages.empty()) {
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
    if (stopped_ || it == peers_.end()) return;
    it->second.unanswered_since.reset();
    if (it->second.backoff.count() == 0 && it->second.link.backoff.count() == 0) return;
  }
  asio::post(strand_, [self = shared_from_this(), id] {
    std::lock_guard lock(self->mutex_);
    auto it = self->peers_.find(id);
    if (self->stopped_ || it == self->peers_.end()) return;
    Peer& peer = it->second;
    if (peer.backoff.count() != 0) {
      peer.backoff = std::chrono::milliseconds(0);
      peer.woken = true;
      peer.backoff_timer.cancel();
    }
    if (peer.link.backoff.count() != 0) {
      peer.link.backoff = std::chrono::milliseconds(0);
      if (peer.link.state == Link::State::kBackoff) {
        peer.link.woken = true;
        peer.link.timer.cancel();
      }
    }
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

// --- The stream (options.stream; peer_stream.h). Everything below runs on the strand. Handlers
// hold the transport weakly (a stopped transport's last completions have nobody to tell) and
// the stream strongly (Beast's TLS operations use the stream object until they complete).

void PeerTransport::Impl::stream_kick(Peer& peer) {
  {
    std::lock_guard lock(mutex_);
    peer.stream_kicked = false;
    if (stopped_) return;
  }
  switch (peer.link.state) {
    case Link::State::kIdle: return stream_connect(peer);
    case Link::State::kOpen:
      if (!peer.link.writing) stream_write_next(peer);
      return;
    case Link::State::kConnecting:
    case Link::State::kBackoff: return;  // the queue is sent once that ends
  }
}

void PeerTransport::Impl::stream_connect(Peer& peer) {
  Link& link = peer.link;
  link.state = Link::State::kConnecting;
  const uint64_t generation = ++link.generation;
  link.stream = options_.tls ? std::make_shared<common::ByteStream>(
                                   std::in_place_type<common::TlsStream>, strand_, *options_.tls)
                             : std::make_shared<common::ByteStream>(
                                   std::in_place_type<beast::tcp_stream>, strand_);
  // One deadline for connecting, the TLS handshake and the upgrade together.
  common::tcp_layer(*link.stream).expires_after(options_.request_timeout);
  link.resolver.async_resolve(
      peer.endpoint.host, std::to_string(peer.endpoint.port),
      [weak = weak_from_this(), &peer, generation, stream = link.stream](
          boost::system::error_code ec, tcp::resolver::results_type results) {
        auto self = weak.lock();
        if (!self || generation != peer.link.generation) return;
        if (ec) return self->stream_fail(peer, ec, 0);
        common::tcp_layer(*stream).async_connect(
            results, [weak, &peer, generation, stream](boost::system::error_code connect_ec,
                                                       const tcp::endpoint&) {
              auto self = weak.lock();
              if (!self || generation != peer.link.generation) return;
              if (connect_ec) return self->stream_fail(peer, connect_ec, 0);
              self->stream_on_connected(peer, generation);
            });
      });
}

void PeerTransport::Impl::stream_on_connected(Peer& peer, uint64_t generation) {
  Link& link = peer.link;
  boost::system::error_code ignored;
  common::tcp_layer(*link.stream).socket().set_option(tcp::no_delay(true), ignored);
  auto* tls = std::get_if<common::TlsStream>(link.stream.get());
  if (tls == nullptr) return stream_send_upgrade(peer, generation);
  std::string error;
  if (!common::prepare_client_tls(tls->native_handle(), peer.endpoint.host, &error)) {
    spdlog::warn("peer {}: {}", peer.id, error);
    return stream_fail(peer, asio::error::invalid_argument, 0);
  }
  tls->async_handshake(asio::ssl::stream_base::client,
                       [weak = weak_from_this(), &peer, generation,
                        stream = link.stream](boost::system::error_code ec) {
                         auto self = weak.lock();
                         if (!self || generation != peer.link.generation) return;
                         if (ec) return self->stream_fail(peer, ec, 0);
                         self->stream_send_upgrade(peer, generation);
                       });
}

void PeerTransport::Impl::stream_send_upgrade(Peer& peer, uint64_t generation) {
  namespace http = beast::http;
  Link& link = peer.link;
  link.client_nonce = new_stream_nonce();
  link.upgrade = http::request<http::empty_body>(http::verb::get, std::string(kRaftStreamPath), 11);
  link.upgrade.set(http::field::host, peer.endpoint.to_string());
  link.upgrade.set(http::field::connection, "Upgrade");
  link.upgrade.set(http::field::upgrade, std::string(kPeerStreamProtocol));
  link.upgrade.set(std::string(kStreamNonceHeader), link.client_nonce);
  // The upgrade is a peer frame whose body is the client's nonce (peer_auth.h): only a member
  // opens a stream, and only to the member it names.
  for (auto& [name, value] :
       frame_headers(options_.key.get(), kRaftStreamPath, self_, peer.id, link.client_nonce)) {
    link.upgrade.set(name, value);
  }
  link.buffer.clear();
  link.parser.emplace();
  std::visit(
      [&](auto& stream) {
        http::async_write(stream, link.upgrade,
                          [weak = weak_from_this(), &peer, generation, shared = link.stream](
                              boost::system::error_code ec, size_t) {
                            auto self = weak.lock();
                            if (!self || generation != peer.link.generation) return;
                            if (ec) return self->stream_fail(peer, ec, 0);
                            std::visit(
                                [&](auto& s) {
                                  http::async_read(
                                      s, peer.link.buffer, *peer.link.parser,
                                      [weak, &peer, generation, shared](
                                          boost::system::error_code read_ec, size_t) {
                                        auto self = weak.lock();
                                        if (!self || generation != peer.link.generation) return;
                                        if (read_ec) return self->stream_fail(peer, read_ec, 0);
                                        self->stream_on_upgraded(peer, generation);
                                      });
                                },
                                *shared);
                          });
      },
      *link.stream);
}

void PeerTransport::Impl::stream_on_upgraded(Peer& peer, uint64_t generation) {
  namespace http = beast::http;
  Link& link = peer.link;
  const auto& answer = link.parser->get();
  const int status = static_cast<int>(answer.result_int());
  const auto server_nonce = answer[std::string(kStreamNonceHeader)];
  const std::string_view nonce(server_nonce.data(), server_nonce.size());
  if (status != 101 ||
      !beast::iequals(answer[http::field::upgrade],
                      beast::string_view(kPeerStreamProtocol.data(), kPeerStreamProtocol.size())) ||
      !is_stream_nonce(nonce)) {
    // A node of an older version answers 404, a refused frame 401/403: try again later.
    return stream_fail(peer, {}, status == 101 ? 502 : status);
  }
  link.writer.emplace(options_.key.get(), stream_connection_id(link.client_nonce, nonce), self_,
                      peer.id);
  link.parser.reset();
  link.state = Link::State::kOpen;
  common::tcp_layer(*link.stream).expires_never();
  log_outcome(peer, {}, 200, PeerRoute::kStream);
  {
    std::lock_guard lock(mutex_);
    link.backoff = std::chrono::milliseconds(0);
  }
  stream_watch(peer);
  if (generation == link.generation) stream_write_next(peer);
}

// The receiver never writes on the stream, so a read completes only when the connection ends:
// the peer closed it (restart, idle timeout, a newer stream of ours replacing it) or it broke.
// Nothing is lost that Raft does not retransmit; the next message reconnects.
void PeerTransport::Impl::stream_watch(Peer& peer) {
  Link& link = peer.link;
  std::visit(
      [&](auto& stream) {
        stream.async_read_some(
            asio::buffer(link.watch), [weak = weak_from_this(), &peer, generation = link.generation,
                                       shared = link.stream](boost::system::error_code ec, size_t) {
              auto self = weak.lock();
              if (!self || generation != peer.link.generation) return;
              // Not a failure in itself (an idle stream closed by the receiver, a restart): the
              // next message reconnects, and that attempt's outcome is what counts.
              spdlog::debug("peer {}: stream closed: {}", peer.id,
                            ec ? ec.message() : "the receiver wrote on it");
              self->stream_close(peer);
              peer.link.state = Link::State::kIdle;
              std::lock_guard lock(self->mutex_);
              if (!self->stopped_ && !peer.stream_queue.messages.empty() && !peer.stream_kicked) {
                peer.stream_kicked = true;
                asio::post(self->strand_, [self, &peer] { self->stream_kick(peer); });
              }
            });
      },
      *link.stream);
}

void PeerTransport::Impl::stream_write_next(Peer& peer) {
  Link& link = peer.link;
  Batch batch;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || peer.stream_queue.messages.empty()) {
      link.writing = false;
      return;
    }
    // A stream can look healthy while its bytes go nowhere (a black-holing proxy or a peer gone
    // without a reset): every message on it makes the peer answer, so silence for a whole
    // request timeout while we keep writing means the stream is dead. Replace it.
    const Clock::time_point now = Clock::now();
    if (!peer.unanswered_since) peer.unanswered_since = now;
    if (now - *peer.unanswered_since <= options_.request_timeout) {
      batch = take_batch(peer.stream_queue);
    } else {
      peer.unanswered_since.reset();
    }
  }
  if (batch.messages.empty()) return stream_fail(peer, asio::error::timed_out, 0);
  link.writing = true;
  const std::string body = encode_batch(batch.messages);
  const size_t body_bytes = body.size();
  // One contiguous buffer: written as two (prefix, body), Beast's TLS stream (flat_stream over
  // asio::ssl) sent the prefix and completed the write without the body, so over TLS every
  // frame larger than one TLS record was cut (the receiver then waited for its body forever
  // while later frames arrived). The copy costs a memcpy of the body, far below its MAC.
  link.frame = link.writer->next_prefix(body);
  link.frame.append(body);
  common::tcp_layer(*link.stream).expires_after(options_.request_timeout);
  std::visit(
      [&](auto& stream) {
        asio::async_write(stream, asio::buffer(link.frame),
                          [weak = weak_from_this(), &peer, generation = link.generation,
                           shared = link.stream, count = batch.messages.size(),
                           bytes = body_bytes](boost::system::error_code ec, size_t) {
                            auto self = weak.lock();
                            if (!self) return;
                            self->stream_on_written(peer, generation, count, bytes, ec);
                          });
      },
      *link.stream);
}

void PeerTransport::Impl::stream_on_written(Peer& peer, uint64_t generation, size_t count,
                                            size_t bytes, boost::system::error_code ec) {
  if (generation != peer.link.generation) return;  // that connection has ended
  peer.link.writing = false;
  if (ec) return stream_fail(peer, ec, 0);
  {
    std::lock_guard lock(mutex_);
    ++peer.stats.batches_sent;
    peer.stats.messages_sent += count;
    peer.stats.bytes_sent += bytes;
    peer.stats.reachable = true;
    peer.last_success = Clock::now();
  }
  stream_write_next(peer);
}

// The connection failed (or was refused at the upgrade, `status`): what it carried is lost, and
// the next attempt waits the same backoff as a failed request.
void PeerTransport::Impl::stream_fail(Peer& peer, boost::system::error_code ec, int status) {
  const bool was_writing = peer.link.writing;
  log_outcome(peer, ec, status, PeerRoute::kStream);
  stream_close(peer);
  Link& link = peer.link;
  std::lock_guard lock(mutex_);
  ++peer.stats.send_failures;
  if (stopped_) return;
  // A failed attempt costs the batch it was for, as a failed request does: while a peer is down
  // its queue drains at one batch per backoff instead of keeping up to queue_bytes_max of stale
  // appends for the moment it returns (the core resends what is still needed, or a snapshot).
  if (!was_writing && !peer.stream_queue.messages.empty()) {
    (void)take_batch(peer.stream_queue);
  }
  link.backoff = link.backoff.count() == 0 ? options_.backoff_min
                                           : std::min(link.backoff * 2, options_.backoff_max);
  link.woken = false;
  link.state = Link::State::kBackoff;
  link.timer.expires_after(link.backoff);
  link.timer.async_wait([weak = weak_from_this(), &peer](boost::system::error_code wait_ec) {
    if (auto self = weak.lock()) self->stream_after_backoff(peer, wait_ec);
  });
}

void PeerTransport::Impl::stream_after_backoff(Peer& peer, boost::system::error_code ec) {
  Link& link = peer.link;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || link.state != Link::State::kBackoff) return;
    if (ec == asio::error::operation_aborted && !link.woken) return;
    link.woken = false;
    link.state = Link::State::kIdle;
    if (peer.stream_queue.messages.empty()) return;
  }
  stream_connect(peer);
}

// Ends the current connection (if any); its pending operations complete as stale.
void PeerTransport::Impl::stream_close(Peer& peer) {
  Link& link = peer.link;
  ++link.generation;
  link.writing = false;
  link.writer.reset();
  link.parser.reset();
  if (link.stream) {
    boost::system::error_code ignored;
    beast::tcp_stream& tcp = common::tcp_layer(*link.stream);
    tcp.socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp.close();
    link.stream.reset();
  }
}

std::map<raft::NodeId, PeerStats> PeerTransport::Impl::stats() const {
  const Clock::time_point now = Clock::now();
  std::map<raft::NodeId, PeerStats> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, peer] : peers_) {
    PeerStats s = peer.stats;
    s.queued_messages = peer.queue.messages.size() + peer.stream_queue.messages.size();
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
      peer.queue = Queue{};
      peer.stream_queue = Queue{};
    }
  }
  client_.close();
  asio::post(strand_, [self = shared_from_this()] {
    for (auto& [id, peer] : self->peers_) {
      peer.backoff_timer.cancel();
      self->stream_close(peer);
      peer.link.timer.cancel();
      peer.link.resolver.cancel();
    }
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
