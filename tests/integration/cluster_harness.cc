#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "cluster_harness.h"

#ifndef STRESS_NODE_BIN
#error "STRESS_NODE_BIN must name the stress_node binary (set by CMake)"
#endif

namespace integration {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;

namespace {

constexpr auto kStartupTimeout = 10s;
constexpr int kStartAttemptsMax = 3;  // port clashes at startup
constexpr size_t kLogTailLines = 40;  // printed per node when a test fails
constexpr uint64_t kResponseBytesMax = 64 << 20;
constexpr size_t kListPageEntries = 10000;  // kv::kReadLimitMax
constexpr int kListPagesMax = 100;

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string tail_lines(const fs::path& path, size_t lines) {
  std::ifstream in(path);
  if (!in) return "  (no " + path.filename().string() + ")\n";
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(std::move(line));
  std::string out;
  for (size_t k = all.size() > lines ? all.size() - lines : 0; k < all.size(); ++k) {
    out += "  " + all[k] + "\n";
  }
  return out;
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "cluster";
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  }
  return name;
}

fs::path make_temp_root() {
  std::string pattern =
      (fs::temp_directory_path() / ("stress_node_it." + current_test_name() + ".XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
}

uint64_t json_u64(const Json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HTTP

std::string HttpResult::header(std::string_view name) const {
  auto it = headers.find(lowercase(name));
  return it == headers.end() ? std::string() : it->second;
}

Json HttpResult::json() const { return Json::parse(body, nullptr, false); }

std::string HttpResult::describe() const {
  if (status == 0) return "no answer: " + error;
  constexpr size_t kBodyShownMax = 300;
  return std::to_string(status) + " " +
         (body.size() > kBodyShownMax ? body.substr(0, kBodyShownMax) + "..." : body);
}

HttpResult post_peer_frame(uint16_t port, std::string_view path, [[maybe_unused]] uint64_t from,
                           [[maybe_unused]] uint64_t to, std::string_view body,
                           const Headers& auth) {
  // from/to: the parties `auth` was computed for (the MAC binds them).
  Headers headers = auth;
  headers.emplace_back("Content-Type", "application/octet-stream");
  return http_request(port, "POST", path, body, headers);
}

HttpResult http_request(uint16_t port, std::string_view method, std::string_view target,
                        std::string_view body, const Headers& headers,
                        std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  const auto deadline = Clock::now() + timeout;

  http::request<http::string_body> request;
  // Boost 1.74's Beast takes boost::string_view.
  const beast::string_view method_text(method.data(), method.size());
  const http::verb verb = http::string_to_verb(method_text);
  if (verb == http::verb::unknown) {
    request.method_string(method_text);
  } else {
    request.method(verb);
  }
  request.target(beast::string_view(target.data(), target.size()));
  request.version(11);
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  request.set(http::field::user_agent, "stress_node-integration");
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    request.set(name, value);
    has_content_type = has_content_type || lowercase(name) == "content-type";
  }
  if (!body.empty() && !has_content_type)
    request.set(http::field::content_type, "application/json");
  request.body() = std::string(body);
  request.prepare_payload();

  HttpResult result;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBytesMax);
  bool answered = false;
  boost::system::error_code write_error;

  // The read runs alongside the write: a server may answer (413) and close before reading a
  // large body, and that answer must still reach the test.
  stream.expires_at(deadline);
  stream.async_connect(
      asio::ip::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port),
      [&](boost::system::error_code ec) {
        if (ec) {
          result.error = ec.message();
          return;
        }
        stream.expires_at(deadline);
        http::async_write(stream, request, [&](boost::system::error_code wec, size_t) {
          if (wec && !answered) write_error = wec;
        });
        http::async_read(stream, buffer, parser, [&](boost::system::error_code rec, size_t) {
          if (rec) {
            result.error = write_error
                               ? "write: " + write_error.message() + "; read: " + rec.message()
                               : rec.message();
            boost::system::error_code ignored;
            stream.socket().close(ignored);
            return;
          }
          answered = true;
          const auto& response = parser.get();
          result.status = static_cast<int>(response.result_int());
          for (const auto& field : response) {
            const beast::string_view name = field.name_string();
            result.headers.emplace(lowercase(std::string_view(name.data(), name.size())),
                                   std::string(field.value()));
          }
          result.body = response.body();
          boost::system::error_code ignored;
          stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
          stream.socket().close(ignored);
        });
      });
  io.run();
  return result;
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (predicate()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(poll, deadline - Clock::now()));
  }
}

