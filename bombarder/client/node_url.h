// How node addresses are written on the command line and printed in tables.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.h"

namespace bombarder {

// A node address as users write it: "http://127.0.0.1:8080", "http://host:8080/",
// "127.0.0.1:8080" or "8080" (host 127.0.0.1). Paths other than "/" are refused, and https://
// unless node TLS is configured (node_tls.h).
// Throws Error(kInvalidInput) naming the bad text.
[[nodiscard]] common::Endpoint parse_node_url(std::string_view text);
// A comma-separated list of node addresses (also accepts repeated flags already split by CLI11).
[[nodiscard]] std::vector<common::Endpoint> parse_node_list(const std::vector<std::string>& items);
// "http://host:port" ("https://" when node TLS is configured, node_tls.h), as printed in tables.
[[nodiscard]] std::string node_url(const common::Endpoint& endpoint);

}  // namespace bombarder
