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

nlohmann::json proxied_config(const ProxiedLayout& layout, int nodes, const std::string& host) {
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
      proxies.push_back({{"name", link_proxy_name(from, to)},
                         {"listen", address(layout.link_port(from, to))},
                         {"upstream", address(layout.node_port(to))},
                         {"enabled", true}});
    }
  }
  return proxies;
}

ProxyRecord start_cluster_proxy(const ProxiedLayout& layout, int nodes, const std::string& host,
                                const fs::path& config_path, const fs::path& output_path,
                                std::chrono::milliseconds timeout) {
  {
    std::ofstream out(config_path, std::ios::trunc);
    out << proxied_config(layout, nodes, host).dump(2) << '\n';
    out.flush();
    if (!out) environment_failure("cannot write " + config_path.string());
  }
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
