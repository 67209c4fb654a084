#include "bombarder/cluster/redis_members.h"

#include "bombarder/cluster/cluster_proxies.h"

namespace bombarder {

namespace fs = std::filesystem;

fs::path redis_data_dir(const fs::path& node_dir) { return node_dir / "redis"; }

std::string redis_log_level(const std::string& level) {
  if (level == "trace") return "debug";
  if (level == "debug") return "verbose";
  if (level == "info") return "notice";
  return "warning";
}

std::vector<std::string> redis_command_line(const StartFlags& f, const std::string& redis_binary,
                                            uint64_t id, const fs::path& node_dir) {
  const ProxiedLayout layout(f.port, f.nodes);
  const int self = static_cast<int>(id);
  const int own_port = f.proxied ? layout.node_port(self) : f.port + self;
  std::vector<std::string> argv = {
      redis_binary, "--port", std::to_string(own_port), "--bind", f.host, "--dir",
      redis_data_dir(node_dir).string(),
      // Redis's default durability, fixed here so that every run tests the same thing.
      "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
      // DEBUG DIGEST for verify, from loopback connections only.
      "--enable-debug-command", "local",
      // Output to console.log, in the foreground (bombarder keeps the pid), and a process title
      // that names the port, which is how `cluster stop` knows the pid is still this node.
      "--daemonize", "no", "--logfile", "", "--loglevel", redis_log_level(f.log_level),
      "--proc-title-template", "{title} {listen-addr}"};
  if (self != 0) {
    const int primary_port = f.proxied ? layout.link_port(self, 0) : f.port;
    argv.insert(argv.end(), {"--replicaof", f.host, std::to_string(primary_port)});
  }
  return argv;
}

fs::path find_redis_binary(const std::string& node_bin) {
  return find_store_program("redis-server", node_bin,
                            "install Debian's redis-server, or pass --node-bin PATH to a "
                            "redis-server 7");
}

void check_redis_start_flags(const StartFlags& f) { refuse_stress_node_flags(f, "redis"); }

}  // namespace bombarder
