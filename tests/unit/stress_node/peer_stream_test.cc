// peer_stream.h: the stream's frames. A genuine frame verifies at its place on its connection;
// a forged, replayed, reordered, redirected, moved (another connection), truncated or oversized
// one is refused with its reason, and the MAC is the documented one (recomputed here with
// OpenSSL's one-shot HMAC).
#include "peer_stream.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "peer_codec.h"

namespace stress_node {
namespace {

constexpr uint32_t kFrameBytesMax = 1 << 20;

PeerKey key_of(char fill) {
  std::string error;
  auto key = PeerKey::derive(std::string(32, fill), &error);
  EXPECT_TRUE(key) << error;
  return *key;
}

std::string batch(uint64_t index) {
  raft::Message m;
  m.type = raft::MessageType::kAppendResp;
  m.from = 1;
  m.to = 0;
  m.term = 3;
  m.index = index;
  return encode_batch({m});
}

// A whole frame as the sender writes it: prefix then body.
std::string frame(StreamFrameWriter& writer, const std::string& body) {
  return writer.next_prefix(body) + body;
}

// What the receiver makes of one whole frame: nullopt and the body, or the refusal.
struct Outcome {
  std::optional<FrameRejection> rejection;
  std::string body;
};
Outcome receive(StreamFrameReader& reader, const std::string& bytes) {
  std::array<unsigned char, kStreamLengthBytes> prefix{};
  std::copy_n(reinterpret_cast<const unsigned char*>(bytes.data()), kStreamLengthBytes,
              prefix.begin());
  const auto length = reader.parse_length(prefix);
  if (length.rejection) return {length.rejection, {}};
  if (bytes.size() - kStreamLengthBytes != length.payload_bytes) {
    return {FrameRejection::kTruncatedFrame, {}};
  }
  std::string_view body;
  const auto rejection = reader.verify(std::string_view(bytes).substr(kStreamLengthBytes), &body);
  return {rejection, std::string(body)};
}

class PeerStreamFrames : public ::testing::Test {
 protected:
  const PeerKey key_ = key_of('k');
  const std::string id_ = stream_connection_id(new_stream_nonce(), new_stream_nonce());
  StreamFrameWriter writer_{&key_, id_, 1, 0};
  StreamFrameReader reader_{&key_, id_, FrameParties{1, 0}, kFrameBytesMax};
};

TEST_F(PeerStreamFrames, GenuineFramesVerifyInOrderAndYieldTheirBatches) {
  for (uint64_t i = 0; i < 5; ++i) {
    const Outcome out = receive(reader_, frame(writer_, batch(i)));
    ASSERT_FALSE(out.rejection) << reason_label(*out.rejection);
    EXPECT_EQ(out.body, batch(i));
  }
  EXPECT_EQ(reader_.frames_read(), 5u);
}

TEST_F(PeerStreamFrames, AFrameReplayedOnItsConnectionIsRefused) {
  const std::string first = frame(writer_, batch(1));
  ASSERT_FALSE(receive(reader_, first).rejection);
  EXPECT_EQ(receive(reader_, first).rejection, FrameRejection::kBadMac);
}

TEST_F(PeerStreamFrames, FramesDeliveredOutOfOrderAreRefused) {
  const std::string first = frame(writer_, batch(1));
  const std::string second = frame(writer_, batch(2));
  EXPECT_EQ(receive(reader_, second).rejection, FrameRejection::kBadMac);
}

TEST_F(PeerStreamFrames, AFrameMovedToAnotherConnectionIsRefused) {
  const std::string genuine = frame(writer_, batch(1));
  StreamFrameReader other(&key_, stream_connection_id(new_stream_nonce(), new_stream_nonce()),
                          FrameParties{1, 0}, kFrameBytesMax);
  EXPECT_EQ(receive(other, genuine).rejection, FrameRejection::kBadMac);
}

TEST_F(PeerStreamFrames, AFrameForgedWithAnotherKeyIsRefused) {
  const PeerKey other_key = key_of('x');
  StreamFrameWriter forger(&other_key, id_, 1, 0);
  EXPECT_EQ(receive(reader_, frame(forger, batch(1))).rejection, FrameRejection::kBadMac);
}

TEST_F(PeerStreamFrames, AnyFlippedBitIsRefused) {
  const std::string genuine = frame(writer_, batch(1));
  for (size_t i = kStreamLengthBytes; i < genuine.size(); ++i) {
    std::string tampered = genuine;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    StreamFrameReader fresh(&key_, id_, FrameParties{1, 0}, kFrameBytesMax);
    EXPECT_EQ(receive(fresh, tampered).rejection, FrameRejection::kBadMac) << "byte " << i;
  }
}

TEST_F(PeerStreamFrames, AFrameOfAnotherDirectionIsRefused) {
  StreamFrameWriter reflected(&key_, id_, 0, 1);  // the same connection id, parties swapped
  EXPECT_EQ(receive(reader_, frame(reflected, batch(1))).rejection, FrameRejection::kBadMac);
}

TEST_F(PeerStreamFrames, ALengthOverTheLimitIsRefusedBeforeReading) {
  const std::array<unsigned char, kStreamLengthBytes> prefix = {0x00, 0x10, 0x00, 0x01};
  const auto length = reader_.parse_length(prefix);
  EXPECT_EQ(length.rejection, FrameRejection::kFrameTooLarge);
  EXPECT_EQ(length.payload_bytes, (1u << 20) + 1);
}

TEST_F(PeerStreamFrames, AFrameNoLongerThanItsMacIsTruncated) {
  const std::array<unsigned char, kStreamLengthBytes> prefix = {0, 0, 0, kStreamMacBytes};
  EXPECT_EQ(reader_.parse_length(prefix).rejection, FrameRejection::kTruncatedFrame);
  std::string_view body;
  EXPECT_EQ(reader_.verify(std::string(10, 'x'), &body), FrameRejection::kTruncatedFrame);
}

TEST_F(PeerStreamFrames, AfterARefusalNoLaterFrameOfTheConnectionVerifies) {
  const std::string first = frame(writer_, batch(1));
  const std::string second = frame(writer_, batch(2));
  std::string tampered = first;
  tampered.back() = static_cast<char>(tampered.back() ^ 0x40);
  EXPECT_EQ(receive(reader_, tampered).rejection, FrameRejection::kBadMac);
  // The refused frame used up sequence number 0, so the genuine first frame cannot follow it.
  EXPECT_EQ(receive(reader_, first).rejection, FrameRejection::kBadMac);
}

TEST(PeerStreamInsecure, FramesCarryNoMacAndPassAsTheyAre) {
  StreamFrameWriter writer(nullptr, "id", 1, 0);
  StreamFrameReader reader(nullptr, "id", FrameParties{1, 0}, kFrameBytesMax);
  const std::string body = batch(9);
  const std::string bytes = frame(writer, body);
  EXPECT_EQ(bytes.size(), kStreamLengthBytes + body.size());
  const Outcome out = receive(reader, bytes);
  ASSERT_FALSE(out.rejection);
  EXPECT_EQ(out.body, body);
}

// The HKDF key as peer_auth.h documents it (pinned independently in peer_auth_test.cc).
std::array<unsigned char, 32> derived_key(const std::string& secret) {
  std::array<unsigned char, 32> key{};
  size_t key_len = key.size();
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  const std::string info = "raftkv peer frame key v1";
  EXPECT_EQ(EVP_PKEY_derive_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, reinterpret_cast<const unsigned char*>(secret.data()),
                                       static_cast<int>(secret.size())),
            1);
  EXPECT_EQ(EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const unsigned char*>(info.data()),
                                        static_cast<int>(info.size())),
            1);
  EXPECT_EQ(EVP_PKEY_derive(ctx, key.data(), &key_len), 1);
  EVP_PKEY_CTX_free(ctx);
  return key;
}