namespace {

// [lo, hi] of the kernel's ephemeral ports (outgoing connections take their local port there).
std::pair<uint16_t, uint16_t> ephemeral_port_range() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned lo = 32768, hi = 60999;
  in >> lo >> hi;
  return {static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

bool can_bind(uint16_t port) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  return !ec;
}

}  // namespace

uint16_t free_loopback_port() {
  // Below the ephemeral range, so that the thousands of client connections a test makes never
  // take a node's port while it is down; random, so that concurrent tests rarely pick the same.
  constexpr uint16_t kPortMin = 10000;
  constexpr int kTriesMax = 200;
  const uint16_t below = ephemeral_port_range().first;
  if (below > kPortMin + 1000) {
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int> pick(kPortMin, below - 1);
    for (int k = 0; k < kTriesMax; ++k) {
      const auto port = static_cast<uint16_t>(pick(rng));
      if (can_bind(port)) return port;
    }
  }
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.bind(endpoint);
  return acceptor.local_endpoint().port();
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t k = 0; k < text.size(); ++k) {
    const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
    const char c = text[k];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

uint64_t test_seed() {
  uint64_t seed = 0;
  if (const char* env = std::getenv("INTEGRATION_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device device;
    seed = (uint64_t{device()} << 32) | device();
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::cout << "[seed] " << seed << "  (replay: INTEGRATION_SEED=" << seed
            << " ctest -R 'integration." << (info ? info->test_suite_name() : "") << "."
            << (info ? info->name() : "") << "$')" << std::endl;
  return seed;
}

std::string ExitStatus::describe() const {
  return exited ? "exit code " + std::to_string(code)
                : "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

// ---------------------------------------------------------------------------------------------
// Processes

namespace {

// fork + exec with stdout and stderr appended to `output_path`; the child dies with the thread
// that forked it (PR_SET_PDEATHSIG).
// `extra_env` entries ("NAME=VALUE") replace or extend the test's environment.
pid_t spawn_process(const std::vector<std::string>& args, const std::string& output_path,
                    const std::vector<std::string>& extra_env = {}) {
  // Everything the child needs is prepared before fork(): after it only async-signal-safe calls
  // (the test may have other threads).
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& entry : extra_env) envp.push_back(const_cast<char*>(entry.c_str()));
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view current(*e);
    const std::string_view name = current.substr(0, current.find('='));
    const bool replaced = std::any_of(extra_env.begin(), extra_env.end(), [&](const auto& x) {
      return std::string_view(x).substr(0, x.find('=')) == name;
    });
    if (!replaced) envp.push_back(*e);
  }
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid > 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
  const int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int in = ::open("/dev/null", O_RDONLY);
  if (out < 0 || in < 0) ::_exit(127);
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(out, STDERR_FILENO);
  // The test's sockets and files are not the node's business.
  ::close_range(3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(argv[0], argv.data(), envp.data());
  ::_exit(127);
}

ExitStatus to_exit_status(int wait_status) {
  ExitStatus out;
  out.exited = WIFEXITED(wait_status);
  out.code = out.exited ? WEXITSTATUS(wait_status) : 0;
  out.signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
  return out;
}

std::optional<ExitStatus> wait_process(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  const bool ended = wait_until(
      [&] {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        return r == pid || (r < 0 && errno != EINTR);
      },
      timeout, 5ms);
  if (!ended) return std::nullopt;
  return to_exit_status(status);
}

}  // namespace

RunResult run_stress_node(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {STRESS_NODE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, timeout);
}

std::string stress_node_binary() { return STRESS_NODE_BIN; }

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : raw) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  return hex;
}

void write_private_file(const fs::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("create " + path.string() + ": " + std::strerror(errno));
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("write " + path.string() + ": " + std::strerror(errno));
}

RunResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                      const std::vector<std::string>& extra_env) {
  std::string out_path = (fs::temp_directory_path() / "integration.run.XXXXXX").string();
  const int fd = ::mkstemp(out_path.data());
  if (fd < 0) throw std::runtime_error("mkstemp: " + std::string(std::strerror(errno)));
  ::close(fd);
  const pid_t pid = spawn_process(argv, out_path, extra_env);
  RunResult result;
  result.status = wait_process(pid, timeout);
  if (!result.status) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  result.output = file_text(out_path);
  std::error_code ignored;
  fs::remove(out_path, ignored);
  return result;
}

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, fs::path output_path)
    : argv_(std::move(argv)), output_path_(std::move(output_path)) {
  pid_ = spawn_process(argv_, output_path_.string());
}

