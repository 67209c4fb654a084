// How bombarder reaches stress_node over TLS (issue 14): plain HTTP unless one of these says
// otherwise, first match wins:
//   1. --cacert PATH (and --cert/--key for a client certificate) on the command line;
//   2. the recorded cluster (cluster.json) was started with `cluster start --tls`: its CA and
//      bombarder's client certificate, generated in $STRESS_TEST_DATA/tls/ (cluster_tls.h). This
//      module does not read cluster.json itself: the lookup is installed at start-up
//      (set_recorded_node_tls), so the client does not depend on the cluster module;
//   3. otherwise HTTP. An https:// node URL needs 1 or 2 (node_url.h parse_node_url).
// With TLS every node is reached over HTTPS whatever scheme its URL names; a node's certificate
// must name the host bombarder dials (an IP SAN for an address).
//
// Only node traffic: the fault proxy's REST API stays plain HTTP (ApiClient::Transport).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/http_client.h"  // forward-declares boost::asio::ssl::context

namespace bombarder {

struct NodeTlsFlags {
  std::string cacert;  // --cacert
  std::string cert;    // --cert
  std::string key;     // --key
};
// The process's flags (set by CLI11 while parsing; read after).
[[nodiscard]] NodeTlsFlags& node_tls_flags();

// Rule 2: the TLS files of the recorded cluster, when it was started with --tls.
struct RecordedNodeTls {
  std::filesystem::path ca_file;
  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
  std::string source;  // names the record in errors: "the cluster recorded in PATH"
};
// Called whenever rule 2 is consulted (the record may change while bombarder runs); nullopt when
// no cluster with TLS is recorded. Without a lookup rule 2 never applies. Set once, before any
// node traffic.
using RecordedNodeTlsLookup = std::function<std::optional<RecordedNodeTls>()>;
void set_recorded_node_tls(RecordedNodeTlsLookup lookup);

// The client context for node traffic, or null for plain HTTP (the rules above). Throws
// Error: kInvalidInput for bad --cacert/--cert/--key files, kEnvironment for a
// recorded cluster whose TLS files are unusable.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> node_tls_context();
// Whether node_tls_context() would be non-null (without loading files).
[[nodiscard]] bool node_tls_configured();

}  // namespace bombarder
