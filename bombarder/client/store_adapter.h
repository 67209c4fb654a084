// What one store under test (`--system stress_node|etcd|redis`, issue 18) has to say so that the
// load engine, the history, the checker, the report and the chaos stay the same for every system:
//
// - the wire: how an operation the history knows (history/operation.h: create, read, update,
//   delete, key lookup) becomes one request (`format_request`, appended to the caller's
//   preformatted buffer: no allocation per byte, one virtual call per attempt);
// - the answer: how the store's answer becomes one of a few classes (`classify`), each with one
//   meaning for the engine's retries and the history's outcome rule (docs/history.md):
//     kOk           applied / observed; `id`, `value`, `listed` carry what it returned
//     kAbsent       the id is not there (a read's "absent" observation; for update and delete,
//                   "not found", which the engine counts as a lost write)
//     kExists       a create whose key is already there (a refused create, failed, not applied)
//     kUnavailable  transient and not applied (no leader, no quorum): retried elsewhere
//     kMaybeApplied transient and a write may have been applied (a commit not confirmed in time):
//                   retried; a write that ends here is "outcome unknown", never failed
//     kOutcomeUnknown a write whose outcome the answer cannot tell (final): "outcome unknown"
//     kClientError / kServerError / kBadResponse: final
//   A transport error is classified the same way for every system that speaks over TCP
//   (`classify_transport`): a refused connection sent nothing (kUnavailable); a timeout, reset or
//   EOF after the request went out may have been applied (kMaybeApplied).
// - cluster facts (`node_statuses`): members, leader, term and per-node applied position as a
//   StatusResponse per node, from which `survey` finds the leader for every system alike.
//
// Ids: the history names an entry by id. stress_node assigns it (a UUID in the create's answer);
// etcd has no ids, so there the id is the key the create wrote (keys are unique per run).
//
// Redis (redis_adapter.h, RESP over TCP, not HTTP): `format_request` appends RESP commands
// instead of an HTTP request, and `wire_framing()` is kResp: LoadConnection keeps its one-buffer
// write and reads one RESP reply (hiredis's reader), handing `classify` status 200 and the raw
// reply; `answer_status` maps the reply to HTTP's meanings. Its cluster facts come from
// `INFO replication` over hiredis's blocking client (the ApiClient goes unused).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bombarder/client/api_client.h"
#include "bombarder/client/store_system.h"
#include "bombarder/history/operation.h"
#include "common/endpoint.h"

namespace bombarder {

// One attempt of one operation, as the adapter needs it. The views must outlive the call.
struct StoreRequest {
  OpKind kind = OpKind::kCreate;
  std::string_view id;               // read, update, delete
  std::string_view key;              // create, list
  std::string_view value;            // create, update
  std::string_view idempotency_key;  // writes: the same on every attempt of one operation
  uint32_t limit = 10;               // list: the page size
  // An earlier attempt of this operation may have been applied: a store without idempotency
  // keys reads "already there with my value" (create) or "already gone" (delete) in that light.
  bool maybe_applied = false;
};

enum class AnswerClass : uint8_t {
  kOk,
  kAbsent,
  kExists,
  kUnavailable,
  kMaybeApplied,
  kOutcomeUnknown,
  kClientError,
  kServerError,
  kBadResponse,
};
[[nodiscard]] const char* to_string(AnswerClass answer);

struct StoreAnswer {
  AnswerClass answer = AnswerClass::kOk;
  std::string id;                   // create, kOk: the new entry's id
  std::string value;                // read, kOk: the value read
  std::vector<ListedEntry> listed;  // list, kOk: the entries returned
  std::string problem;              // not kOk: one line ("503 no_leader: ...")
  std::string leader_hint;          // kUnavailable: "host:port" the store named as leader, or ""
};

// What the store adapters' status requests found for one node.
struct NodeStatusAnswer {
  std::optional<StatusResponse> status;  // nullopt: unreachable or not this kind of store
  std::string error;                     // why status is missing
};

// How a load connection frames one exchange: an HTTP/1.1 request and response, or a RESP
// command and one RESP reply (Redis), handed to classify() raw with status 200.
enum class WireFraming : uint8_t { kHttp1, kResp };

class StoreAdapter {
 public:
  virtual ~StoreAdapter() = default;
  [[nodiscard]] virtual StoreSystem system() const = 0;
  [[nodiscard]] virtual WireFraming wire_framing() const { return WireFraming::kHttp1; }
  // The status an answer counts as in the report's answers, the breakers and the history (HTTP's
  // meanings: 2xx answered, 503 refused and not applied, other 5xx maybe applied); a store not on
  // HTTP maps its replies here.
  [[nodiscard]] virtual int answer_status(int status, const std::string& /*body*/) const {
    return status;
  }
  // Appends the attempt's complete request to `wire`; `host` is the node's "host:port".
  virtual void format_request(const StoreRequest& request, std::string_view host,
                              std::string& wire) const = 0;
  // Classifies an answer that arrived: `status` is its HTTP status.
  [[nodiscard]] virtual StoreAnswer classify(const StoreRequest& request, int status,
                                             const std::string& body) const = 0;
  // Every node's facts, asked of all nodes at once; results in the order of `nodes`.
  [[nodiscard]] virtual std::vector<NodeStatusAnswer> node_statuses(
      ApiClient& client, const std::vector<common::Endpoint>& nodes,
      std::chrono::milliseconds timeout) const = 0;
};

// A transport error's class (see the top of this file); `what` is the error's text.
[[nodiscard]] StoreAnswer classify_transport(bool connection_refused, std::string what);

// The adapters. Stateless and thread-safe: one instance each, for the whole process.
[[nodiscard]] const StoreAdapter& stress_node_adapter();
[[nodiscard]] std::shared_ptr<const StoreAdapter> make_store_adapter(StoreSystem system,
                                                                     bool serializable_reads);

// The cluster as `store` reports it: every node's status and the leader (the node that says it
// leads in the highest term, or else the address most nodes name as leader).
[[nodiscard]] ClusterView survey(const StoreAdapter& store, ApiClient& client,
                                 const std::vector<common::Endpoint>& nodes,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(2));
// Polls survey() until a leader is known or `timeout` passes.
[[nodiscard]] ClusterView wait_for_leader(const StoreAdapter& store, ApiClient& client,
                                          const std::vector<common::Endpoint>& nodes,
                                          std::chrono::milliseconds timeout);

}  // namespace bombarder
