// What `verify --system redis` compares across a Redis primary and its replicas (issue 18):
// each node's keyspace digest (DEBUG DIGEST, which `cluster start --system redis` enables for
// loopback connections; where it is refused, a SHA-256 over every key and value, read by SCAN
// and MGET), its key count (DBSIZE), and its keys and values, all read from the node itself, so
// that a replica that lags or diverges shows as such. verify waits first until every node
// reports the same replication offset (redis_adapter.h: the applied position).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bombarder/client/api_client.h"

namespace bombarder {

// Fills each reachable node's state_hash (its digest), state_hash_index (its replication
// offset: the digest is of the state at it) and entry_count (DBSIZE); a node whose digest or
// count cannot be read loses its status (its error says why).
void add_redis_state(ClusterView& view);

// Every key of the node, as the verify entry map wants it: key -> {"id": key, "key": key,
// "value": value} (the key is the id, redis_adapter.h). nullopt (and *why) when a command
// failed.
[[nodiscard]] std::optional<std::map<std::string, nlohmann::json>> fetch_redis_entries(
    const common::Endpoint& node, std::string* why);

}  // namespace bombarder
