// A blocking client of a Toxiproxy-compatible REST API (`bombarder proxy`, or Toxiproxy itself),
// for the commands that apply network faults (scenario). Every call throws
// Error(kEnvironment) with the API's answer when it does not succeed.
#pragma once

#include <string>

#include "bombarder/client/api_client.h"
#include "common/endpoint.h"

namespace bombarder {

class ProxyClient {
 public:
  explicit ProxyClient(common::Endpoint api)
      : api_(std::move(api)), client_(ApiClient::Transport::kPlain) {}

  [[nodiscard]] const common::Endpoint& api() const { return api_; }
  // GET /version: the server answers at all (throws otherwise).
  [[nodiscard]] std::string version();
  // GET /proxies: name -> proxy object.
  [[nodiscard]] Json proxies();
  // POST /reset: every proxy enabled, every toxic removed.
  void reset();
  // POST /proxies/{proxy}/toxics with a toxic object (name, type, stream, toxicity, attributes).
  void add_toxic(const std::string& proxy, const Json& toxic);
  // POST /proxies/{proxy} {"enabled": ...}: disabling closes its connections and stops listening.
  void set_enabled(const std::string& proxy, bool enabled);

 private:
  ApiResponse call(boost::beast::http::verb method, const std::string& target,
                   const std::string& body, const std::string& what);

  common::Endpoint api_;
  ApiClient client_;
};

}  // namespace bombarder
