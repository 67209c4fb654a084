#include "bombarder/cluster/redis_sentinels.h"

#include <sys/wait.h>

#include <fstream>
#include <future>
#include <thread>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/client/redis_resp.h"
#include "bombarder/client/redis_sentinel.h"
#include "bombarder/cluster/cluster_proxies.h"
#include "bombarder/cluster/redis_members.h"

namespace bombarder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int sentinel_quorum(int sentinels) { return sentinels / 2 + 1; }

int sentinel_port(const StartFlags& f, int index) {
  const int after_nodes = f.proxied ? ProxiedLayout(f.port, f.nodes).ports_used() : f.nodes;
  return f.port + after_nodes + index;
}

fs::path find_sentinel_binary() {
  return find_store_program("redis-sentinel", "",
                            "install Debian's redis-sentinel (scripts/install-deps.sh)");
}

void check_sentinel_flags(const StartFlags& f) {
  if (f.sentinels == 0) return;
  if (f.system != StoreSystem::kRedis) {
    invalid_input("--sentinel is for `cluster start --system redis`");
  }
  if (f.sentinels < 1 || f.sentinels > kSentinelsMax) {
    invalid_input("--sentinel takes 1 to " + std::to_string(kSentinelsMax) + " sentinels, not " +
                  std::to_string(f.sentinels));
  }
  if (f.nodes < 2) invalid_input("--sentinel needs a replica to promote: --nodes 2 or more");
}

namespace {

std::string sentinel_config(const StartFlags& f, const fs::path& dir, const NodeRecord& primary) {
  const std::string name = kSentinelMasterName;
  return "# Written by `bombarder cluster start --system redis --sentinel`; Sentinel rewrites\n"
         "# it with what it learns (replicas, other sentinels, the current primary).\n"
         "bind " +
         f.host + "\nprotected-mode no\ndir " + dir.string() + "\nsentinel monitor " + name + " " +
         f.host + " " + std::to_string(primary.node_port()) + " " +
         std::to_string(sentinel_quorum(f.sentinels)) + "\nsentinel down-after-milliseconds " +
         name + " " + std::to_string(kSentinelDownAfterMs) + "\nsentinel failover-timeout " + name +
         " " + std::to_string(kSentinelFailoverTimeoutMs) + "\nsentinel parallel-syncs " + name +
         " 1\n";
}

}  // namespace

std::vector<SentinelRecord> plan_sentinels(const StartFlags& f, const fs::path& binary,
                                           const ClusterRecord& record) {
  std::vector<SentinelRecord> planned;
  for (int i = 0; i < f.sentinels; ++i) {
    SentinelRecord s;
    s.id = static_cast<uint64_t>(i);
    s.endpoint = {f.host, static_cast<uint16_t>(sentinel_port(f, i))};
    const fs::path dir = data_root() / ("sentinel-" + std::to_string(i));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) environment_failure("cannot create " + dir.string() + ": " + ec.message());
    s.config_path = dir / "sentinel.conf";
    s.output_path = dir / "console.log";
    std::ofstream out(s.config_path, std::ios::trunc);
    out << sentinel_config(f, dir, record.nodes.front());
    if (!out.flush()) environment_failure("cannot write " + s.config_path.string());
    // The port and the process title on the command line: the title "redis-sentinel HOST:PORT"
    // is how `cluster stop` knows the pid is still this sentinel.
    s.args = {binary.string(),
              s.config_path.string(),
              "--port",
              std::to_string(s.endpoint.port),
              "--daemonize",
              "no",
              "--logfile",
              "",
              "--loglevel",
              redis_log_level(f.log_level),
              "--proc-title-template",
              "{title} {listen-addr}"};
    planned.push_back(std::move(s));
  }
  return planned;
}