BackgroundProcess::~BackgroundProcess() { (void)stop(); }

bool BackgroundProcess::running() {
  if (ended_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) ended_ = to_exit_status(status);
  return !ended_;
}

std::string BackgroundProcess::output() const { return file_text(output_path_); }

ExitStatus BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return *ended_;
  ::kill(pid_, SIGTERM);
  ended_ = wait_process(pid_, grace);
  if (!ended_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    ended_ = to_exit_status(status);
  }
  return *ended_;
}

// ---------------------------------------------------------------------------------------------
// Cluster: processes

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), owner_(std::this_thread::get_id()) {
  if (options_.nodes == 0) throw std::invalid_argument("a cluster needs at least one node");
  root_ = make_temp_root();
  make_secrets();
  nodes_.resize(options_.nodes);
  std::string error;
  for (int attempt = 1; attempt <= kStartAttemptsMax; ++attempt) {
    pick_ports();
    if (start_all(&error)) return;
    std::cout << "[harness] start attempt " << attempt << " failed: " << error << std::endl;
  }
  // The destructor does not run for a throwing constructor: clean up here.
  stop_all();
  print_diagnostics();
  throw std::runtime_error("cannot start the cluster: " + error);
}

Cluster::~Cluster() {
  stop_all();
  if (::testing::Test::HasFailure()) {
    print_diagnostics();
  } else if (const char* keep = std::getenv("INTEGRATION_KEEP"); keep != nullptr && *keep != '\0') {
    std::cout << "[harness] INTEGRATION_KEEP: keeping " << root_.string() << std::endl;
  } else {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
}

void Cluster::make_secrets() {
  if (!options_.insecure_peers) {
    secret_path_ = root_ / "cluster-secret";
    write_private_file(secret_path_, random_hex(32) + "\n");
  }
  if (options_.admin_token) {
    admin_token_ = random_hex(32);
    admin_token_path_ = root_ / "admin-token";
    write_private_file(admin_token_path_, admin_token_ + "\n");
  }
}

Headers Cluster::admin_headers() const { return {{"Authorization", "Bearer " + admin_token_}}; }

std::string Cluster::address(size_t i) const { return "127.0.0.1:" + std::to_string(port(i)); }

fs::path Cluster::data_dir(size_t i) const {
  if (options_.data_dir_of) return options_.data_dir_of(i);
  return root_ / ("node-" + std::to_string(i));
}

fs::path Cluster::output_path(size_t i) const {
  return root_ / ("node-" + std::to_string(i) + ".out");
}

std::vector<size_t> Cluster::running_nodes() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (running(i)) out.push_back(i);
  }
  return out;
}

void Cluster::pick_ports() {
  std::set<uint16_t> taken;
  for (Node& node : nodes_) {
    do {
      node.port = free_loopback_port();
    } while (!taken.insert(node.port).second);
  }
}

