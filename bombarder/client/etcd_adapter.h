// The etcd adapter (store_adapter.h): etcd 3.4's v3 JSON gateway (grpc-gateway), as Debian's
// etcd-server serves it on every member's client URL. Every call is a POST with a JSON body whose
// keys and values are base64; the answer is the gRPC response as JSON, with fields at their
// default (false, 0, empty) left out.
//
// Operations (the id of an entry is its etcd key, see store_adapter.h):
//   create  POST /v3/kv/txn: if create_revision(key) == 0 then put, else range(key). A create
//           retried after an attempt that may have been applied, which finds the key holding its
//           own value (values are unique per operation), is that attempt's success.
//   read    POST /v3/kv/range {key}; `serializable: true` with EtcdOptions::serializable_reads
//           (the member answers from its own state, possibly stale: etcd's documented trade-off)
//   update  POST /v3/kv/txn: if create_revision(key) > 0 then put; not succeeded = absent
//   delete  POST /v3/kv/deleterange {key}; deleted 0 = absent, or, after an attempt that may have
//           been applied, outcome unknown (that attempt or an earlier loss removed it)
//   list    POST /v3/kv/range {key, limit}: etcd has no secondary index; the key is the id
// Errors come as {"error","message","code"} with the gRPC code's HTTP status. etcd does not
// promise that an Unavailable/DeadlineExceeded/Canceled answer to a write ("request timed out",
// "leader changed", a dropped proposal) was not applied: for writes every 5xx and 408 is "may
// have been applied"; 429 ("too many requests") is refused before the proposal.
//
// Cluster facts: POST /v3/maintenance/status (member id, leader id, raft term, raftIndex as the
// commit position, raftAppliedIndex as the applied position) and /v3/cluster/member/list (names
// and client URLs, hence the leader's address). A member named "node-N" (as `cluster start
// --system etcd` names them) has node id N (else its position in the member list); leader_id is
// the leader's node id in that numbering, not etcd's 64-bit member id.
#pragma once

#include "bombarder/client/store_adapter.h"

namespace bombarder {

struct EtcdOptions {
  bool serializable_reads = false;  // --read-consistency serializable
};

class EtcdAdapter final : public StoreAdapter {
 public:
  explicit EtcdAdapter(EtcdOptions options = {}) : options_(options) {}
  [[nodiscard]] StoreSystem system() const override { return StoreSystem::kEtcd; }
  void format_request(const StoreRequest& request, std::string_view host,
                      std::string& wire) const override;
  [[nodiscard]] StoreAnswer classify(const StoreRequest& request, int status,
                                     const std::string& body) const override;
  [[nodiscard]] std::vector<NodeStatusAnswer> node_statuses(
      ApiClient& client, const std::vector<common::Endpoint>& nodes,
      std::chrono::milliseconds timeout) const override;

  // One member's facts from its status and member list answers (both JSON objects); throws
  // std::exception (nlohmann's, std::stoull's) when a field is missing or ill-typed.
  [[nodiscard]] static StatusResponse status_from(const common::Endpoint& node, const Json& status,
                                                  const Json& members);

 private:
  EtcdOptions options_;
};

[[nodiscard]] std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not base64.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace bombarder
