// What `verify --system etcd` compares across etcd members (issue 18): each member's keyspace
// hash (POST /v3/maintenance/hash, over its whole backend), its key count, and its keys and
// values, all read from the member's own state (serializable ranges), so that a member that
// lags or diverges shows as such.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bombarder/client/api_client.h"

namespace bombarder {

// Fills each reachable member's state_hash (its maintenance hash), state_hash_index (its
// applied index: the hash is of the applied state) and entry_count (keys in its keyspace); a
// member whose hash or count cannot be read loses its status (its error says why).
void add_etcd_state(ApiClient& client, ClusterView& view);

// Every key of the member's own state, as the verify entry map wants it: key -> {"id": key,
// "key": key, "value": value} (the key is the id, etcd_adapter.h). nullopt (and *why) when a
// page failed.
[[nodiscard]] std::optional<std::map<std::string, nlohmann::json>> fetch_etcd_entries(
    ApiClient& client, const common::Endpoint& node, std::string* why);

}  // namespace bombarder
