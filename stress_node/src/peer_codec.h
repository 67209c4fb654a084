// The wire format of peer traffic (/_raft/append, /_raft/vote, /_raft/snapshot bodies): a batch
// of raft::Message, compact, versioned and checksummed.
//
//   batch   := magic "RKPB" | version u8 (=1) | count varint | message*count | xxh64 u64le
//   message := type u8 | flags u8 (bit0 reject, bit1 leader_transfer, bit2 snapshot_last,
//              bit3 snapshot_force)
//              | from | to | term | log_term | index | commit | reject_hint | context   (varints)
//              | entry_count varint | entry*entry_count
//              | snap_index | snap_term | voter_count | voter*voter_count (strictly ascending)
//              | snap_size_bytes | snap_checksum                               (varints)
//              | snapshot_offset varint | data_len varint | data bytes
//   entry   := term varint | index varint | type u8 | data_len varint | data bytes
//
// Varints are unsigned LEB128 in their shortest form; every field of raft::Message is carried,
// so decode(encode(batch)) == batch. The trailing XXH64 (seed 0) covers every byte before it.
// Decoding is strict, so each valid batch has exactly one encoding: anything else (bad magic,
// version or checksum, truncation, trailing bytes, unknown types or flags, non-minimal varints,
// counts or lengths past the bounds below) is rejected with a reason.
//
// Authentication is not in the body: the HTTP request that carries a batch names its parties and
// carries an HMAC-SHA256 over path, parties and this whole body in X-Raft-From / X-Raft-To /
// X-Raft-Mac headers (peer_auth.h), checked before decode_batch ever runs. The XXH64 trailer stays
// (issue 14: "only if it still earns its place"): it is no defence against forgery (anyone can
// compute it) and under a cluster secret the MAC already covers every byte, but with
// --insecure-peers it is the only check that catches payload bytes corrupted in transit, which
// the strict decoder cannot see (an entry's data has no structure); it costs a small fraction of
// the HMAC (XXH64 runs at memory speed), and dropping it only in secure mode would need two wire
// formats. Fuzz targets that want to reach the parser reseal it (peer_codec_test.cc reseal()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raft/message.h"

namespace stress_node {

inline constexpr uint8_t kPeerCodecVersion = 1;
inline constexpr std::string_view kPeerContentType = "application/octet-stream";

// Decoder bounds (also what the transport keeps its batches within).
inline constexpr size_t kPeerBatchMessagesMax = 100'000;
inline constexpr size_t kPeerBatchEntriesMax = 100'000;  // summed over the batch's messages
inline constexpr size_t kPeerVotersMax = 1'024;
inline constexpr uint64_t kPeerPayloadBytesMax = 256ull << 20;  // one entry or snapshot chunk

// An upper bound on encode_batch's bytes for this one message (for budgets and reserve()).
[[nodiscard]] uint64_t encoded_size_bound(const raft::Message& message);

// Never fails. A batch beyond the bounds above encodes, but decode_batch will reject it: the
// caller keeps within them.
[[nodiscard]] std::string encode_batch(const std::vector<raft::Message>& messages);

// Never reads outside `body` and never allocates more than `body.size()` implies. On failure
// returns nullopt and, if `error` is non-null, a one-line reason.
[[nodiscard]] std::optional<std::vector<raft::Message>> decode_batch(std::string_view body,
                                                                     std::string* error);

}  // namespace stress_node
