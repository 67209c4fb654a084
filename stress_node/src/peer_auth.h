// Peer frame authentication and the admin token (issue 14 "Peer authentication (always on)";
// threat model in docs/security.md).
//
// Carrier. A peer frame is one HTTP POST to /_raft/append, /_raft/vote or /_raft/snapshot whose
// body is a peer-codec batch (peer_codec.h, unchanged by authentication). The sender adds:
//
//   X-Raft-From: <sender node id, decimal>
//   X-Raft-To:   <receiver node id, decimal>
//   X-Raft-Mac:  <HMAC-SHA256, 64 lowercase hex digits>      (absent with --insecure-peers)
//
//   mac = HMAC-SHA256(key, "raftkv peer frame v1" 0x00 | path 0x00 | from u64be | to u64be | body)
//   key = HKDF-SHA256(ikm = cluster secret, salt = none, info = "raftkv peer frame key v1"), 32 B
//
// The path binds the message class (a vote frame replayed to /_raft/append fails); from and to
// bind the direction (a frame cannot be reflected back to its sender or redirected to a third
// node); every byte of the body is covered. The key is derived rather than the secret used
// directly so that the secret can key other things later (another HKDF `info`) without a MAC
// made for one purpose ever verifying for another, and so that any secret bytes become a
// uniform 256-bit key.
//
// The receiver runs authenticate_frame() FIRST, before any byte of the body is decoded: a frame
// that fails is dropped and counted by reason; only then is the batch decoded, and each decoded
// message must then carry the authenticated from/to (check_message_parties()).
//
// Replay: the MAC does not stop an attacker who records a genuine frame from resending it later
// to the same receiver on the same path. Raft already tolerates duplicated and delayed messages
// (its safety argument assumes an unreliable network), so a replayed genuine frame is a
// duplicate the protocol survives; docs/security.md states the exceptions and limits.
//
// Thread-safety: PeerKey and AdminToken are immutable after construction; every const method
// may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "raft/types.h"

namespace stress_node {

inline constexpr std::string_view kPeerFromHeader = "X-Raft-From";
inline constexpr std::string_view kPeerToHeader = "X-Raft-To";
inline constexpr std::string_view kPeerMacHeader = "X-Raft-Mac";

// The cluster secret file: 64 or more hex digits (32+ bytes), surrounding whitespace ignored.
// `openssl rand -hex 32 > FILE; chmod 600 FILE` makes one.
inline constexpr size_t kClusterSecretBytesMin = 32;
// The admin token file: 32 or more printable ASCII characters (no spaces), surrounding
// whitespace ignored; `openssl rand -hex 32` makes one.
inline constexpr size_t kAdminTokenCharsMin = 32;

// Reads a secret file an operator handed us: a regular file that neither group nor others may
// read or write (mode 0600 or stricter), else nullopt and a one-line reason in *error.
[[nodiscard]] std::optional<std::string> read_private_file(const std::filesystem::path& path,
                                                           std::string* error);

// The HMAC key of peer frames, derived from the cluster secret.
class PeerKey {
 public:
  // `secret` is the raw secret (at least kClusterSecretBytesMin bytes). nullopt + reason if it
  // is too short or OpenSSL fails.
  [[nodiscard]] static std::optional<PeerKey> derive(std::string_view secret, std::string* error);
  // read_private_file + hex decoding + derive.
  [[nodiscard]] static std::optional<PeerKey> from_file(const std::filesystem::path& path,
                                                        std::string* error);

  // The X-Raft-Mac value for this frame: 64 lowercase hex digits.
  [[nodiscard]] std::string sign(std::string_view path, raft::NodeId from, raft::NodeId to,
                                 std::string_view body) const;
  // Constant-time (CRYPTO_memcmp) check of a presented X-Raft-Mac value; false for any
  // malformed value (wrong length, not lowercase hex).
  [[nodiscard]] bool verify(std::string_view path, raft::NodeId from, raft::NodeId to,
                            std::string_view body, std::string_view mac_hex) const;

  // Stream frames (peer_stream.h), a separate domain so that no MAC of one kind verifies as the
  // other:
  //   mac = HMAC-SHA256(key, "raftkv peer stream frame v1" 0x00 | connection_id 0x00
  //                          | seq u64be | from u64be | to u64be | body)
  // `connection_id` is agreed at the stream's upgrade (both sides' nonces) and `seq` counts the
  // connection's frames from 0, so a frame verifies only at its place on its connection.
  using Mac = std::array<unsigned char, 32>;
  [[nodiscard]] Mac stream_mac(std::string_view connection_id, uint64_t seq, raft::NodeId from,
                               raft::NodeId to, std::string_view body) const;
  // Constant-time; `mac` is the 32 raw bytes (false for any other length).
  [[nodiscard]] bool verify_stream(std::string_view connection_id, uint64_t seq, raft::NodeId from,
                                   raft::NodeId to, std::string_view body,
                                   std::string_view mac) const;

