#include "peer_stream.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace stress_node {

std::string new_stream_nonce() {
  std::array<unsigned char, kStreamNonceBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // No randomness means no fresh connection ids: a broken OpenSSL, not an operating error.
    std::fprintf(stderr, "stress_node: OpenSSL failure: RAND_bytes\n");
    std::abort();
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

bool is_stream_nonce(std::string_view text) {
  if (text.size() != 2 * kStreamNonceBytes) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string stream_connection_id(std::string_view client_nonce, std::string_view server_nonce) {
  std::string id;
  id.reserve(client_nonce.size() + server_nonce.size());
  id.append(client_nonce);
  id.append(server_nonce);
  return id;
}

StreamFrameWriter::StreamFrameWriter(const PeerKey* key, std::string connection_id,
                                     raft::NodeId from, raft::NodeId to)
    : key_(key), connection_id_(std::move(connection_id)), from_(from), to_(to) {}

std::string StreamFrameWriter::next_prefix(std::string_view body) {
  const size_t mac_bytes = key_ != nullptr ? kStreamMacBytes : 0;
  const uint64_t length = mac_bytes + body.size();
  std::string prefix(kStreamLengthBytes + mac_bytes, '\0');
  for (size_t i = 0; i < kStreamLengthBytes; ++i) {
    prefix[i] = static_cast<char>(length >> (8 * (kStreamLengthBytes - 1 - i)));
  }
  if (key_ != nullptr) {
    const PeerKey::Mac mac = key_->stream_mac(connection_id_, seq_, from_, to_, body);
    prefix.replace(kStreamLengthBytes, kStreamMacBytes, reinterpret_cast<const char*>(mac.data()),
                   mac.size());
  }
  ++seq_;
  return prefix;
}

StreamFrameReader::StreamFrameReader(const PeerKey* key, std::string connection_id,
                                     FrameParties parties, uint32_t payload_bytes_max)
    : key_(key),
      connection_id_(std::move(connection_id)),
      parties_(parties),
      payload_bytes_max_(payload_bytes_max) {}

StreamFrameReader::Length StreamFrameReader::parse_length(
    const std::array<unsigned char, kStreamLengthBytes>& prefix) const {
  uint32_t length = 0;
  for (unsigned char byte : prefix) length = length << 8 | byte;
  const size_t mac_bytes = key_ != nullptr ? kStreamMacBytes : 0;
  if (length > payload_bytes_max_) return {FrameRejection::kFrameTooLarge, length};
  if (length <= mac_bytes) return {FrameRejection::kTruncatedFrame, length};
  return {std::nullopt, length};
}

std::optional<FrameRejection> StreamFrameReader::verify(std::string_view payload,
                                                        std::string_view* body) {
  const uint64_t seq = seq_++;
  if (key_ == nullptr) {
    *body = payload;
    return std::nullopt;
  }
  if (payload.size() <= kStreamMacBytes) return FrameRejection::kTruncatedFrame;
  const std::string_view mac = payload.substr(0, kStreamMacBytes);
  const std::string_view rest = payload.substr(kStreamMacBytes);
  if (!key_->verify_stream(connection_id_, seq, parties_.from, parties_.to, rest, mac)) {
    return FrameRejection::kBadMac;
  }
  *body = rest;
  return std::nullopt;
}

}  // namespace stress_node
