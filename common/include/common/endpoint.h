// A network address as operators write it on the command line (design.md §4): a peer is `PORT`
// (meaning the default host, 127.0.0.1) or `HOST:PORT`.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace common {

struct Endpoint {
  std::string host;  // IPv4 literal or hostname; never empty once parsed
  uint16_t port = 0;

  // "host:port", the form parse() accepts back.
  [[nodiscard]] std::string to_string() const;

  // "PORT" (host = default_host) or "HOST:PORT", port in [1, 65535], digits only, nothing
  // trailing. Hosts are IPv4 literals or DNS names ([A-Za-z0-9.-], at most 253 bytes); IPv6
  // literals are not accepted. On failure returns nullopt and, if `error` is non-null, says why.
  [[nodiscard]] static std::optional<Endpoint> parse(std::string_view text,
                                                     std::string_view default_host,
                                                     std::string* error);

  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

}  // namespace common
