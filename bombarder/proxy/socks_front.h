// A SOCKS5 front that routes by destination name (issue 18: `cluster start --system etcd
// --proxied`). Why it exists: an etcd member's peer URLs are agreed by the whole cluster (the
// member ids are hashes of them), so member i cannot be given "its own" address for member j the
// way a stress_node gets --peers pointing at its links. But etcd's peer transport honours
// HTTP_PROXY (Go's http.ProxyFromEnvironment, which takes socks5:// and skips only loopback
// addresses and "localhost"): with the peer URLs written as names (http://etcd-node-j:PORT) and
// HTTP_PROXY=socks5://<member i's front>, every connection member i dials to member j arrives
// here as "CONNECT etcd-node-j:PORT", and member i's front sends it on to the link proxy
// link-i-to-j. Cutting link-i-to-j then cuts everything i dials to j (its pipeline POSTs and the
// stream GETs that carry j's messages to i), so one member can be isolated from the others.
//
// Only what Go's client sends is served: version 5, no authentication, CONNECT to a domain name
// or an IPv4 address. A destination without a route is refused (reply 2, not allowed), an
// unreachable route (a disabled link) too (reply 5, refused): the dialer sees a failed dial.
// At most kConnectionsMax sockets at once (two per routed connection); beyond, new connections
// are closed. A handshake not done within 5 s is closed too.
//
// Threading: everything runs on the proxy's one io_context thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/asio.h"

namespace bombarder::proxy {

struct SocksFrontConfig {
  std::string name;                           // "node0-peers"
  std::string listen;                         // "127.0.0.1:25120"
  std::map<std::string, std::string> routes;  // "etcd-node-1:25114" -> "127.0.0.1:25106"
};

// Parses `--socks-config`: an array of {"name", "listen", "routes": {dest: upstream}}. Throws
// Error(kInvalidInput) naming the first bad entry.
[[nodiscard]] std::vector<SocksFrontConfig> parse_socks_config(const nlohmann::json& config);

class SocksFront {
 public:
  static constexpr size_t kConnectionsMax = 1024;

  SocksFront(boost::asio::io_context& io, SocksFrontConfig config);
  ~SocksFront();
  SocksFront(const SocksFront&) = delete;
  SocksFront& operator=(const SocksFront&) = delete;

  // Binds the listen address and starts accepting; throws boost::system::system_error when the
  // address cannot be bound.
  void start();
  // The bound port (after start(); a listen port 0 binds any free one).
  [[nodiscard]] uint16_t port() const;
  // Stops accepting and closes every connection.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bombarder::proxy