std::vector<std::string> Cluster::argv_for(size_t i) const {
  std::string peers;
  for (size_t j = 0; j < nodes_.size(); ++j) {
    if (j == i) continue;
    peers += (peers.empty() ? "" : ",") + std::to_string(j) + "@" + address(j);
  }
  std::vector<std::string> argv = {STRESS_NODE_BIN,
                                   "--node-id",
                                   std::to_string(i),
                                   "--host",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(port(i)),
                                   "--data-dir",
                                   data_dir(i).string(),
                                   "--tick-ms",
                                   std::to_string(options_.tick_ms),
                                   "--election-ticks",
                                   std::to_string(options_.election_ticks),
                                   "--heartbeat-ticks",
                                   std::to_string(options_.heartbeat_ticks),
                                   "--log-level",
                                   options_.log_level};
  // A single node has no peers; the flag then takes an empty list.
  argv.push_back("--peers");
  argv.push_back(peers);
  if (options_.snapshot_threshold) {
    // A test that sets the threshold wants snapshots at that interval, however large the state
    // it writes (the interval otherwise grows with the state: --snapshot-state-ratio).
    argv.push_back("--snapshot-threshold");
    argv.push_back(std::to_string(*options_.snapshot_threshold));
    argv.push_back("--snapshot-state-ratio");
    argv.push_back("0");
  }
  if (options_.commit_timeout_ms) {
    argv.push_back("--commit-timeout-ms");
    argv.push_back(std::to_string(*options_.commit_timeout_ms));
  }
  if (options_.insecure_peers) {
    argv.push_back("--insecure-peers");
  } else {
    argv.insert(argv.end(), {"--cluster-secret-file", secret_path_.string()});
  }
  if (options_.admin_token) {
    argv.insert(argv.end(), {"--admin-token-file", admin_token_path_.string()});
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

void Cluster::check_owner_thread(const char* what) const {
  // PR_SET_PDEATHSIG fires when the forking *thread* exits: process control from a short-lived
  // thread would kill the nodes it started when that thread ends.
  if (std::this_thread::get_id() != owner_) {
    throw std::logic_error(std::string("Cluster::") + what +
                           " must run on the thread that constructed the Cluster");
  }
}

void Cluster::spawn(size_t i) {
  check_owner_thread("spawn");
  Node& node = nodes_.at(i);
  if (node.pid > 0) throw std::logic_error("node " + std::to_string(i) + " is already running");
  const std::vector<std::string> args = argv_for(i);
  const std::string out_path = output_path(i).string();
  {
    std::ofstream banner(out_path, std::ios::app);
    banner << "==== start " << node.starts + 1 << ":";
    for (const std::string& arg : args) banner << " " << arg;
    banner << "\n";
  }
  const pid_t pid = spawn_process(args, out_path);
  node.pid = pid;
  ++node.starts;
}

bool Cluster::start_all(std::string* error) {
  for (size_t i = 0; i < nodes_.size(); ++i) spawn(i);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (wait_serving(i, kStartupTimeout)) continue;
    *error = "node " + std::to_string(i) + " did not start serving on " + address(i);
    const bool clash = port_clash(i);
    stop_all();
    if (!clash) throw std::runtime_error(*error + ":\n" + tail_lines(output_path(i), 20));
    // Fresh data dirs for the next attempt: the members' addresses change with the ports.
    for (size_t j = 0; j < nodes_.size(); ++j) {
      std::error_code ignored;
      fs::remove_all(data_dir(j), ignored);
    }
    return false;
  }
  return true;
}

void Cluster::reap(size_t i) { nodes_.at(i).pid = -1; }

void Cluster::stop_all() {
  for (Node& node : nodes_) {
    if (node.pid <= 0) continue;
    ::kill(node.pid, SIGKILL);
    int status = 0;
    while (::waitpid(node.pid, &status, 0) < 0 && errno == EINTR) {
    }
    node.pid = -1;
  }
}

void Cluster::signal(size_t i, int sig) {
  check_owner_thread("signal");
  const Node& node = nodes_.at(i);
  if (node.pid <= 0) throw std::logic_error("node " + std::to_string(i) + " is not running");
  ::kill(node.pid, sig);
}

void Cluster::kill(size_t i) {
  signal(i, SIGKILL);
  int status = 0;
  while (::waitpid(nodes_.at(i).pid, &status, 0) < 0 && errno == EINTR) {
  }
  reap(i);
}

std::optional<ExitStatus> Cluster::wait_exit(size_t i, std::chrono::milliseconds timeout) {
  check_owner_thread("wait_exit");
  const pid_t pid = nodes_.at(i).pid;
  if (pid <= 0) throw std::logic_error("node " + std::to_string(i) + " is not running");
  const auto status = wait_process(pid, timeout);
  if (status) reap(i);
  return status;
}

void Cluster::restart(size_t i) {
  for (int attempt = 1;; ++attempt) {
    spawn(i);
    if (wait_serving(i, kStartupTimeout)) return;
    // Another process may hold the port for a moment (the members' ports cannot change): retry.
    if (!port_clash(i) || attempt == kStartAttemptsMax) break;
    std::cout << "[harness] node " << i << ": port " << port(i) << " busy at restart, retrying"
              << std::endl;
    std::this_thread::sleep_for(200ms);  // pacing between attempts, not a wait for a condition
  }
  throw std::runtime_error("node " + std::to_string(i) + " did not serve again after restart:\n" +
                           tail_lines(output_path(i), 20));
}

bool Cluster::port_clash(size_t i) const {
  // Only what the latest start wrote (spawn() writes a banner before each start).
  const std::string output = file_text(output_path(i));
  const size_t banner = output.rfind("==== start");
  const std::string latest = banner == std::string::npos ? output : output.substr(banner);
  return latest.find("cannot listen") != std::string::npos;
}

bool Cluster::wait_serving(size_t i, std::chrono::milliseconds timeout) {
  const pid_t pid = nodes_.at(i).pid;
  const auto ended = [&] {
    int status = 0;
    if (std::this_thread::get_id() != owner_ || ::waitpid(pid, &status, WNOHANG) != pid) {
      return false;
    }
    reap(i);
    return true;
  };
  bool ours = false;
  (void)wait_until(
      [&] {
        if (ended()) return true;  // stop waiting; reported as not serving
        const auto s = state(i);
        // Another test's node may answer on this port after a clash: check it is ours.
        ours = s && is_ours(i, s->raw);
        return ours;
      },
      timeout, 10ms);
  // The process may have died right after answering (it was another one that answered).
  return ours && !ended() && running(i);
}

bool Cluster::is_ours(size_t i, const Json& status) const {
  if (status.value("node_id", uint64_t{999}) != i) return false;
  const auto members = status.find("members");
  if (members == status.end() || !members->is_array() || members->size() != nodes_.size()) {
    return false;
  }
  for (const Json& member : *members) {
    const uint64_t id = member.value("id", uint64_t{999});
    if (id >= nodes_.size() || member.value("address", "") != address(id)) return false;
  }
  return true;
}

void Cluster::print_diagnostics() const {
  std::cout << "[harness] keeping " << root_.string() << " for inspection\n";
  for (const std::string& text : notes_) std::cout << "[harness] " << text << "\n";
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::cout << "---- node " << i << " (" << address(i) << ") node.log tail:\n"
              << tail_lines(data_dir(i) / "node.log", kLogTailLines);
    std::cout << "---- node " << i << " stdout/stderr tail:\n" << tail_lines(output_path(i), 8);
  }
  std::cout << std::flush;
}