// Pins the documented frame (peer_stream.h, peer_auth.h) with an independent computation.
TEST(PeerStreamFormat, TheFrameIsLengthThenTheDocumentedHmacThenTheBatch) {
  const std::string secret(32, 'k');
  const PeerKey key = key_of('k');
  const std::string id = stream_connection_id(std::string(32, 'a'), std::string(32, 'b'));
  StreamFrameWriter writer(&key, id, 2, 5);
  (void)writer.next_prefix("first");  // the frame below is the second: seq 1
  const std::string body = batch(4);
  const std::string prefix = writer.next_prefix(body);

  const uint32_t length = static_cast<uint32_t>(kStreamMacBytes + body.size());
  const std::string length_be = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                                 static_cast<char>(length >> 8), static_cast<char>(length)};
  std::string input = "raftkv peer stream frame v1";
  input.push_back('\0');
  input += id;
  input.push_back('\0');
  input += std::string("\0\0\0\0\0\0\0\x01", 8);  // seq 1
  input += std::string("\0\0\0\0\0\0\0\x02", 8);  // from 2
  input += std::string("\0\0\0\0\0\0\0\x05", 8);  // to 5
  input += body;
  const auto k = derived_key(secret);
  unsigned char mac[32];
  unsigned int mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len),
            nullptr);
  EXPECT_EQ(prefix, length_be + std::string(reinterpret_cast<const char*>(mac), mac_len));
}

TEST(PeerStreamNonces, AreFreshLowercaseHex) {
  const std::string a = new_stream_nonce();
  const std::string b = new_stream_nonce();
  EXPECT_TRUE(is_stream_nonce(a));
  EXPECT_NE(a, b);
  EXPECT_FALSE(is_stream_nonce(a.substr(1)));
  EXPECT_FALSE(is_stream_nonce(std::string(32, 'A')));
  EXPECT_FALSE(is_stream_nonce(std::string(32, 'g')));
}

}  // namespace
}  // namespace stress_node