 private:
  PeerKey() = default;
  std::array<unsigned char, 32> key_{};
};

// The headers that carry one frame: X-Raft-From, X-Raft-To and, when `key` is set, X-Raft-Mac.
// What the transport sends, and what a test uses to sign a hand-made frame:
//   auto key = PeerKey::from_file(secret_path, &error);
//   headers = frame_headers(&*key, "/_raft/append", from, to, encode_batch(messages));
[[nodiscard]] std::vector<std::pair<std::string, std::string>> frame_headers(const PeerKey* key,
                                                                             std::string_view path,
                                                                             raft::NodeId from,
                                                                             raft::NodeId to,
                                                                             std::string_view body);

// Why a frame (or one decoded message of it) was refused. Labels of
// raft_peer_frames_rejected_total{reason}.
enum class FrameRejection : uint8_t {
  kMissingMac,      // no X-Raft-Mac while this node requires one
  kBadMac,          // X-Raft-Mac present but does not verify (wrong key, tampered, replayed
                    // to another path or node)
  kMissingParties,  // X-Raft-From / X-Raft-To absent or not a decimal node id
  kWrongRecipient,  // addressed (header or message) to another node
  kUnknownSender,   // the sender is not another member of this cluster
  kSenderMismatch,  // a decoded message names another sender than the authenticated one
  kFrameTooLarge,   // a stream frame whose length prefix is over the peer body limit
  kTruncatedFrame,  // a stream frame shorter than its MAC, or cut by the end of its connection
};
inline constexpr size_t kFrameRejectionCount = 8;
[[nodiscard]] const char* reason_label(FrameRejection reason);
// The HTTP status the sender gets: 401 for MAC failures, 403 for the others (authenticated or
// not, the frame is not for us).
[[nodiscard]] unsigned http_status(FrameRejection reason);

struct FrameParties {
  raft::NodeId from = raft::kNoNode;
  raft::NodeId to = raft::kNoNode;
};

struct FrameVerdict {
  std::optional<FrameRejection> rejection;  // nullopt: accepted
  FrameParties parties;                     // as the headers claim (valid when accepted)
  std::string message;                      // one line, when rejected
  [[nodiscard]] bool accepted() const { return !rejection.has_value(); }
};

// Who this node is and whom it accepts frames from. `key` null: --insecure-peers (no MAC is
// required or checked; the parties are still).
struct PeerAuthConfig {
  raft::NodeId self_id = 0;
  std::set<raft::NodeId> members{};  // self included
  std::shared_ptr<const PeerKey> key{};
};

// The first step of every peer RPC, before decoding: headers present and well-formed, the frame
// for this node from another member, and (with a key) its MAC valid for `path`.
[[nodiscard]] FrameVerdict authenticate_frame(const PeerAuthConfig& config, std::string_view path,
                                              std::string_view from_header,
                                              std::string_view to_header,
                                              std::string_view mac_header, std::string_view body);

// After decoding: one message of an accepted frame must carry the frame's parties.
[[nodiscard]] std::optional<FrameRejection> check_message_parties(const FrameParties& parties,
                                                                  raft::NodeId message_from,
                                                                  raft::NodeId message_to);

// At most one log line per reason per `interval`: a flood of forged frames must not flood the
// log. Not thread-safe (one per io thread).
class RejectionLogLimiter {
 public:
  explicit RejectionLogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}
  // nullopt: stay silent (counted as suppressed). Otherwise log now, mentioning the returned
  // number of lines suppressed for this reason since the last one.
  [[nodiscard]] std::optional<uint64_t> admit(FrameRejection reason,
                                              std::chrono::steady_clock::time_point now);

 private:
  struct Slot {
    std::optional<std::chrono::steady_clock::time_point> last_logged;
    uint64_t suppressed = 0;
  };
  std::chrono::milliseconds interval_;
  std::array<Slot, kFrameRejectionCount> slots_{};
};

// The admin bearer token (--admin-token-file).
class AdminToken {
 public:
  // The token text (kAdminTokenCharsMin or more printable ASCII, no whitespace).
  [[nodiscard]] static std::optional<AdminToken> from_text(std::string_view token,
                                                           std::string* error);
  [[nodiscard]] static std::optional<AdminToken> from_file(const std::filesystem::path& path,
                                                           std::string* error);
  // True iff `authorization` is "Bearer <the token>". Compares SHA-256 digests with
  // CRYPTO_memcmp, so neither the token's bytes nor its length leak through timing.
  [[nodiscard]] bool accepts(std::string_view authorization) const;

 private:
  AdminToken() = default;
  std::array<unsigned char, 32> digest_{};
};

}  // namespace stress_node
