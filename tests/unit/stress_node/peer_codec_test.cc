// peer_codec.h: exact round trips of every message type, and strict, crash-free rejection of
// hostile bytes (random input, every truncation, every single-byte flip, mutations that keep a
// valid checksum so they reach the parser).
#include "peer_codec.h"

#include <gtest/gtest.h>

#include <iostream>

#include "raft/rand.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace stress_node {
namespace {

raft::Message full_message(raft::MessageType type, uint64_t salt) {
  raft::Message m;
  m.type = type;
  m.from = 1 + salt;
  m.to = raft::kNoNode - salt;  // the largest varint
  m.term = 1000 + salt;
  m.log_term = 999;
  m.index = (1ull << 40) + salt;
  m.entries = {
      {7, 100, raft::EntryType::kNormal, raft::Payload(std::string("a\0b", 3))},
      {7, 101, raft::EntryType::kNoop, raft::Payload()},
      {8, 102, raft::EntryType::kNormal, raft::Payload(std::string(300, 'x'))},
  };
  m.commit = 98;
  m.reject = true;
  m.reject_hint = 77;
  m.context = 0xdeadbeefcafef00dull;
  m.leader_transfer = true;
  m.snapshot = {5000, 12, raft::ConfState{{0, 1, 2, raft::kNoNode - 1}}, 1 << 20, ~0ull};
  m.snapshot_offset = 65536;
  m.snapshot_data = raft::Payload(std::string(1000, '\xff'));
  m.snapshot_last = true;
  m.snapshot_force = true;
  return m;
}

std::vector<raft::Message> every_type_batch() {
  std::vector<raft::Message> batch;
  for (int t = 0; t < raft::kMessageTypeCount; ++t) {
    batch.push_back(full_message(static_cast<raft::MessageType>(t), static_cast<uint64_t>(t)));
  }
  batch.push_back(raft::Message{});  // all defaults
  return batch;
}

// Rewrites the trailing checksum so a mutated body gets past it and into the parser.
void reseal(std::string* body) {
  if (body->size() < 8) return;
  const size_t covered = body->size() - 8;
  const uint64_t sum = XXH64(body->data(), covered, 0);
  for (size_t i = 0; i < 8; ++i) (*body)[covered + i] = static_cast<char>(sum >> (8 * i));
}

// The parser's contract on arbitrary input: reject with a reason, or accept something that
// re-encodes to exactly the same bytes (the encoding is canonical).
void expect_rejected_or_canonical(const std::string& body) {
  std::string error;
  std::optional<std::vector<raft::Message>> decoded = decode_batch(body, &error);
  if (decoded) {
    EXPECT_EQ(encode_batch(*decoded), body);
  } else {
    EXPECT_FALSE(error.empty());
  }
}

TEST(PeerCodec, EveryMessageTypeWithAllFieldsRoundTripsExactly) {
  const std::vector<raft::Message> batch = every_type_batch();
  const std::string body = encode_batch(batch);
  EXPECT_EQ(body.substr(0, 4), "RKPB");
  EXPECT_EQ(static_cast<uint8_t>(body[4]), kPeerCodecVersion);
  std::string error;
  std::optional<std::vector<raft::Message>> back = decode_batch(body, &error);
  ASSERT_TRUE(back) << error;
  ASSERT_EQ(back->size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ((*back)[i], batch[i]) << "message " << i;
}

TEST(PeerCodec, EmptyBatchRoundTrips) {
  std::string error;
  std::optional<std::vector<raft::Message>> back = decode_batch(encode_batch({}), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_TRUE(back->empty());
}

TEST(PeerCodec, HeartbeatsAreCompact) {
  raft::Message hb;
  hb.type = raft::MessageType::kHeartbeat;
  hb.from = 0;
  hb.to = 2;
  hb.term = 5;
  hb.commit = 123456;
  hb.context = 42;
  const std::string body = encode_batch({hb});
  EXPECT_LE(body.size(), 40u);
  EXPECT_LE(encode_batch(std::vector<raft::Message>(100, hb)).size(), 100 * 28u);
}

TEST(PeerCodec, EncodedSizeBoundHolds) {
  for (const raft::Message& m : every_type_batch()) {
    EXPECT_LE(encode_batch({m}).size(), encoded_size_bound(m) + 4 + 1 + 10 + 8);
  }
}

TEST(PeerCodec, FramingErrorsAreNamed) {
  const std::string body = encode_batch(every_type_batch());
  std::string error;
  std::string bad = body;
  bad[0] = 'X';
  EXPECT_FALSE(decode_batch(bad, &error));
  EXPECT_EQ(error, "bad magic");
  bad = body;
  bad[4] = 2;
  EXPECT_FALSE(decode_batch(bad, &error));
  EXPECT_EQ(error, "unsupported version 2");
  bad = body;
  bad[body.size() / 2] ^= 1;
  EXPECT_FALSE(decode_batch(bad, &error));
  EXPECT_EQ(error, "checksum mismatch");
  EXPECT_FALSE(decode_batch("", &error));
  EXPECT_FALSE(decode_batch(body + "x", &error));
  bad = body + "x";
  reseal(&bad);
  EXPECT_FALSE(decode_batch(bad, &error));
  EXPECT_NE(error.find("trailing bytes"), std::string::npos) << error;
  EXPECT_FALSE(decode_batch(body, nullptr) == std::nullopt);
}

// Hand-built bodies that pass the checksum but break one structural rule each.
std::string sealed(std::string prefix_after_version) {
  std::string body = "RKPB";
  body.push_back(static_cast<char>(kPeerCodecVersion));
  body += prefix_after_version;
  body.append(8, '\0');
  reseal(&body);
  return body;
}

TEST(PeerCodec, StructuralViolationsAreRejected) {
  const std::string zero_message(18, '\0');  // type 0, no flags, all fields zero
  std::string error;
  ASSERT_TRUE(decode_batch(sealed("\x01" + zero_message), &error)) << error;

  struct Case {
    std::string body;
    std::string reason;
  };
  std::string unknown_type = zero_message;
  unknown_type[0] = static_cast<char>(raft::kMessageTypeCount);
  std::string unknown_flag = zero_message;
  unknown_flag[1] = 16;  // bits 0-3 are defined
  std::string entry_eats_the_rest = zero_message;
  entry_eats_the_rest[10] = 1;  // one entry claimed; its bytes are the meta's
  const std::vector<Case> cases = {
      {sealed("\x02" + zero_message), "message count past end"},
      {sealed(std::string("\x80\x80\x80\x80\x01", 5) + zero_message), "message count over bound"},
      {sealed(std::string("\x81\x00", 2)), "non-minimal varint"},
      {sealed(std::string(10, '\xff') + "\x01"), "varint overflows 64 bits"},
      {sealed("\x01" + unknown_type), "unknown message type 13"},
      {sealed("\x01" + unknown_flag), "unknown flags"},
      {sealed("\x01" + entry_eats_the_rest), "truncated varint"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(decode_batch(c.body, &error)) << c.reason;
    EXPECT_NE(error.find(c.reason), std::string::npos)
        << "want '" << c.reason << "', got '" << error << "'";
  }
}

TEST(PeerCodec, BoundsOnEntriesVotersAndPayloadsAreEnforced) {
  std::string error;
  // 100,001 empty entries across two messages: over the per-batch bound.
  raft::Message a;
  a.entries.resize(kPeerBatchEntriesMax / 2 + 1);
  EXPECT_TRUE(decode_batch(encode_batch({a}), &error)) << error;
  EXPECT_FALSE(decode_batch(encode_batch({a, a}), &error));
  EXPECT_NE(error.find("entry count over bound"), std::string::npos) << error;

  raft::Message v;
  for (raft::NodeId id = 0; id <= kPeerVotersMax; ++id) v.snapshot.conf.voters.push_back(id);
  EXPECT_FALSE(decode_batch(encode_batch({v}), &error));
  EXPECT_NE(error.find("voter count over bound"), std::string::npos) << error;

  raft::Message unsorted;
  unsorted.snapshot.conf.voters = {2, 1};
  EXPECT_FALSE(decode_batch(encode_batch({unsorted}), &error));
  EXPECT_NE(error.find("voters not strictly ascending"), std::string::npos) << error;

  raft::Message bad_entry;
  bad_entry.entries.resize(1);
  bad_entry.entries[0].type = static_cast<raft::EntryType>(2);
  EXPECT_FALSE(decode_batch(encode_batch({bad_entry}), &error));
  EXPECT_NE(error.find("unknown entry type 2"), std::string::npos) << error;
}

TEST(PeerCodec, ClaimedLengthsBeyondTheBodyAllocateNothingAndFail) {
  // A message claiming a 2^40-byte payload in a tiny body.
  std::string msg(16, '\0');  // type..context, entries=0, meta 5 zeros -> 16 bytes so far
  msg.push_back(0);           // snapshot_offset
  msg += std::string("\x80\x80\x80\x80\x80\x20", 6);  // data length 2^40
  std::string error;
  EXPECT_FALSE(decode_batch(sealed("\x01" + msg), &error));
  EXPECT_NE(error.find("payload over bound"), std::string::npos) << error;
}

TEST(PeerCodec, EveryTruncationAndSingleByteFlipIsRejected) {
  const std::string body = encode_batch(every_type_batch());
  for (size_t n = 0; n < body.size(); ++n) {
    std::string error;
    ASSERT_FALSE(decode_batch(body.substr(0, n), &error)) << "truncated to " << n;
    ASSERT_FALSE(error.empty());
  }
  for (size_t i = 0; i < body.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = body;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      ASSERT_FALSE(decode_batch(flipped, nullptr)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(PeerCodec, ResealedTruncationsAndFlipsAreRejectedOrCanonical) {
  const std::string body = encode_batch(every_type_batch());
  for (size_t n = 8; n < body.size(); ++n) {
    std::string cut = body.substr(0, n - 8) + std::string(8, '\0');
    reseal(&cut);
    expect_rejected_or_canonical(cut);
  }
  for (size_t i = 5; i + 8 < body.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = body;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      reseal(&flipped);
      expect_rejected_or_canonical(flipped);
    }
  }
}

TEST(PeerCodec, RandomBytesNeverCrashTheDecoder) {
  // Fixed seed, printed; change it here (or loop over many) to explore further.
  const uint64_t seed = 0x7065657263646563ull;
  std::cout << "PeerCodec fuzz seed: 0x" << std::hex << seed << std::dec << "\n";
  SCOPED_TRACE("seed " + std::to_string(seed));
  raft::SplitMix64 rng(seed);
  const std::string valid = encode_batch(every_type_batch());
  for (int round = 0; round < 20000; ++round) {
    std::string body;
    if (round % 2 == 0) {
      // Pure noise, sometimes behind a valid header.
      const size_t n = rng.below(200);
      if (round % 4 == 0) body = valid.substr(0, 5);
      for (size_t i = 0; i < n; ++i) body.push_back(static_cast<char>(rng.next()));
    } else {
      // A valid batch with a few random byte edits, then resealed.
      body = valid;
      const uint64_t edits = 1 + rng.below(4);
      for (uint64_t e = 0; e < edits; ++e) {
        body[5 + rng.below(body.size() - 13)] = static_cast<char>(rng.next());
      }
    }
    if (round % 3 != 0) reseal(&body);
    expect_rejected_or_canonical(body);
  }
}

}  // namespace
}  // namespace stress_node
