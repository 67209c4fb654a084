#include "peer_stream_receiver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "peer_stream.h"

namespace stress_node {

namespace asio = boost::asio;
namespace beast = boost::beast;

struct PeerStreamReceiver::Shared {
  Shared(asio::io_context& context, PeerStreamReceiverOptions o, Deliver d, Reject r)
      : io(context), options(std::move(o)), deliver(std::move(d)), reject(std::move(r)) {}
  asio::io_context& io;
  const PeerStreamReceiverOptions options;
  const Deliver deliver;
  const Reject reject;
  bool stopped = false;
  uint64_t next_id = 1;
  // Per sender, its open streams oldest first.
  std::map<raft::NodeId, std::deque<std::pair<uint64_t, std::weak_ptr<Stream>>>> streams;
  void forget(raft::NodeId from, uint64_t id);
};

class PeerStreamReceiver::Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::shared_ptr<Shared> shared, std::shared_ptr<common::UpgradedConnection> connection,
         FrameParties parties, std::string connection_id, uint64_t id)
      : shared_(std::move(shared)),
        connection_(std::move(connection)),
        reader_(shared_->options.key.get(), std::move(connection_id), parties,
                shared_->options.frame_bytes_max),
        id_(id) {}
  ~Stream() { shared_->forget(reader_.parties().from, id_); }

  void start() { next_frame(); }
  void close();

 private:
  void next_frame();
  // Calls `then` once the buffer holds `bytes` bytes (or closes the stream).
  template <class Then>
  void read_until(size_t bytes, Then then);
  void on_length();
  void on_payload();
  void refuse(FrameRejection reason, const std::string& message);

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<common::UpgradedConnection> connection_;
  StreamFrameReader reader_;
  const uint64_t id_;
  uint32_t payload_bytes_ = 0;
  bool closed_ = false;
};

void PeerStreamReceiver::Stream::next_frame() {
  read_until(kStreamLengthBytes, [this] { on_length(); });
}

template <class Then>
void PeerStreamReceiver::Stream::read_until(size_t bytes, Then then) {
  beast::flat_buffer& buffer = connection_->buffer;
  if (closed_) return;
  if (buffer.size() >= bytes) return then();
  // Reading ahead is bounded: at most one frame's worth plus a little of the next.
  const size_t want = std::max<size_t>(bytes - buffer.size(), 16 << 10);
  common::tcp_layer(connection_->stream).expires_after(shared_->options.idle_timeout);
  std::visit(
      [&](auto& stream) {
        stream.async_read_some(buffer.prepare(want), [self = shared_from_this(), bytes, then](
                                                         boost::system::error_code ec, size_t n) {
          if (self->closed_) return;
          self->connection_->buffer.commit(n);
          if (ec) {
            // Between frames the connection simply ended; inside one, the frame is cut.
            if (self->connection_->buffer.size() > 0) {
              self->refuse(FrameRejection::kTruncatedFrame,
                           "the stream ended inside a frame (" + ec.message() + ")");
            }
            return self->close();
          }
          self->read_until(bytes, then);
        });
      },
      connection_->stream);
}

void PeerStreamReceiver::Stream::on_length() {
  std::array<unsigned char, kStreamLengthBytes> prefix{};
  std::copy_n(static_cast<const unsigned char*>(connection_->buffer.data().data()),
              kStreamLengthBytes, prefix.begin());
  const StreamFrameReader::Length length = reader_.parse_length(prefix);
  if (length.rejection) {
    return refuse(*length.rejection, "a stream frame of " + std::to_string(length.payload_bytes) +
                                         " bytes (limit " +
                                         std::to_string(shared_->options.frame_bytes_max) + ")");
  }
  payload_bytes_ = length.payload_bytes;
  read_until(kStreamLengthBytes + payload_bytes_, [this] { on_payload(); });
}

void PeerStreamReceiver::Stream::on_payload() {
  beast::flat_buffer& buffer = connection_->buffer;
  const std::string_view payload(
      static_cast<const char*>(buffer.data().data()) + kStreamLengthBytes, payload_bytes_);
  std::string_view body;
  if (const auto rejection = reader_.verify(payload, &body)) {
    return refuse(*rejection, "stream frame " + std::to_string(reader_.frames_read() - 1) +
                                  " does not verify (forged, replayed, reordered or from "
                                  "another connection)");
  }
  spdlog::trace("peer {}: stream frame {} of {} bytes", reader_.parties().from,
                reader_.frames_read() - 1, payload_bytes_);
  if (!shared_->deliver(reader_.parties(), body)) return close();
  buffer.consume(kStreamLengthBytes + payload_bytes_);
  next_frame();
}

void PeerStreamReceiver::Stream::refuse(FrameRejection reason, const std::string& message) {
  shared_->reject(reason, message);
  close();
}

void PeerStreamReceiver::Stream::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  beast::tcp_stream& tcp = common::tcp_layer(connection_->stream);
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  tcp.close();
}

void PeerStreamReceiver::Shared::forget(raft::NodeId from, uint64_t id) {
  auto it = streams.find(from);
  if (it == streams.end()) return;
  std::erase_if(it->second, [id](const auto& entry) { return entry.first == id; });
  if (it->second.empty()) streams.erase(it);
}

PeerStreamReceiver::PeerStreamReceiver(asio::io_context& io, PeerStreamReceiverOptions options,
                                       Deliver deliver, Reject reject)
    : shared_(std::make_shared<Shared>(io, std::move(options), std::move(deliver),
                                       std::move(reject))) {}

PeerStreamReceiver::~PeerStreamReceiver() { stop(); }

void PeerStreamReceiver::accept(std::shared_ptr<common::UpgradedConnection> connection,
                                FrameParties parties, std::string connection_id) {
  const uint64_t id = shared_->next_id++;
  auto stream = std::make_shared<Stream>(shared_, std::move(connection), parties,
                                         std::move(connection_id), id);
  if (shared_->stopped) return stream->close();
  auto& open = shared_->streams[parties.from];
  while (open.size() >= shared_->options.streams_per_peer_max) {
    auto oldest = open.front().second.lock();
    open.pop_front();
    if (oldest) {
      spdlog::debug("peer {}: a new stream replaces the oldest", parties.from);
      oldest->close();
    }
  }
  open.emplace_back(id, stream);
  stream->start();
}

void PeerStreamReceiver::stop() {
  shared_->stopped = true;
  std::vector<std::shared_ptr<Stream>> live;
  for (auto& [from, open] : shared_->streams) {
    for (auto& [id, weak] : open) {
      if (auto stream = weak.lock()) live.push_back(std::move(stream));
    }
  }
  for (auto& stream : live) stream->close();
}

size_t PeerStreamReceiver::open_streams() const {
  size_t n = 0;
  for (const auto& [from, open] : shared_->streams) n += open.size();
  return n;
}

}  // namespace stress_node
