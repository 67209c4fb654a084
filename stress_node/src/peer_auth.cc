#include "peer_auth.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <utility>

namespace stress_node {
namespace {

constexpr std::string_view kMacDomain = "raftkv peer frame v1";
constexpr std::string_view kStreamMacDomain = "raftkv peer stream frame v1";
constexpr std::string_view kKeyInfo = "raftkv peer frame key v1";
constexpr size_t kMacBytes = 32;
constexpr size_t kPrivateFileBytesMax = 64 << 10;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string hex_encode(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

void put_u64be(unsigned char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(v);
    v >>= 8;
  }
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// The HMAC algorithm, fetched once: fetching per frame would take OpenSSL's provider lock on
// every peer request. EVP_MAC objects are reference counted and safe to share across threads.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// Crypto failures here mean a broken OpenSSL installation, not bad input: crash loudly.
[[noreturn]] void openssl_failure(const char* what) {
  std::fprintf(stderr, "stress_node: OpenSSL failure: %s\n", what);
  std::abort();
}

// HMAC-SHA256 over the concatenation of `parts`.
std::array<unsigned char, kMacBytes> mac_of(const std::array<unsigned char, 32>& key,
                                            std::initializer_list<std::string_view> parts) {
  EVP_MAC* mac = hmac_algorithm();
  if (mac == nullptr) openssl_failure("EVP_MAC_fetch(HMAC)");
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(mac));
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) {
    openssl_failure("EVP_MAC_init");
  }
  for (std::string_view part : parts) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                       part.size()) != 1) {
      openssl_failure("EVP_MAC_update");
    }
  }
  std::array<unsigned char, kMacBytes> out{};
  size_t out_len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len != kMacBytes) {
    openssl_failure("EVP_MAC_final");
  }
  return out;
}

std::string_view as_text(const unsigned char* bytes, size_t n) {
  return {reinterpret_cast<const char*>(bytes), n};
}

constexpr std::string_view kZeroByte{"\0", 1};

std::array<unsigned char, kMacBytes> frame_mac(const std::array<unsigned char, 32>& key,
                                               std::string_view path, raft::NodeId from,
                                               raft::NodeId to, std::string_view body) {
  unsigned char parties[16];
  put_u64be(parties, from);
  put_u64be(parties + 8, to);
  return mac_of(key,
                {kMacDomain, kZeroByte, path, kZeroByte, as_text(parties, sizeof parties), body});
}

bool parse_node_id(std::string_view text, raft::NodeId* id) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *id);
  return !text.empty() && ec == std::errc() && ptr == end && *id != raft::kNoNode;
}

FrameVerdict reject(FrameRejection reason, std::string message, FrameParties parties = {}) {
  return FrameVerdict{reason, parties, std::move(message)};
}

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &n, EVP_sha256(), nullptr) != 1 ||
      n != out.size()) {
    openssl_failure("EVP_Digest(SHA256)");
  }
  return out;
}

}  // namespace

std::optional<std::string> read_private_file(const std::filesystem::path& path,
                                             std::string* error) {
  // Opened once and checked through the descriptor, so the file checked is the file read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = path.string() + ": cannot open: " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  std::string content;
  const auto fail = [&](std::string why) {
    ::close(fd);
    *error = path.string() + ": " + why;
    return std::nullopt;
  };
  if (::fstat(fd, &st) != 0) return fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(std::string("mode ") + mode +
                " lets group or others access it; it must be 0600 or stricter (chmod 600)");
  }
  if (static_cast<uint64_t>(st.st_size) > kPrivateFileBytesMax) return fail("larger than 64 KiB");
  content.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < content.size()) {
    const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(std::string("cannot read: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return content;
}

std::optional<PeerKey> PeerKey::derive(std::string_view secret, std::string* error) {
  if (secret.size() < kClusterSecretBytesMin) {
    *error = "the cluster secret has " + std::to_string(secret.size()) + " bytes; at least " +
             std::to_string(kClusterSecretBytesMin) + " are required";
    return std::nullopt;
  }
  PeerKey key;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  size_t key_len = key.key_.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                 static_cast<int>(secret.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(),
                                  reinterpret_cast<const unsigned char*>(kKeyInfo.data()),
                                  static_cast<int>(kKeyInfo.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), key.key_.data(), &key_len) != 1 || key_len != key.key_.size()) {
    *error = "HKDF key derivation failed in OpenSSL";
    return std::nullopt;
  }
  return key;
}

std::optional<PeerKey> PeerKey::from_file(const std::filesystem::path& path, std::string* error) {
  const auto content = read_private_file(path, error);
  if (!content) return std::nullopt;
  const std::string_view hex = trim(*content);
  const auto secret = hex_decode(hex);
  if (!secret) {
    *error =
        path.string() +
        ": not a hex string (expected 64 or more hex digits, e.g. from `openssl rand -hex 32`)";
    return std::nullopt;
  }
  std::string why;
  auto key = derive(*secret, &why);
  if (!key) *error = path.string() + ": " + why;
  OPENSSL_cleanse(const_cast<char*>(secret->data()), secret->size());
  return key;
}

std::string PeerKey::sign(std::string_view path, raft::NodeId from, raft::NodeId to,
                          std::string_view body) const {
  const auto mac = frame_mac(key_, path, from, to, body);
  return hex_encode(mac.data(), mac.size());
}

bool PeerKey::verify(std::string_view path, raft::NodeId from, raft::NodeId to,
                     std::string_view body, std::string_view mac_hex) const {
  if (mac_hex.size() != 2 * kMacBytes) return false;
  const auto presented = hex_decode(mac_hex);
  if (!presented) return false;
  const auto expected = frame_mac(key_, path, from, to, body);
  return CRYPTO_memcmp(presented->data(), expected.data(), kMacBytes) == 0;
}

PeerKey::Mac PeerKey::stream_mac(std::string_view connection_id, uint64_t seq, raft::NodeId from,
                                 raft::NodeId to, std::string_view body) const {
  unsigned char numbers[24];
  put_u64be(numbers, seq);
  put_u64be(numbers + 8, from);
  put_u64be(numbers + 16, to);
  return mac_of(key_, {kStreamMacDomain, kZeroByte, connection_id, kZeroByte,
                       as_text(numbers, sizeof numbers), body});
}

bool PeerKey::verify_stream(std::string_view connection_id, uint64_t seq, raft::NodeId from,
                            raft::NodeId to, std::string_view body, std::string_view mac) const {
  if (mac.size() != kMacBytes) return false;
  const Mac expected = stream_mac(connection_id, seq, from, to, body);
  return CRYPTO_memcmp(mac.data(), expected.data(), kMacBytes) == 0;
}

std::vector<std::pair<std::string, std::string>> frame_headers(const PeerKey* key,
                                                               std::string_view path,
                                                               raft::NodeId from, raft::NodeId to,
                                                               std::string_view body) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {std::string(kPeerFromHeader), std::to_string(from)},
      {std::string(kPeerToHeader), std::to_string(to)}};
  if (key != nullptr) {
    headers.emplace_back(std::string(kPeerMacHeader), key->sign(path, from, to, body));
  }
  return headers;
}

