// peer_auth.h: the MAC of peer frames (accepted when genuine; refused for any flipped bit, another
// key, swapped parties or another path), the documented frame format (recomputed here with
// OpenSSL's one-shot HMAC and HKDF), the secret files (mode and format), the admin token and the
// rejection log limiter.
#include "peer_auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "peer_codec.h"
#include "peer_transport.h"

namespace stress_node {
namespace {

namespace fs = std::filesystem;

const std::string kSecretHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string secret_bytes() {
  std::string out;
  for (size_t i = 0; i < kSecretHex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(kSecretHex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

PeerKey key_of(std::string_view secret) {
  std::string error;
  auto key = PeerKey::derive(secret, &error);
  EXPECT_TRUE(key) << error;
  return *key;
}

std::string sample_body() {
  raft::Message m;
  m.type = raft::MessageType::kAppendResp;
  m.from = 1;
  m.to = 0;
  m.term = 7;
  m.index = 42;
  return encode_batch({m});
}

PeerAuthConfig receiver(raft::NodeId self, std::shared_ptr<const PeerKey> key) {
  return PeerAuthConfig{self, {0, 1, 2}, std::move(key)};
}

FrameVerdict present(const PeerAuthConfig& config, std::string_view path, raft::NodeId from,
                     raft::NodeId to, std::string_view mac, std::string_view body) {
  return authenticate_frame(config, path, std::to_string(from), std::to_string(to), mac, body);
}

// A temporary file with `content` and `mode`, removed at scope exit.
class TempFile {
 public:
  TempFile(const std::string& content, fs::perms mode) {
    path_ = fs::temp_directory_path() /
            ("peer_auth_test." + std::to_string(::getpid()) + "." + std::to_string(counter_++));
    std::ofstream(path_) << content;
    fs::permissions(path_, mode);
  }
  ~TempFile() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

constexpr fs::perms kOwnerRw = fs::perms::owner_read | fs::perms::owner_write;

TEST(PeerFrameMac, GenuineFrameIsAccepted) {
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  const std::string mac = key->sign(kRaftAppendPath, 1, 0, body);
  EXPECT_EQ(mac.size(), 64u);
  const FrameVerdict verdict = present(receiver(0, key), kRaftAppendPath, 1, 0, mac, body);
  EXPECT_TRUE(verdict.accepted()) << verdict.message;
  EXPECT_EQ(verdict.parties.from, 1u);
  EXPECT_EQ(verdict.parties.to, 0u);
}

TEST(PeerFrameMac, EveryFlippedBodyBitIsRejected) {
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  const std::string mac = key->sign(kRaftAppendPath, 1, 0, body);
  for (size_t byte = 0; byte < body.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = body;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      const FrameVerdict verdict = present(receiver(0, key), kRaftAppendPath, 1, 0, mac, flipped);
      ASSERT_EQ(verdict.rejection, FrameRejection::kBadMac) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(PeerFrameMac, FlippedMacBitIsRejected) {
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  const std::string mac = key->sign(kRaftAppendPath, 1, 0, body);
  for (size_t i : {size_t{0}, mac.size() / 2, mac.size() - 1}) {
    std::string altered = mac;
    altered[i] = altered[i] == '0' ? '1' : '0';
    EXPECT_EQ(present(receiver(0, key), kRaftAppendPath, 1, 0, altered, body).rejection,
              FrameRejection::kBadMac)
        << "hex digit " << i;
  }
  // Malformed values are refused the same way, never parsed leniently.
  for (const std::string& bad :
       {mac.substr(1), mac + "0", std::string(64, 'g'), std::string(64, ' '), std::string("0")}) {
    EXPECT_EQ(present(receiver(0, key), kRaftAppendPath, 1, 0, bad, body).rejection,
              FrameRejection::kBadMac)
        << bad;
  }
}

TEST(PeerFrameMac, FrameSignedWithAnotherSecretIsRejected) {
  std::string other = secret_bytes();
  other.back() = static_cast<char>(other.back() ^ 1);
  const PeerKey attacker = key_of(other);
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  EXPECT_EQ(present(receiver(0, key), kRaftAppendPath, 1, 0,
                    attacker.sign(kRaftAppendPath, 1, 0, body), body)
                .rejection,
            FrameRejection::kBadMac);
}

TEST(PeerFrameMac, SwappedSenderAndReceiverAreRejected) {
  // A frame 0 -> 1 reflected back to node 0 as if 1 -> 0.
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  const std::string mac = key->sign(kRaftAppendPath, 0, 1, body);
  EXPECT_EQ(present(receiver(0, key), kRaftAppendPath, 1, 0, mac, body).rejection,
            FrameRejection::kBadMac);
  // Redirected to a third node with its recipient rewritten.
  EXPECT_EQ(present(receiver(2, key), kRaftAppendPath, 0, 2, mac, body).rejection,
            FrameRejection::kBadMac);
}

TEST(PeerFrameMac, FrameReplayedToAnotherPathIsRejected) {
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  const std::string vote_mac = key->sign(kRaftVotePath, 1, 0, body);
  EXPECT_TRUE(present(receiver(0, key), kRaftVotePath, 1, 0, vote_mac, body).accepted());
  for (std::string_view path : {kRaftAppendPath, kRaftSnapshotPath}) {
    EXPECT_EQ(present(receiver(0, key), path, 1, 0, vote_mac, body).rejection,
              FrameRejection::kBadMac)
        << path;
  }
}

TEST(PeerFrameMac, FrameWithoutMacIsRejectedUnlessPeersAreInsecure) {
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  EXPECT_EQ(present(receiver(0, key), kRaftAppendPath, 1, 0, "", body).rejection,
            FrameRejection::kMissingMac);
  EXPECT_TRUE(present(receiver(0, nullptr), kRaftAppendPath, 1, 0, "", body).accepted());
}

TEST(PeerFrameMac, PartiesAreCheckedAfterTheMac) {
  const auto key = std::make_shared<const PeerKey>(key_of(secret_bytes()));
  const std::string body = sample_body();
  // Genuinely signed, but for node 2 or from a non-member or from the receiver itself.
  EXPECT_EQ(
      present(receiver(0, key), kRaftAppendPath, 1, 2, key->sign(kRaftAppendPath, 1, 2, body), body)
          .rejection,
      FrameRejection::kWrongRecipient);
  EXPECT_EQ(
      present(receiver(0, key), kRaftAppendPath, 9, 0, key->sign(kRaftAppendPath, 9, 0, body), body)
          .rejection,
      FrameRejection::kUnknownSender);
  EXPECT_EQ(
      present(receiver(0, key), kRaftAppendPath, 0, 0, key->sign(kRaftAppendPath, 0, 0, body), body)
          .rejection,
      FrameRejection::kUnknownSender);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"", "0"},
                                 {"1", ""},
                                 {"x", "0"},
                                 {"1", "-1"},
                                 {"1 ", "0"}}) {
    EXPECT_EQ(authenticate_frame(receiver(0, key), kRaftAppendPath, from, to, "", body).rejection,
              FrameRejection::kMissingParties)
        << "'" << from << "' -> '" << to << "'";
  }
}

TEST(PeerFrameMac, DecodedMessagesMustCarryTheAuthenticatedParties) {
  const FrameParties parties{1, 0};
  EXPECT_FALSE(check_message_parties(parties, 1, 0));
  EXPECT_EQ(check_message_parties(parties, 2, 0), FrameRejection::kSenderMismatch);
  EXPECT_EQ(check_message_parties(parties, 1, 2), FrameRejection::kWrongRecipient);
}

// Pins the documented format (peer_auth.h) with an independent computation, so that another
// implementation (or a test signing frames by hand) can follow the header comment alone.
TEST(PeerFrameMac, MacIsHmacSha256OfTheDocumentedInputUnderTheHkdfKey) {
  const std::string secret = secret_bytes();
  unsigned char key[32];
  size_t key_len = sizeof key;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  ASSERT_NE(ctx, nullptr);
  const std::string info = "raftkv peer frame key v1";
  ASSERT_EQ(EVP_PKEY_derive_init(ctx), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, reinterpret_cast<const unsigned char*>(secret.data()),
                                       static_cast<int>(secret.size())),
            1);
  ASSERT_EQ(EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const unsigned char*>(info.data()),
                                        static_cast<int>(info.size())),
            1);
  ASSERT_EQ(EVP_PKEY_derive(ctx, key, &key_len), 1);
  EVP_PKEY_CTX_free(ctx);

  const std::string body = sample_body();
  std::string input = "raftkv peer frame v1";
  input.push_back('\0');
  input += kRaftSnapshotPath;
  input.push_back('\0');
  const std::string parties("\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x05", 16);  // from 2, to 5 (u64be)
  input += parties + body;
  unsigned char mac[32];
  unsigned int mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), key, static_cast<int>(key_len),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len),
            nullptr);
  const auto to_hex = [](const unsigned char* bytes, unsigned n) {
    std::string hex;
    for (unsigned i = 0; i < n; ++i) {
      char two[3];
      std::snprintf(two, sizeof two, "%02x", bytes[i]);
      hex += two;
    }
    return hex;
  };
  EXPECT_EQ(key_of(secret).sign(kRaftSnapshotPath, 2, 5, body), to_hex(mac, mac_len));
  // And the key is derived: a MAC keyed by the raw secret does not verify.
  ASSERT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len),
            nullptr);
  EXPECT_FALSE(key_of(secret).verify(kRaftSnapshotPath, 2, 5, body, to_hex(mac, mac_len)));
}

