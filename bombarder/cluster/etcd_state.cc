#include "bombarder/cluster/etcd_state.h"

#include "bombarder/client/etcd_adapter.h"

namespace bombarder {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

namespace {

// The whole keyspace: from "\0" to the range end "\0" (etcd's "every key >= key").
const std::string kAllKeys = "\"key\":\"AA==\",\"range_end\":\"AA==\"";
constexpr size_t kPageKeys = 10000;

std::string hash_or_count_error(const ApiResponse& hash, const ApiResponse& count) {
  if (hash.status != 200) return "POST /v3/maintenance/hash: " + hash.describe();
  return "POST /v3/kv/range (count): " + count.describe();
}

}  // namespace

void add_etcd_state(ApiClient& client, ClusterView& view) {
  for (ClusterView::Node& node : view.nodes) {
    if (!node.status) continue;
    const ApiResponse hash =
        client.call(node.endpoint, http::verb::post, "/v3/maintenance/hash", "{}", 10s);
    const ApiResponse count =
        client.call(node.endpoint, http::verb::post, "/v3/kv/range",
                    "{" + kAllKeys + ",\"count_only\":true,\"serializable\":true}", 10s);
    const Json h = hash.json();
    const Json c = count.json();
    if (hash.status != 200 || count.status != 200 || !h.is_object() || !c.is_object()) {
      node.error = hash_or_count_error(hash, count);
      node.status.reset();
      continue;
    }
    node.status->state_hash = std::to_string(h.value("hash", uint64_t{0}));
    node.status->state_hash_index = node.status->applied_index;
    node.status->entry_count = std::stoull(c.value("count", std::string("0")));
  }
}

std::optional<std::map<std::string, Json>> fetch_etcd_entries(ApiClient& client,
                                                              const common::Endpoint& node,
                                                              std::string* why) {
  std::map<std::string, Json> entries;
  std::string from = "AA==";  // "\0": the first key
  while (true) {
    const std::string body = "{\"key\":\"" + from + "\",\"range_end\":\"AA==\",\"limit\":\"" +
                             std::to_string(kPageKeys) + "\",\"serializable\":true}";
    const ApiResponse page = client.call(node, http::verb::post, "/v3/kv/range", body, 30s);
    const Json range = page.json();
    if (page.status != 200 || !range.is_object()) {
      *why = "POST /v3/kv/range: " + page.describe();
      return std::nullopt;
    }
    if (!range.contains("kvs")) return entries;
    std::string last;
    for (const Json& kv : range["kvs"]) {
      const auto key = base64_decode(kv.value("key", std::string()));
      const auto value = base64_decode(kv.value("value", std::string()));
      if (!key || !value) {
        *why = "POST /v3/kv/range: a key or value that is not base64";
        return std::nullopt;
      }
      entries[*key] = Json{{"id", *key}, {"key", *key}, {"value", *value}};
      last = *key;
    }
    if (!range.value("more", false)) return entries;
    from = base64_encode(last + std::string(1, '\0'));  // the next key after the last one
  }
}

}  // namespace bombarder
