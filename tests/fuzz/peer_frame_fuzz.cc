// Fuzz target: the first code a peer's bytes reach on /_raft/append, /_raft/vote and
// /_raft/snapshot: the frame authentication (stress_node/src/peer_auth.h, the HMAC over path,
// sender, receiver and body, checked before any decoding) and then the decoder
// (stress_node/src/peer_codec.h).
//
// Input: byte 0 picks the mode, the rest is the frame body.
//   bit 0 clear: seal() appends a valid XXH64 trailer, so the fuzzer explores the decoder behind
//                the integrity check, which it could never pass by chance; set: the body as is.
//   bit 1 clear: the frame is signed with the fixed fuzz key (the MAC check passes and the body
//                is decoded); set: the MAC is taken from the input's first 64 bytes (the check
//                must refuse it: a forged MAC never verifies, and nothing is decoded).
//   bits 2-3:    the X-Raft-From header: a member, an unknown id, self, or not a number.
//
// Oracles: a frame whose MAC is not the key's is never accepted; an accepted frame comes from
// another member and is addressed to us; decoding never crashes or reads out of bounds (ASan); a
// frame that decodes re-encodes to exactly the same bytes (one encoding per batch); bounds hold.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz_support.h"
#include "peer_auth.h"
#include "peer_codec.h"

namespace {

// The trailer the receiver checks: XXH64 (seed 0) of everything before it, little-endian.
std::string seal(std::string_view body) {
  std::string frame(body);
  const uint64_t sum = XXH64(body.data(), body.size(), 0);
  for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>(sum >> (8 * i)));
  return frame;
}

constexpr raft::NodeId kSelf = 0;
constexpr std::string_view kPath = "/_raft/append";

const stress_node::PeerAuthConfig& auth_config() {
  static const stress_node::PeerAuthConfig config = [] {
    std::string error;
    auto key = stress_node::PeerKey::derive(std::string(32, 'k'), &error);
    FUZZ_CHECK(key.has_value(), "the fuzz key derives");
    stress_node::PeerAuthConfig c;
    c.self_id = kSelf;
    c.members = {0, 1, 2};
    c.key = std::make_shared<const stress_node::PeerKey>(std::move(*key));
    return c;
  }();
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool forged_mac = (mode & 2) != 0;
  std::string mac;
  if (forged_mac) {
    mac = std::string(rest.substr(0, 64));
    rest.remove_prefix(mac.size());
  }
  const std::string frame = (mode & 1) == 0 ? seal(rest) : std::string(rest);
  static constexpr const char* kFrom[] = {"1", "7", "0", "x1"};
  const std::string from = kFrom[(mode >> 2) & 3];
  const stress_node::PeerAuthConfig& config = auth_config();
  const bool honest_sender = from == "1";
  if (!forged_mac) mac = config.key->sign(kPath, 1, kSelf, frame);

  const stress_node::FrameVerdict verdict =
      stress_node::authenticate_frame(config, kPath, from, std::to_string(kSelf), mac, frame);
  if (!verdict.accepted()) {
    FUZZ_CHECK(!verdict.message.empty(), "a refused frame has a reason");
    FUZZ_CHECK(forged_mac || !honest_sender, "a signed frame from a member is accepted");
    return 0;
  }
  FUZZ_CHECK(honest_sender, "only another member's frame is accepted");
  FUZZ_CHECK(config.key->verify(kPath, 1, kSelf, frame, mac), "an accepted MAC verifies");
  FUZZ_CHECK(verdict.parties.from == 1 && verdict.parties.to == kSelf, "the parties are read");

  std::string error;
  const auto messages = stress_node::decode_batch(frame, &error);
  if (!messages) {
    FUZZ_CHECK(!error.empty(), "a rejected frame has a reason");
    return 0;
  }
  FUZZ_CHECK(messages->size() <= stress_node::kPeerBatchMessagesMax, "message count bound");
  size_t entries = 0;
  for (const raft::Message& m : *messages) {
    entries += m.entries.size();
    FUZZ_CHECK(m.snapshot.conf.voters.size() <= stress_node::kPeerVotersMax, "voter bound");
    FUZZ_CHECK(m.snapshot_data.size() <= stress_node::kPeerPayloadBytesMax, "payload bound");
  }
  FUZZ_CHECK(entries <= stress_node::kPeerBatchEntriesMax, "entry bound");
  FUZZ_CHECK(stress_node::encode_batch(*messages) == frame,
             "a decoded frame re-encodes to its bytes");
  return 0;
}
