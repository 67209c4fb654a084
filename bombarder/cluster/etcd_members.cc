#include "bombarder/cluster/etcd_members.h"

#include "bombarder/base/errors.h"

namespace bombarder {

namespace fs = std::filesystem;

fs::path etcd_data_dir(const fs::path& node_dir) { return node_dir / "etcd"; }

std::vector<std::string> etcd_command_line(const StartFlags& f, const std::string& etcd_binary,
                                           uint64_t id, const fs::path& node_dir,
                                           const std::string& token) {
  const auto url = [&f](int port) { return "http://" + f.host + ":" + std::to_string(port); };
  std::string initial_cluster;
  for (int i = 0; i < f.nodes; ++i) {
    if (!initial_cluster.empty()) initial_cluster += ",";
    initial_cluster += "node-" + std::to_string(i) + "=" + url(f.port + f.nodes + i);
  }
  const int self = static_cast<int>(id);
  const std::string client = url(f.port + self);
  const std::string peer = url(f.port + f.nodes + self);
  // etcd's log levels are debug, info, warn, error, panic, fatal; the others are stress_node's.
  std::string level = f.log_level;
  if (level == "trace") level = "debug";
  if (level == "critical" || level == "off") level = "error";
  return {etcd_binary,
          "--name",
          "node-" + std::to_string(id),
          "--data-dir",
          etcd_data_dir(node_dir).string(),
          "--listen-client-urls",
          client,
          "--advertise-client-urls",
          client,
          "--listen-peer-urls",
          peer,
          "--initial-advertise-peer-urls",
          peer,
          "--initial-cluster",
          initial_cluster,
          "--initial-cluster-token",
          token,
          "--initial-cluster-state",
          "new",
          "--logger",
          "zap",
          "--log-level",
          level};
}

fs::path find_etcd_binary(const std::string& node_bin) {
  return find_store_program("etcd", node_bin,
                            "install Debian's etcd-server, or pass --node-bin PATH to an etcd 3.4");
}

void check_etcd_start_flags(const StartFlags& f) {
  refuse_stress_node_flags(f, "etcd");
  if (f.proxied) invalid_input("--proxied is not supported with --system etcd yet");
}

}  // namespace bombarder