namespace {

// "" when the sentinel knows the primary, its replicas and the other sentinels; else why not.
std::string sentinel_not_ready(const SentinelRecord& s, size_t replicas, size_t others) {
  RedisSession session(s.endpoint, 500ms);
  const std::optional<RespReply> reply =
      session.command({"SENTINEL", "MASTER", kSentinelMasterName});
  if (!reply) return "sentinel " + s.endpoint.to_string() + ": " + session.error();
  if (reply->type != RespReply::Type::kArray) {
    return "sentinel " + s.endpoint.to_string() + ": SENTINEL MASTER answered " + reply->describe();
  }
  // Field names and values alternate.
  std::string slaves = "?";
  std::string sentinels = "?";
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    if (reply->elements[i].text == "num-slaves") slaves = reply->elements[i + 1].text;
    if (reply->elements[i].text == "num-other-sentinels") sentinels = reply->elements[i + 1].text;
  }
  if (slaves == std::to_string(replicas) && sentinels == std::to_string(others)) return "";
  return "sentinel " + s.endpoint.to_string() + " knows " + slaves + " of " +
         std::to_string(replicas) + " replicas and " + sentinels + " of " + std::to_string(others) +
         " other sentinels";
}

}  // namespace

void start_sentinels(std::vector<SentinelRecord> planned, ClusterRecord& record,
                     std::chrono::milliseconds timeout) {
  for (SentinelRecord& s : planned) {
    s.pid = spawn_detached(s.args, s.output_path);
    record.sentinels.push_back(std::move(s));
    save_cluster_record(record);
  }
  const size_t replicas = record.nodes.size() - 1;
  const size_t others = record.sentinels.size() - 1;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::string why;
    for (const SentinelRecord& s : record.sentinels) {
      int status = 0;
      if (::waitpid(s.pid, &status, WNOHANG) == s.pid) {
        environment_failure("sentinel " + std::to_string(s.id) + " (" + s.endpoint.to_string() +
                            ") ended during startup; see " + s.output_path.string());
      }
      if (why.empty()) why = sentinel_not_ready(s, replicas, others);
    }
    if (why.empty()) return;
    if (Clock::now() >= deadline) {
      environment_failure("the sentinels are not ready after " +
                          std::to_string(timeout.count() / 1000) + " s: " + why);
    }
    // Sentinels find each other through the primary every 2 s (their hello messages).
    std::this_thread::sleep_for(100ms);  // poll interval, bounded by the deadline above
  }
}

bool is_sentinel_process(pid_t pid, uint16_t port) {
  if (!process_alive(pid)) return false;
  const std::vector<std::string> args = process_command_line(pid);
  if (args.empty()) return false;
  const std::string program = fs::path(args[0]).filename().string();
  // Once running, its title (--proc-title-template) is one argument: "redis-sentinel HOST:PORT".
  if (program.starts_with("redis-sentinel ")) {
    return program.ends_with(std::string(1, ':').append(std::to_string(port)));
  }
  if (program != "redis-sentinel") return false;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--port" && args[i + 1] == std::to_string(port)) return true;
  }
  return false;
}

std::vector<StopOutcome> stop_sentinels(const ClusterRecord& record,
                                        std::chrono::milliseconds grace) {
  std::vector<std::future<StopOutcome>> stops;
  for (const SentinelRecord& s : record.sentinels) {
    stops.push_back(std::async(std::launch::async, [&s, grace] {
      return is_sentinel_process(s.pid, s.endpoint.port) ? stop_process(s.pid, grace)
                                                         : StopOutcome::kNotRunning;
    }));
  }
  std::vector<StopOutcome> out;
  for (auto& stop : stops) out.push_back(stop.get());
  return out;
}

std::vector<SentinelView> inspect_sentinels(const ClusterRecord& record) {
  std::vector<std::future<SentinelView>> asks;
  for (const SentinelRecord& s : record.sentinels) {
    asks.push_back(std::async(std::launch::async, [&s] {
      SentinelView view;
      view.sentinel = s;
      view.running = is_sentinel_process(s.pid, s.endpoint.port);
      const auto primary = sentinel_primary(s.endpoint, kSentinelMasterName, 1s, &view.error);
      if (primary) view.primary = primary->to_string();
      return view;
    }));
  }
  std::vector<SentinelView> out;
  for (auto& ask : asks) out.push_back(ask.get());
  return out;
}

}  // namespace bombarder
