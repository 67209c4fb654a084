// The streaming peer transport's wire format (issue 15 "A streaming peer transport"): one
// persistent connection per peer direction, opened by the sender with an HTTP upgrade on the
// peer's ordinary port (so TLS, the fault proxy of `cluster start --proxied` and the listener
// stay as they are), then a sequence of length-prefixed frames, each one peer-codec batch
// (peer_codec.h). No answer per frame: the receiver's replies travel on its own stream to us.
//
// Upgrade (client -> server):
//   GET /_raft/stream HTTP/1.1
//   Connection: Upgrade
//   Upgrade: raftkv-peer-stream/1
//   X-Raft-From, X-Raft-To, X-Raft-Mac   as peer_auth.h, with path "/_raft/stream" and the
//                                        client nonce (its 32 hex digits) as the body
//   X-Raft-Stream-Nonce: <16 random bytes, 32 lowercase hex digits>
// Answer: 101 Switching Protocols, with Upgrade: raftkv-peer-stream/1 and the server's own
// X-Raft-Stream-Nonce; any other status is a refusal (401/403 as peer_auth.h, 400 malformed).
//
// Frames (client -> server only; the server never writes after its 101):
//   frame := length u32be | mac (32 bytes; absent with --insecure-peers) | body
//   length counts mac and body; body is one encode_batch() batch
//   mac    := PeerKey::stream_mac(connection id, seq, from, to, body)
//   connection id := client nonce hex | server nonce hex (64 characters)
//   seq    := the frame's position on its connection, from 0; not sent, both sides count
// The server's fresh nonce makes a recorded connection worthless (replaying its upgrade gets a
// new id, so none of its frames verify); the sequence number refuses a frame replayed, dropped
// or reordered within a connection. A refused frame ends the connection: the sender reconnects
// and Raft retransmits what was lost.
//
// Why a raw upgrade rather than a WebSocket: frames need no masking (the client-to-server XOR a
// WebSocket requires costs a pass over every byte and buys nothing between cluster members), no
// ping/close handshake (the receiver never answers on this connection), and the length prefix
// is all the framing a batch needs; the HTTP upgrade itself is the same either way.
//
// Threads: the classes below are single-owner values (one per connection), no locking.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "peer_auth.h"

namespace stress_node {

inline constexpr std::string_view kRaftStreamPath = "/_raft/stream";
inline constexpr std::string_view kPeerStreamProtocol = "raftkv-peer-stream/1";
inline constexpr std::string_view kStreamNonceHeader = "X-Raft-Stream-Nonce";
inline constexpr size_t kStreamNonceBytes = 16;
inline constexpr size_t kStreamLengthBytes = 4;
inline constexpr size_t kStreamMacBytes = 32;

// 16 bytes from OpenSSL's RAND_bytes as 32 lowercase hex digits.
[[nodiscard]] std::string new_stream_nonce();
// True for exactly 32 lowercase hex digits.
[[nodiscard]] bool is_stream_nonce(std::string_view text);
[[nodiscard]] std::string stream_connection_id(std::string_view client_nonce,
                                               std::string_view server_nonce);

// The sender's side of one connection: the bytes that go before each batch.
class StreamFrameWriter {
 public:
  // `key` null: --insecure-peers (no MAC). The key must outlive the writer.
  StreamFrameWriter(const PeerKey* key, std::string connection_id, raft::NodeId from,
                    raft::NodeId to);
  // The length prefix and MAC of the next frame carrying `body` (then written as is).
  [[nodiscard]] std::string next_prefix(std::string_view body);
  [[nodiscard]] uint64_t frames_written() const { return seq_; }

 private:
  const PeerKey* key_;
  std::string connection_id_;
  raft::NodeId from_;
  raft::NodeId to_;
  uint64_t seq_ = 0;
};

// The receiver's side of one connection: checks each frame before any byte of its body is
// decoded.
class StreamFrameReader {
 public:
  // `parties` as authenticated at the upgrade; `payload_bytes_max` bounds mac + body.
  StreamFrameReader(const PeerKey* key, std::string connection_id, FrameParties parties,
                    uint32_t payload_bytes_max);

  struct Length {
    std::optional<FrameRejection> rejection;  // kFrameTooLarge or kTruncatedFrame
    uint32_t payload_bytes = 0;               // mac + body, to read next
  };
  [[nodiscard]] Length parse_length(
      const std::array<unsigned char, kStreamLengthBytes>& prefix) const;

  // Verifies the next frame's payload (mac + body, as parse_length announced it) at its
  // sequence number; on success *body views the batch inside `payload`. Every call consumes a
  // sequence number, so after a refusal no later frame of this connection verifies.
  [[nodiscard]] std::optional<FrameRejection> verify(std::string_view payload,
                                                     std::string_view* body);
  [[nodiscard]] const FrameParties& parties() const { return parties_; }
  [[nodiscard]] uint64_t frames_read() const { return seq_; }

 private:
  const PeerKey* key_;
  std::string connection_id_;
  FrameParties parties_;
  uint32_t payload_bytes_max_;
  uint64_t seq_ = 0;
};

}  // namespace stress_node
