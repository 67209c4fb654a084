// The TLS files of a cluster started with `cluster start --tls` (issue 14): generated at start
// into $STRESS_TEST_DATA/tls/, found again through cluster.json by every later command
// (client/node_tls.h rule 2).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/client/node_tls.h"

namespace bombarder {

// A throw-away CA (its key is not kept), one certificate per node for
// `hosts` (plus 127.0.0.1 and localhost), and a client certificate for bombarder, all in `dir`
// (keys mode 0600). Throws Error(kEnvironment) when a file cannot be written.
struct GeneratedTls {
  std::filesystem::path ca_file;
  std::vector<std::filesystem::path> node_cert_files;  // by node id
  std::vector<std::filesystem::path> node_key_files;
  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
};
[[nodiscard]] GeneratedTls generate_cluster_tls(const std::filesystem::path& dir, size_t nodes,
                                                const std::string& host);

// The recorded cluster's TLS files, nullopt when no cluster or one without --tls is recorded:
// the lookup commands install with set_recorded_node_tls (node_tls.h). Throws
// Error(kEnvironment) when cluster.json cannot be read.
[[nodiscard]] std::optional<RecordedNodeTls> recorded_cluster_tls();

}  // namespace bombarder
