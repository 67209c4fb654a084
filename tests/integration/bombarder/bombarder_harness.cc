#include "bombarder_harness.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>

namespace integration {

namespace fs = std::filesystem;

namespace {

bool port_free(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string tail_of(const fs::path& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "    " + all[i] + "\n";
  }
  return out;
}

}  // namespace

BombarderEnv::BombarderEnv() {
  std::string pattern = (fs::temp_directory_path() / "bombarder_it.XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = pattern;
}

BombarderEnv::~BombarderEnv() {
  (void)run({"cluster", "stop"}, std::chrono::seconds(30));
  // Backstop: anything still recorded and still a node of ours.
  std::ifstream in(root_ / "cluster.json");
  const Json record = Json::parse(in, nullptr, false);
  // A supervisor first (issue 7): it would restart the nodes killed below.
  if (record.is_object() && record.contains("supervisor")) {
    const pid_t pid = record["supervisor"].value("pid", 0);
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    if (pid > 0 && fs::path(argv0).filename() == "bombarder") ::kill(pid, SIGKILL);
  }
  if (record.is_object() && record.contains("nodes")) {
    for (const Json& node : record["nodes"]) {
      const pid_t pid = node.value("pid", 0);
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      std::string argv0;
      std::getline(cmdline, argv0, '\0');
      const fs::path program = fs::path(argv0).filename();
      // A Redis node's title is "redis-server HOST:PORT" (cluster start --system redis).
      const bool redis = program.string().starts_with("redis-server");
      if (pid > 0 && (program == "stress_node" || program == "etcd" || redis)) {
        ::kill(pid, SIGKILL);
      }
    }
  }
  // The Redis sentinels of `cluster start --system redis --sentinel` ("redis-sentinel HOST:PORT").
  if (record.is_object() && record.contains("sentinels")) {
    for (const Json& sentinel : record["sentinels"]) {
      const pid_t pid = sentinel.value("pid", 0);
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      std::string argv0;
      std::getline(cmdline, argv0, '\0');
      if (pid > 0 && fs::path(argv0).filename().string().starts_with("redis-sentinel")) {
        ::kill(pid, SIGKILL);
      }
    }
  }
  // And the fault proxy of `cluster start --proxied`.
  if (record.is_object() && record.contains("proxy")) {
    const pid_t pid = record["proxy"].value("pid", 0);
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    if (pid > 0 && fs::path(argv0).filename() == "bombarder") ::kill(pid, SIGKILL);
  }
  const char* keep = std::getenv("INTEGRATION_KEEP");
  if (::testing::Test::HasFailure() || (keep != nullptr && *keep != '\0')) {
    std::cout << "[bombarder harness] keeping " << root_.string() << std::endl;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_, ec)) {
      const fs::path log = entry.path() / "node.log";
      if (fs::exists(log)) std::cout << "  " << log.string() << ":\n" << tail_of(log, 15);
    }
  } else {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
}

RunResult BombarderEnv::run(const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {BOMBARDER_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, timeout, {"STRESS_TEST_DATA=" + root_.string()});
}

uint16_t BombarderEnv::free_port_range(size_t count) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> base(20000, 30000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto first = static_cast<uint16_t>(base(rng));
    bool all = true;
    for (size_t i = 0; i < count && all; ++i) all = port_free(static_cast<uint16_t>(first + i));
    if (all) return first;
  }
  throw std::runtime_error("no free port range found");
}

bool BombarderEnv::wait_port_range_free(uint16_t first, size_t count,
                                        std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        for (size_t i = 0; i < count; ++i) {
          if (!port_free(static_cast<uint16_t>(first + i))) return false;
        }
        return true;
      },
      timeout);
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

int exit_code(const RunResult& result) {
  return result.status && result.status->exited ? result.status->code : -1;
}

uint16_t wait_for_printed_port(const std::function<std::string()>& output, const std::regex& line,
                               std::chrono::milliseconds timeout) {
  uint16_t port = 0;
  (void)wait_until(
      [&] {
        std::smatch m;
        const std::string out = output();
        if (!std::regex_search(out, m, line)) return false;
        port = static_cast<uint16_t>(std::stoi(m[1]));
        return true;
      },
      timeout);
  return port;
}

uint16_t wait_for_proxy_api(const BackgroundProcess& proxy, std::chrono::milliseconds timeout) {
  static const std::regex api_line(R"(API on http://127\.0\.0\.1:([0-9]+))");
  return wait_for_printed_port([&] { return proxy.output(); }, api_line, timeout);
}

}  // namespace integration