TEST(PeerFrameMac, FrameHeadersCarryPartiesAndMacOnlyWithAKey) {
  const PeerKey key = key_of(secret_bytes());
  const std::string body = sample_body();
  const auto signed_headers = frame_headers(&key, kRaftAppendPath, 1, 0, body);
  ASSERT_EQ(signed_headers.size(), 3u);
  EXPECT_EQ(signed_headers[0], std::make_pair(std::string(kPeerFromHeader), std::string("1")));
  EXPECT_EQ(signed_headers[1], std::make_pair(std::string(kPeerToHeader), std::string("0")));
  EXPECT_EQ(signed_headers[2].first, kPeerMacHeader);
  EXPECT_TRUE(key.verify(kRaftAppendPath, 1, 0, body, signed_headers[2].second));
  EXPECT_EQ(frame_headers(nullptr, kRaftAppendPath, 1, 0, body).size(), 2u);
}

TEST(ClusterSecretFile, HexSecretWithTrailingNewlineAndOwnerOnlyModeIsAccepted) {
  TempFile lower(kSecretHex + "\n", kOwnerRw);
  std::string upper_hex = kSecretHex;
  for (char& c : upper_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  TempFile upper("  " + upper_hex + "\r\n", fs::perms::owner_read);
  std::string error;
  const auto a = PeerKey::from_file(lower.path(), &error);
  ASSERT_TRUE(a) << error;
  const auto b = PeerKey::from_file(upper.path(), &error);
  ASSERT_TRUE(b) << error;
  const std::string body = sample_body();
  // The same secret, however written, is the same key.
  EXPECT_TRUE(b->verify(kRaftAppendPath, 1, 0, body, a->sign(kRaftAppendPath, 1, 0, body)));
}

TEST(ClusterSecretFile, GroupOrWorldAccessibleFileIsRefused) {
  for (fs::perms mode : {kOwnerRw | fs::perms::group_read | fs::perms::others_read,
                         kOwnerRw | fs::perms::group_read, kOwnerRw | fs::perms::others_write}) {
    TempFile file(kSecretHex, mode);
    std::string error;
    EXPECT_FALSE(PeerKey::from_file(file.path(), &error));
    EXPECT_NE(error.find("0600 or stricter"), std::string::npos) << error;
    EXPECT_NE(error.find(file.path().string()), std::string::npos) << error;
  }
}

TEST(ClusterSecretFile, ShortOrNonHexOrMissingSecretIsRefused) {
  std::string error;
  TempFile short_secret(kSecretHex.substr(0, 62), kOwnerRw);  // 31 bytes
  EXPECT_FALSE(PeerKey::from_file(short_secret.path(), &error));
  EXPECT_NE(error.find("at least 32"), std::string::npos) << error;
  TempFile not_hex(std::string(64, 'z'), kOwnerRw);
  EXPECT_FALSE(PeerKey::from_file(not_hex.path(), &error));
  EXPECT_NE(error.find("hex"), std::string::npos) << error;
  TempFile odd(kSecretHex + "a", kOwnerRw);
  EXPECT_FALSE(PeerKey::from_file(odd.path(), &error));
  EXPECT_FALSE(PeerKey::from_file("/nonexistent/secret", &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
  EXPECT_FALSE(PeerKey::from_file(fs::temp_directory_path(), &error));  // a directory
}

TEST(AdminTokenTest, OnlyTheExactBearerTokenIsAccepted) {
  const std::string text = "0123456789abcdef0123456789abcdef-token";
  std::string error;
  const auto token = AdminToken::from_text(text, &error);
  ASSERT_TRUE(token) << error;
  EXPECT_TRUE(token->accepts("Bearer " + text));
  EXPECT_TRUE(token->accepts("bearer " + text));  // the scheme is case-insensitive
  EXPECT_FALSE(token->accepts(""));
  EXPECT_FALSE(token->accepts(text));
  EXPECT_FALSE(token->accepts("Basic " + text));
  EXPECT_FALSE(token->accepts("Bearer "));
  EXPECT_FALSE(token->accepts("Bearer " + text.substr(0, text.size() - 1)));  // a prefix
  EXPECT_FALSE(token->accepts("Bearer " + text + "x"));
  std::string wrong = text;
  wrong[0] = 'X';
  EXPECT_FALSE(token->accepts("Bearer " + wrong));
}

TEST(AdminTokenTest, ShortTokenOrOpenFileIsRefused) {
  std::string error;
  EXPECT_FALSE(AdminToken::from_text("short", &error));
  EXPECT_FALSE(AdminToken::from_text(std::string(40, 'a') + " b", &error));
  TempFile open_file(std::string(64, 'a'), kOwnerRw | fs::perms::others_read);
  EXPECT_FALSE(AdminToken::from_file(open_file.path(), &error));
  EXPECT_NE(error.find("0600"), std::string::npos) << error;
  TempFile good(std::string(64, 'a') + "\n", kOwnerRw);
  const auto token = AdminToken::from_file(good.path(), &error);
  ASSERT_TRUE(token) << error;
  EXPECT_TRUE(token->accepts("Bearer " + std::string(64, 'a')));
}

TEST(RejectionLogLimiterTest, OneLinePerReasonPerIntervalWithTheSuppressedCount) {
  RejectionLogLimiter limiter(std::chrono::milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(limiter.admit(FrameRejection::kBadMac, t0), 0u);
  EXPECT_FALSE(limiter.admit(FrameRejection::kBadMac, t0 + std::chrono::milliseconds(10)));
  EXPECT_FALSE(limiter.admit(FrameRejection::kBadMac, t0 + std::chrono::milliseconds(999)));
  // Another reason has its own budget.
  EXPECT_EQ(limiter.admit(FrameRejection::kMissingMac, t0 + std::chrono::milliseconds(20)), 0u);
  EXPECT_EQ(limiter.admit(FrameRejection::kBadMac, t0 + std::chrono::milliseconds(1000)), 2u);
  EXPECT_FALSE(limiter.admit(FrameRejection::kBadMac, t0 + std::chrono::milliseconds(1500)));
}

}  // namespace
}  // namespace stress_node