// ---------------------------------------------------------------------------------------------
// Cluster: HTTP helpers

HttpResult Cluster::request(size_t i, std::string_view method, std::string_view target,
                            std::string_view body, const Headers& headers,
                            std::chrono::milliseconds timeout) const {
  return http_request(port(i), method, target, body, headers, timeout);
}

std::optional<NodeState> Cluster::state(size_t i) const {
  const HttpResult r = request(i, "GET", "/status", {}, {}, 1s);
  if (r.status != 200) return std::nullopt;
  Json doc = r.json();
  if (!doc.is_object()) return std::nullopt;
  NodeState s;
  s.role = doc.value("role", "");
  s.term = json_u64(doc, "term");
  if (auto it = doc.find("leader_id"); it != doc.end() && it->is_number_unsigned()) {
    s.leader_id = it->get<uint64_t>();
  }
  s.commit_index = json_u64(doc, "commit_index");
  s.applied_index = json_u64(doc, "applied_index");
  s.entry_count = json_u64(doc, "entry_count");
  // Both null for a moment after a node starts: its first hash is still being computed.
  if (auto it = doc.find("state_hash"); it != doc.end() && it->is_string()) {
    s.state_hash = it->get<std::string>();
  }
  if (auto it = doc.find("state_hash_index"); it != doc.end() && it->is_number_unsigned()) {
    s.state_hash_index = it->get<uint64_t>();
  }
  s.snapshot_index = json_u64(doc, "snapshot_index");
  s.raw = std::move(doc);
  return s;
}