const char* reason_label(FrameRejection reason) {
  switch (reason) {
    case FrameRejection::kMissingMac: return "missing_mac";
    case FrameRejection::kBadMac: return "bad_mac";
    case FrameRejection::kMissingParties: return "missing_parties";
    case FrameRejection::kWrongRecipient: return "wrong_recipient";
    case FrameRejection::kUnknownSender: return "unknown_sender";
    case FrameRejection::kSenderMismatch: return "sender_mismatch";
    case FrameRejection::kFrameTooLarge: return "frame_too_large";
    case FrameRejection::kTruncatedFrame: return "truncated_frame";
  }
  return "unknown";
}

unsigned http_status(FrameRejection reason) {
  if (reason == FrameRejection::kFrameTooLarge) return 413;
  if (reason == FrameRejection::kTruncatedFrame) return 400;
  return reason == FrameRejection::kMissingMac || reason == FrameRejection::kBadMac ? 401 : 403;
}

FrameVerdict authenticate_frame(const PeerAuthConfig& config, std::string_view path,
                                std::string_view from_header, std::string_view to_header,
                                std::string_view mac_header, std::string_view body) {
  FrameParties parties;
  if (!parse_node_id(from_header, &parties.from) || !parse_node_id(to_header, &parties.to)) {
    return reject(FrameRejection::kMissingParties,
                  std::string(kPeerFromHeader) + " and " + std::string(kPeerToHeader) +
                      " must name the sender and receiver node ids");
  }
  if (config.key) {
    // The MAC first: nothing an unauthenticated frame claims is worth a distinct answer.
    if (mac_header.empty()) {
      return reject(FrameRejection::kMissingMac,
                    "frame without " + std::string(kPeerMacHeader) +
                        " (this node requires the cluster secret; is the sender started with "
                        "--insecure-peers?)",
                    parties);
    }
    if (!config.key->verify(path, parties.from, parties.to, body, mac_header)) {
      return reject(FrameRejection::kBadMac,
                    "the frame's MAC does not verify (another cluster secret, or a forged or "
                    "altered frame)",
                    parties);
    }
  }
  if (parties.to != config.self_id) {
    return reject(FrameRejection::kWrongRecipient,
                  "frame for node " + std::to_string(parties.to) + " sent to node " +
                      std::to_string(config.self_id),
                  parties);
  }
  if (parties.from == config.self_id || !config.members.contains(parties.from)) {
    return reject(FrameRejection::kUnknownSender,
                  "node " + std::to_string(parties.from) + " is not a peer", parties);
  }
  return FrameVerdict{std::nullopt, parties, {}};
}

std::optional<FrameRejection> check_message_parties(const FrameParties& parties,
                                                    raft::NodeId message_from,
                                                    raft::NodeId message_to) {
  if (message_to != parties.to) return FrameRejection::kWrongRecipient;
  if (message_from != parties.from) return FrameRejection::kSenderMismatch;
  return std::nullopt;
}

std::optional<AdminToken> AdminToken::from_text(std::string_view token, std::string* error) {
  if (token.size() < kAdminTokenCharsMin) {
    *error = "the admin token has " + std::to_string(token.size()) + " characters; at least " +
             std::to_string(kAdminTokenCharsMin) + " are required";
    return std::nullopt;
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      *error = "the admin token must be printable ASCII without spaces";
      return std::nullopt;
    }
  }
  AdminToken out;
  out.digest_ = sha256(token);
  return out;
}

std::optional<AdminToken> AdminToken::from_file(const std::filesystem::path& path,
                                                std::string* error) {
  const auto content = read_private_file(path, error);
  if (!content) return std::nullopt;
  std::string why;
  auto token = from_text(trim(*content), &why);
  if (!token) *error = path.string() + ": " + why;
  return token;
}

std::optional<uint64_t> RejectionLogLimiter::admit(FrameRejection reason,
                                                   std::chrono::steady_clock::time_point now) {
  Slot& slot = slots_[static_cast<size_t>(reason)];
  if (slot.last_logged && now - *slot.last_logged < interval_) {
    ++slot.suppressed;
    return std::nullopt;
  }
  slot.last_logged = now;
  return std::exchange(slot.suppressed, 0);
}

bool AdminToken::accepts(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  const auto presented = sha256(trim(authorization.substr(kScheme.size())));
  return CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) == 0;
}

}  // namespace stress_node
