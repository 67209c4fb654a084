// The cluster secret and admin token of a cluster `cluster start` launches (issue 14; threat
// model in docs/security.md): generated fresh per start in the cluster directory
// ($STRESS_TEST_DATA), mode 0600, from OpenSSL's RAND_bytes, passed to every node by path and
// recorded in cluster.json, so that every restart (chaos, inject, supervise) reuses them through
// the recorded command lines and admin commands (cluster resync) read the token from there.
//
//   cluster-secret   64 hex digits (32 bytes): stress_node --cluster-secret-file
//   admin-token      64 hex digits:            stress_node --admin-token-file, and the
//                                              `Authorization: Bearer` of admin routes
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace bombarder {

struct ClusterSecrets {
  std::filesystem::path cluster_secret_file;
  std::filesystem::path admin_token_file;
};

// Writes a new secret and token into `dir` (replacing old ones atomically: a temporary file
// created 0600, then renamed). Throws Error(kEnvironment) when it cannot.
[[nodiscard]] ClusterSecrets create_cluster_secrets(const std::filesystem::path& dir);

// `bytes` random bytes from RAND_bytes, as lowercase hex. Throws if OpenSSL cannot seed.
[[nodiscard]] std::string random_hex(size_t bytes);

// The headers that authorize an admin request to the recorded cluster: {"Authorization",
// "Bearer <token>"} read from the recorded admin token file (or $STRESS_TEST_DATA/admin-token
// when no cluster is recorded); none when there is no token file (the node then answers 401 or
// 403 and the caller reports that).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> admin_auth_headers();

}  // namespace bombarder
