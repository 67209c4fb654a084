#include "bombarder/cluster/cluster_proxies.h"

#include <fstream>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/base/process.h"
#include "bombarder/client/api_client.h"

namespace bombarder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint16_t ProxiedLayout::link_port(int from, int to) const {
  // Every ordered pair (from, to), from != to, gets its own slot: N-1 per sender.
  const int slot = from * (nodes_ - 1) + (to < from ? to : to - 1);
  return port(2 * nodes_ + slot);
}

std::string client_proxy_name(int node) { return "node" + std::to_string(node) + "-client"; }

std::string link_proxy_name(int from, int to) {
  return "link-" + std::to_string(from) + "-to-" + std::to_string(to);
}

std::string etcd_peer_host(int node) { return "etcd-node-" + std::to_string(node); }

nlohmann::json proxied_config(const ProxiedLayout& layout, int nodes, const std::string& host,
                              StoreSystem system) {
  auto address = [&host](uint16_t port) { return host + ":" + std::to_string(port); };
  nlohmann::json proxies = nlohmann::json::array();
  for (int i = 0; i < nodes; ++i) {
    proxies.push_back({{"name", client_proxy_name(i)},
                       {"listen", address(layout.client_port(i))},
                       {"upstream", address(layout.node_port(i))},
                       {"enabled", true}});
  }
  for (int from = 0; from < nodes; ++from) {
    for (int to = 0; to < nodes; ++to) {
      if (from == to) continue;
      proxies.push_back(
          {{"name", link_proxy_name(from, to)},
           {"listen", address(layout.link_port(from, to))},
           {"upstream", address(system == StoreSystem::kEtcd ? layout.etcd_peer_port(to)
                                                             : layout.node_port(to))},
           {"enabled", true}});
    }
  }
  return proxies;
}

nlohmann::json etcd_socks_config(const ProxiedLayout& layout, int nodes, const std::string& host) {
  auto address = [&host](uint16_t port) { return host + ":" + std::to_string(port); };
  nlohmann::json fronts = nlohmann::json::array();
  for (int from = 0; from < nodes; ++from) {
    nlohmann::json routes = nlohmann::json::object();
    for (int to = 0; to < nodes; ++to) {
      if (from == to) continue;
      routes[etcd_peer_host(to) + ":" + std::to_string(layout.etcd_peer_port(to))] =
          address(layout.link_port(from, to));
    }
    fronts.push_back({{"name", "node" + std::to_string(from) + "-peers"},
                      {"listen", address(layout.socks_port(from))},
                      {"routes", routes}});
  }
  return fronts;
}

namespace {

void write_json(const fs::path& path, const nlohmann::json& value) {
  std::ofstream out(path, std::ios::trunc);
  out << value.dump(2) << '\n';
  out.flush();
  if (!out) environment_failure("cannot write " + path.string());
}

}  // namespace

ProxyRecord start_cluster_proxy(const ProxiedLayout& layout, int nodes, const std::string& host,
                                StoreSystem system, const fs::path& config_path,
                                const fs::path& output_path, std::chrono::milliseconds timeout) {
  write_json(config_path, proxied_config(layout, nodes, host, system));
  ProxyRecord proxy;
  proxy.api = {host, layout.api_port()};
  proxy.config_path = config_path;
  proxy.output_path = output_path;
  proxy.args = {(executable_dir() / "bombarder").string(),
                "proxy",
                "--host",
                host,
                "--port",
                std::to_string(proxy.api.port),
                "--config",
                config_path.string()};
  if (system == StoreSystem::kEtcd) {
    const fs::path socks_path =
        config_path.parent_path() / ("socks-" + config_path.filename().string());
    write_json(socks_path, etcd_socks_config(layout, nodes, host));
    proxy.args.insert(proxy.args.end(), {"--socks-config", socks_path.string()});
  }
  proxy.pid = spawn_detached(proxy.args, output_path);

  ApiClient client(ApiClient::Transport::kPlain);
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (!process_alive(proxy.pid)) {
      environment_failure("the fault proxy ended during startup; see " + output_path.string());
    }
    if (client.get(proxy.api, "/version", 500ms).status == 200) return proxy;
    if (Clock::now() >= deadline) {
      (void)stop_process(proxy.pid, 2s);
      environment_failure("the fault proxy's API " + proxy.api.to_string() +
                          " does not answer; see " + output_path.string());
    }
    std::this_thread::sleep_for(20ms);  // poll interval, bounded by the deadline above
  }
}

}  // namespace bombarder
