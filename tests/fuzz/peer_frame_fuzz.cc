// Fuzz target: the peer frame decoder (stress_node/src/peer_codec.h), the first code a peer's
// bytes reach on /_raft/append, /_raft/vote and /_raft/snapshot.
//
// Input: byte 0 picks the mode, the rest is the frame.
//   mode even: the rest is a frame body without its trailer; seal() appends a valid one, so the
//              fuzzer explores the decoder behind the integrity check, which it could never pass
//              by chance.
//   mode odd:  the rest goes to the receiver as is (the integrity check itself).
// The frame then goes through check_and_decode(), the receiver's path in order. When peer frames
// carry a MAC (issue 14 "Peer authentication"), both seal() and check_and_decode() grow the MAC:
// seal() computes it with a fixed fuzz key, and the MAC check goes first in check_and_decode().
//
// Oracles: decoding never crashes or reads out of bounds (ASan); a frame that decodes re-encodes
// to exactly the same bytes (the codec promises one encoding per batch); its bounds hold.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz_support.h"
#include "peer_codec.h"

namespace {

// The trailer the receiver checks: XXH64 (seed 0) of everything before it, little-endian.
std::string seal(std::string_view body) {
  std::string frame(body);
  const uint64_t sum = XXH64(body.data(), body.size(), 0);
  for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>(sum >> (8 * i)));
  return frame;
}

std::optional<std::vector<raft::Message>> check_and_decode(std::string_view frame,
                                                           std::string* error) {
  return node::decode_batch(frame, error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string frame = (data[0] & 1) == 0 ? seal(rest) : std::string(rest);

  std::string error;
  const auto messages = check_and_decode(frame, &error);
  if (!messages) {
    FUZZ_CHECK(!error.empty(), "a rejected frame has a reason");
    return 0;
  }
  FUZZ_CHECK(messages->size() <= node::kPeerBatchMessagesMax, "message count bound");
  size_t entries = 0;
  for (const raft::Message& m : *messages) {
    entries += m.entries.size();
    FUZZ_CHECK(m.snapshot.conf.voters.size() <= node::kPeerVotersMax, "voter bound");
    FUZZ_CHECK(m.snapshot_data.size() <= node::kPeerPayloadBytesMax, "payload bound");
  }
  FUZZ_CHECK(entries <= node::kPeerBatchEntriesMax, "entry bound");
  FUZZ_CHECK(node::encode_batch(*messages) == frame, "a decoded frame re-encodes to its bytes");
  return 0;
}