HttpResult Cluster::create(size_t i, std::string_view key, std::string_view value,
                           const Headers& headers, std::chrono::milliseconds timeout) const {
  const Json body = {{"key", key}, {"value", value}};
  return request(i, "POST", "/api/kv", body.dump(), headers, timeout);
}

HttpResult Cluster::get(size_t i, std::string_view id, bool local) const {
  return request(i, "GET", "/api/kv/" + std::string(id) + (local ? "?consistency=local" : ""));
}

std::optional<std::map<std::string, Json>> Cluster::list_all(size_t i, bool local) const {
  std::map<std::string, Json> out;
  std::string after;
  for (int page = 0; page < kListPagesMax; ++page) {
    std::string target = "/api/kv?limit=" + std::to_string(kListPageEntries);
    if (!after.empty()) target += "&after=" + after;
    if (local) target += "&consistency=local";
    const HttpResult r = request(i, "GET", target, {}, {}, 10s);
    if (r.status != 200) return std::nullopt;
    const Json entries = r.json();
    if (!entries.is_array()) return std::nullopt;
    for (const Json& entry : entries) {
      after = entry.value("id", "");
      out[after] = entry;
    }
    if (entries.size() < kListPageEntries) return out;
  }
  return std::nullopt;
}

CreatedBatch Cluster::create_many(size_t i, std::string_view prefix, size_t count,
                                  size_t concurrency) const {
  CreatedBatch batch;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  std::vector<std::thread> clients;
  for (size_t c = 0; c < std::max<size_t>(concurrency, 1); ++c) {
    clients.emplace_back([&] {
      for (size_t n = next++; n < count; n = next++) {
        const std::string key = std::string(prefix) + "-" + std::to_string(n);
        const std::string value = "value-" + std::to_string(n);
        const HttpResult r = create(i, key, value);
        const Json entry = r.json();
        std::lock_guard lock(mutex);
        if (r.status == 201 && entry.is_object() && entry.contains("id")) {
          batch.acked[entry["id"].get<std::string>()] = value;
        } else {
          batch.failures.push_back(key + ": " + r.describe());
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  return batch;
}

std::optional<double> Cluster::metric(size_t i, std::string_view name) const {
  const HttpResult r = request(i, "GET", "/metrics");
  if (r.status != 200) return std::nullopt;
  std::istringstream lines(r.body);
  const std::string prefix = std::string(name) + " ";
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(prefix)) return std::strtod(line.c_str() + prefix.size(), nullptr);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Cluster: agreement

std::optional<size_t> Cluster::leader_index() const {
  std::optional<uint64_t> leader;
  for (size_t i : running_nodes()) {
    const auto s = state(i);
    if (!s || !s->leader_id) return std::nullopt;
    if (leader && *leader != *s->leader_id) return std::nullopt;
    leader = s->leader_id;
  }
  if (!leader || *leader >= nodes_.size() || !running(*leader)) return std::nullopt;
  const auto s = state(*leader);
  if (!s || s->role != "leader") return std::nullopt;
  return static_cast<size_t>(*leader);
}

std::optional<size_t> Cluster::wait_for_leader(std::chrono::milliseconds timeout) {
  std::optional<size_t> leader;
  (void)wait_until([&] { return (leader = leader_index()).has_value(); }, timeout);
  return leader;
}

std::vector<size_t> Cluster::followers_of(size_t leader) const {
  std::vector<size_t> out;
  for (size_t i : running_nodes()) {
    if (i != leader) out.push_back(i);
  }
  return out;
}

bool Cluster::converged(std::string* why) const {
  std::string reason;
  std::optional<NodeState> first;
  size_t first_index = 0;
  uint64_t leader_commit = 0;
  bool have_leader = false;
  for (size_t i : running_nodes()) {
    const auto s = state(i);
    if (!s) {
      reason = "node " + std::to_string(i) + " does not answer /status";
      break;
    }
    if (s->role == "leader") {
      leader_commit = s->commit_index;
      have_leader = true;
    }
    if (s->state_hash_index != s->applied_index) {
      reason = "node " + std::to_string(i) + " hash describes index " +
               (s->state_hash_index ? std::to_string(*s->state_hash_index) : "none yet") +
               ", applied " + std::to_string(s->applied_index);
      break;
    }
    if (!first) {
      first = s;
      first_index = i;
      continue;
    }
    if (s->applied_index != first->applied_index || s->state_hash != first->state_hash ||
        s->entry_count != first->entry_count) {
      reason = "node " + std::to_string(first_index) + " applied " +
               std::to_string(first->applied_index) + " hash " + first->state_hash + " entries " +
               std::to_string(first->entry_count) + " vs node " + std::to_string(i) + " applied " +
               std::to_string(s->applied_index) + " hash " + s->state_hash + " entries " +
               std::to_string(s->entry_count);
      break;
    }
  }
  if (reason.empty() && !have_leader) reason = "no running node is the leader";
  if (reason.empty() && first && leader_commit != first->applied_index) {
    reason = "leader commit " + std::to_string(leader_commit) + " but nodes applied " +
             std::to_string(first->applied_index);
  }
  if (why != nullptr) *why = reason;
  return reason.empty();
}

HttpResult Cluster::create_retrying(std::string_view key, std::string_view value,
                                    std::chrono::milliseconds timeout) const {
  const Headers headers = {{"Idempotency-Key", std::string(key)}};
  const auto deadline = Clock::now() + timeout;
  HttpResult last;
  for (size_t attempt = 0;; ++attempt) {
    const std::vector<size_t> nodes = running_nodes();
    if (nodes.empty()) return last;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    last = create(nodes[attempt % nodes.size()], key, value, headers,
                  std::clamp<std::chrono::milliseconds>(left, 100ms, kRequestTimeout));
    if (last.ok() || Clock::now() >= deadline) return last;
    // A refusal (no leader yet, node down) comes back at once: pace the retries.
    std::this_thread::sleep_for(20ms);
  }
}

bool Cluster::wait_converged(std::chrono::milliseconds timeout) {
  std::string why;
  if (wait_until([&] { return converged(&why); }, timeout, 50ms)) return true;
  std::cout << "[harness] not converged after " << timeout.count() << " ms: " << why << std::endl;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Expectations

void expect_error_body(const HttpResult& r) {
  const Json body = r.json();
  ASSERT_TRUE(body.is_object()) << r.describe();
  EXPECT_TRUE(body.contains("error") && body["error"].is_string()) << r.describe();
  EXPECT_TRUE(body.contains("message") && body["message"].is_string()) << r.describe();
}

void expect_all_present(const Cluster& cluster, size_t i,
                        const std::map<std::string, std::string>& acked) {
  const auto entries = cluster.list_all(i);
  ASSERT_TRUE(entries) << "node " << i << " did not list its entries";
  constexpr size_t kReportedMax = 5;
  size_t missing = 0;
  for (const auto& [id, value] : acked) {
    auto it = entries->find(id);
    if (it != entries->end() && it->second.value("value", "") == value) continue;
    if (++missing <= kReportedMax) {
      ADD_FAILURE() << "node " << i << ": acknowledged " << id << "=" << value << " is "
                    << (it == entries->end() ? "missing" : "now " + it->second.dump());
    }
  }
  EXPECT_EQ(missing, 0u) << "acknowledged entries missing or changed on node " << i;
}

}  // namespace integration
