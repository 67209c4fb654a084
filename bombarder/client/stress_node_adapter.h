// The stress_node adapter (store_adapter.h): the HTTP/JSON API of design.md §4. Writes carry an
// Idempotency-Key, so a retried write is applied at most once and answered with the original
// outcome; a 503 names the leader when the node knows it; a 504 is a commit not confirmed in
// time (outcome unknown).
#pragma once

#include "bombarder/client/store_adapter.h"

namespace bombarder {

class StressNodeAdapter final : public StoreAdapter {
 public:
  [[nodiscard]] StoreSystem system() const override { return StoreSystem::kStressNode; }
  // Keys and values are the load engine's ([A-Za-z0-9-] only): no JSON escaping needed.
  void format_request(const StoreRequest& request, std::string_view host,
                      std::string& wire) const override;
  [[nodiscard]] StoreAnswer classify(const StoreRequest& request, int status,
                                     const std::string& body) const override;
  // GET /status on every node.
  [[nodiscard]] std::vector<NodeStatusAnswer> node_statuses(
      ApiClient& client, const std::vector<common::Endpoint>& nodes,
      std::chrono::milliseconds timeout) const override;
};

}  // namespace bombarder
