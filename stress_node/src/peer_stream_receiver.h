// The receiving end of peer streams (peer_stream.h): connections taken over by the
// /_raft/stream upgrade handler (raft_api.cc), read frame by frame.
//
// Each frame's length is checked against the bound before its bytes are read, its MAC before
// any byte of its body is decoded; a refused frame (StreamFrameReader) is reported through
// `reject` and ends its connection (the sender reconnects; Raft retransmits). A frame cut by
// the end of the connection is refused as truncated; a connection that ends between frames is
// just closed.
//
// Limits: `streams_per_peer_max` per sending member (a new stream past it closes that peer's
// oldest: a sender whose old connection died unnoticed must be able to replace it), and
// `idle_timeout` without a byte closes a stream (the sender reopens one on its next message).
//
// Threads: everything on the io_context's thread (a single-threaded io_context), including the
// callbacks, which must not block (RaftNode::receive() only posts).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/asio.h"
#include "common/byte_stream.h"
#include "peer_auth.h"

namespace stress_node {

struct PeerStreamReceiverOptions {
  std::shared_ptr<const PeerKey> key{};  // null: --insecure-peers
  uint32_t frame_bytes_max = 32 << 20;   // MAC + body; the peer routes' body limit
  size_t streams_per_peer_max = 2;
  std::chrono::milliseconds idle_timeout{60'000};
};

class PeerStreamReceiver {
 public:
  // A verified frame's body (a peer-codec batch, not yet decoded) from `parties`. false: close
  // the stream (the batch was refused).
  using Deliver = std::function<bool(const FrameParties& parties, std::string_view body)>;
  // A frame refused by the stream layer (MAC, length, truncation), for counting and logging.
  using Reject = std::function<void(FrameRejection reason, const std::string& message)>;

  PeerStreamReceiver(boost::asio::io_context& io, PeerStreamReceiverOptions options,
                     Deliver deliver, Reject reject);
  ~PeerStreamReceiver();  // stop()
  PeerStreamReceiver(const PeerStreamReceiver&) = delete;
  PeerStreamReceiver& operator=(const PeerStreamReceiver&) = delete;

  // A connection whose upgrade authenticated `parties`, with the agreed connection id.
  void accept(std::shared_ptr<common::UpgradedConnection> connection, FrameParties parties,
              std::string connection_id);
  // Closes every stream; later accepts close theirs at once. Idempotent.
  void stop();
  [[nodiscard]] size_t open_streams() const;

  class Stream;  // one connection (peer_stream_receiver.cc)

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace stress_node
