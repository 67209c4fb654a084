// The proxies and what they own: each proxy's listener, its toxic chain per direction and its
// open links; ServerState holds every proxy by name, the toxic uid counter and the generator the
// links' seeds come from. All on the one io_context thread (proxy_server.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "bombarder/proxy/link.h"
#include "bombarder/proxy/toxic.h"
#include "common/asio.h"

namespace bombarder::proxy {

struct ServerState;

struct ProxyState : std::enable_shared_from_this<ProxyState> {
  ServerState* server = nullptr;
  std::string name, listen, upstream;
  bool enabled = false;
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor;
  Chain chains[2];  // indexed by Direction
  std::set<std::shared_ptr<Link>> links;

  // {"name", "listen", "upstream", "enabled", "toxics"}.
  [[nodiscard]] json to_json() const;
  // The toxic of that name in either chain, or nullptr.
  [[nodiscard]] ToxicPtr find_toxic(const std::string& toxic_name) const;
  // Every link sees the current chains (Link::toxics_changed).
  void notify_links();
  // Listens on `listen` (rewritten to the bound address, "127.0.0.1:0" -> the port) and accepts
  // links; no-op when listening. Throws ApiError 500 when the address cannot be bound.
  void start();
  // Stops listening and closes every link.
  void stop();

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<ProxyState> self,
                                           std::shared_ptr<asio::ip::tcp::acceptor> acceptor);
};

struct ServerState {
  asio::io_context& io;
  std::mt19937_64 rng;  // seeds each link's own generator, in connection order
  uint64_t next_uid = 1;
  std::map<std::string, std::shared_ptr<ProxyState>> proxies;

  ServerState(asio::io_context& context, uint64_t seed) : io(context), rng(seed) {}
};

}  // namespace bombarder::proxy
