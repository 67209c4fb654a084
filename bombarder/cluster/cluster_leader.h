// Finding the leader of a running cluster from any node (design.md §4: "the leader is
// discovered, never assumed to be node 0"), for the commands that must talk to the leader itself
// (cluster sync-status, cluster resync) or that start from one address (watch --leader).
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "bombarder/client/api_client.h"
#include "common/endpoint.h"

namespace bombarder {

struct FoundLeader {
  common::Endpoint endpoint;
  StatusResponse status;  // the leader's own /status, role "leader"
};

// Asks `hint` (when given) or else default_nodes() for /status, widening the search to every
// member the reachable nodes list and to the leader they name, until a node says it leads. When
// `hint` does not answer, the recorded cluster's members (cluster.json) are asked instead; the
// reference ports 8080-8082 are not guessed then.
// Waits up to `wait` while nodes answer but none leads (an election in progress); gives up at
// once when no node answers at all.
// Throws Error(kEnvironment) with a one-line reason when no leader is found.
[[nodiscard]] FoundLeader discover_leader(ApiClient& client,
                                          const std::optional<common::Endpoint>& hint,
                                          std::chrono::milliseconds wait);

// `first` followed by every member `status` lists that `first` does not hold yet: the nodes to
// look at when the user named one node. Addresses that do not parse are skipped.
[[nodiscard]] std::vector<common::Endpoint> with_members(std::vector<common::Endpoint> first,
                                                         const StatusResponse& status);

}  // namespace bombarder
