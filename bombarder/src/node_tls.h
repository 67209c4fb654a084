// How bombarder reaches stress_node over TLS (issue 14): plain HTTP unless one of these says
// otherwise, first match wins:
//   1. --cacert PATH (and --cert/--key for a client certificate) on the command line;
//   2. the recorded cluster (cluster.json) was started with `cluster start --tls`: its CA and
//      bombarder's client certificate, generated in $STRESS_TEST_DATA/tls/;
//   3. otherwise HTTP. An https:// node URL needs 1 or 2 (cli.h parse_node_url).
// With TLS every node is reached over HTTPS whatever scheme its URL names; a node's certificate
// must name the host bombarder dials (an IP SAN for an address).
//
// Only node traffic: the fault proxy's REST API stays plain HTTP (ApiClient::Transport).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/http_client.h"  // forward-declares boost::asio::ssl::context

namespace CLI {
class App;
}  // namespace CLI

namespace bombarder {

struct NodeTlsFlags {
  std::string cacert;  // --cacert
  std::string cert;    // --cert
  std::string key;     // --key
};
// The process's flags (set by CLI11 while parsing; read after).
[[nodiscard]] NodeTlsFlags& node_tls_flags();

// Adds --cacert/--cert/--key to every subcommand of `app` that talks to nodes (all but `proxy`,
// `report`, `cluster start` and `cluster stop`), bound to node_tls_flags().
void add_node_tls_options(CLI::App& app);

// The client context for node traffic, or null for plain HTTP (the rules above). Throws
// CommandError: kExitUsage for bad --cacert/--cert/--key files, kExitEnvironment for a
// recorded cluster whose TLS files are unusable.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> node_tls_context();
// Whether node_tls_context() would be non-null (without loading files).
[[nodiscard]] bool node_tls_configured();

// `cluster start --tls`: a throw-away CA (its key is not kept), one certificate per node for
// `hosts` (plus 127.0.0.1 and localhost), and a client certificate for bombarder, all in `dir`
// (keys mode 0600). Throws CommandError(kExitEnvironment) when a file cannot be written.
struct GeneratedTls {
  std::filesystem::path ca_file;
  std::vector<std::filesystem::path> node_cert_files;  // by node id
  std::vector<std::filesystem::path> node_key_files;
  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
};
[[nodiscard]] GeneratedTls generate_cluster_tls(const std::filesystem::path& dir, size_t nodes,
                                                const std::string& host);

}  // namespace bombarder
