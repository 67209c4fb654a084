#include "bombarder/cluster/redis_state.h"

#include <openssl/evp.h>

#include <vector>

#include "bombarder/client/redis_resp.h"

namespace bombarder {

using namespace std::chrono_literals;

namespace {

constexpr auto kCommandTimeout = 30s;
constexpr const char* kScanCount = "1000";  // keys SCAN looks at per call

std::string hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

// A digest of the entries that every node computes alike: SHA-256 over the keys in order, each
// followed by its value (lengths first, so that no two keyspaces give the same bytes).
std::string entries_digest(const std::map<std::string, Json>& entries) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const auto& [key, entry] : entries) {
    const std::string value = entry.value("value", "");
    const std::string frame =
        std::to_string(key.size()) + ":" + key + std::to_string(value.size()) + ":" + value;
    EVP_DigestUpdate(ctx, frame.data(), frame.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, digest, &n);
  EVP_MD_CTX_free(ctx);
  return "sha256:" + hex(digest, n);
}

// The node's digest: DEBUG DIGEST's, else one over its entries; nullopt and *why on failure.
std::optional<std::string> node_digest(RedisSession& session, const common::Endpoint& node,
                                       std::string* why) {
  const auto debug = session.command({"DEBUG", "DIGEST"});
  if (!debug) {
    *why = "DEBUG DIGEST: " + session.error();
    return std::nullopt;
  }
  if (debug->type == RespReply::Type::kStatus) return debug->text;
  auto entries = fetch_redis_entries(node, why);  // DEBUG refused: compute one
  if (!entries) return std::nullopt;
  return entries_digest(*entries);
}

}  // namespace

void add_redis_state(ClusterView& view) {
  for (ClusterView::Node& node : view.nodes) {
    if (!node.status) continue;
    RedisSession session(node.endpoint, kCommandTimeout);
    std::string why;
    const std::optional<std::string> digest = node_digest(session, node.endpoint, &why);
    const auto size = digest ? session.command({"DBSIZE"}) : std::nullopt;
    if (digest && (!size || size->type != RespReply::Type::kInteger)) {
      why = "DBSIZE: " + (size ? size->describe() : session.error());
    }
    if (!digest || !size || size->type != RespReply::Type::kInteger) {
      node.error = why;
      node.status.reset();
      continue;
    }
    node.status->state_hash = *digest;
    node.status->state_hash_index = node.status->applied_index;
    node.status->entry_count = static_cast<uint64_t>(size->integer);
  }
}

std::optional<std::map<std::string, Json>> fetch_redis_entries(const common::Endpoint& node,
                                                               std::string* why) {
  RedisSession session(node, kCommandTimeout);
  std::map<std::string, Json> entries;
  std::string cursor = "0";
  do {
    const auto page = session.command({"SCAN", cursor, "COUNT", kScanCount});
    if (!page || page->type != RespReply::Type::kArray || page->elements.size() != 2 ||
        page->elements[1].type != RespReply::Type::kArray) {
      *why = "SCAN: " + (page ? page->describe() : session.error());
      return std::nullopt;
    }
    cursor = page->elements[0].text;
    const std::vector<RespReply>& keys = page->elements[1].elements;
    if (keys.empty()) continue;
    std::vector<std::string> mget = {"MGET"};
    for (const RespReply& key : keys) mget.push_back(key.text);
    const auto values = session.command(mget);
    if (!values || values->type != RespReply::Type::kArray ||
        values->elements.size() != keys.size()) {
      *why = "MGET: " + (values ? values->describe() : session.error());
      return std::nullopt;
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      // nil: deleted since the SCAN (verify runs on a quiet store) or not a string.
      if (values->elements[i].type != RespReply::Type::kString) continue;
      entries[keys[i].text] =
          Json{{"id", keys[i].text}, {"key", keys[i].text}, {"value", values->elements[i].text}};
    }
  } while (cursor != "0");
  return entries;
}

}  // namespace bombarder
