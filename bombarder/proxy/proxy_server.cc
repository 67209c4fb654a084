// The proxy engine and its REST API (proxy_server.h). Structure, after Toxiproxy's link/stub
// design: a Proxy owns an acceptor and the toxic chain of each direction; every accepted client
// gets a Link with two directions (upstream = client->server, downstream = server->client). Per
// direction a reader coroutine timestamps chunks into a queue and a writer coroutine passes each
// chunk through the direction's *current* chain (looked up per chunk, so API changes reach
// existing connections) before writing it out. Per link and toxic, a ToxicState remembers whether
// toxicity selected the toxic for this link and the toxic's running state (bytes so far, ...).
#include "bombarder/proxy/proxy_server.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "common/http_server.h"
#include "common/metrics.h"

namespace bombarder::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kVersion = "2.9.0-bombarder";

// An API failure: Toxiproxy's message and status.
struct ApiError : std::runtime_error {
  ApiError(const std::string& message, int status) : std::runtime_error(message), status(status) {}
  int status;
};

[[noreturn]] void bad_body(const std::string& detail) {
  throw ApiError("bad request body: " + detail, 400);
}
[[noreturn]] void missing_field(const std::string& field) {
  throw ApiError("missing required field: " + field, 400);
}
[[noreturn]] void proxy_not_found() { throw ApiError("proxy not found", 404); }
[[noreturn]] void toxic_not_found() { throw ApiError("toxic not found", 404); }

enum Direction { kUpstream = 0, kDownstream = 1 };

enum class Kind {
  Latency,
  Bandwidth,
  SlowClose,
  Timeout,
  ResetPeer,
  Slicer,
  LimitData,
  PacketLoss
};

// One toxic as configured. Immutable once published: an update publishes a new Toxic with the
// same uid and the next generation.
struct Toxic {
  std::string name, type;
  Direction direction = kDownstream;
  double toxicity = 1.0;
  Kind kind = Kind::Latency;
  uint64_t uid = 0;
  uint64_t generation = 0;
  // Attributes (Toxiproxy's names); only those of `kind` are meaningful.
  int64_t latency = 0, jitter = 0;               // latency (ms)
  int64_t rate = 0;                              // bandwidth (KB/s)
  int64_t delay = 0;                             // slow_close (ms), slicer (us)
  int64_t timeout = 0;                           // timeout, reset_peer (ms)
  int64_t average_size = 0, size_variation = 0;  // slicer (bytes)
  int64_t bytes = 0;                             // limit_data
  double probability = 0, correlation = 0;       // packet_loss

  [[nodiscard]] json attributes() const {
    switch (kind) {
      case Kind::Latency: return {{"latency", latency}, {"jitter", jitter}};
      case Kind::Bandwidth: return {{"rate", rate}};
      case Kind::SlowClose: return {{"delay", delay}};
      case Kind::Timeout: return {{"timeout", timeout}};
      case Kind::ResetPeer: return {{"timeout", timeout}};
      case Kind::Slicer:
        return {
            {"average_size", average_size}, {"size_variation", size_variation}, {"delay", delay}};
      case Kind::LimitData: return {{"bytes", bytes}};
      case Kind::PacketLoss: return {{"probability", probability}, {"correlation", correlation}};
    }
    return json::object();
  }
  [[nodiscard]] json to_json() const {
    return {{"name", name},
            {"type", type},
            {"stream", direction == kUpstream ? "upstream" : "downstream"},
            {"toxicity", toxicity},
            {"attributes", attributes()}};
  }
};
using ToxicPtr = std::shared_ptr<const Toxic>;
using Chain = std::vector<ToxicPtr>;

std::optional<Kind> kind_of(const std::string& type) {
  static const std::map<std::string, Kind> kinds = {
      {"latency", Kind::Latency},      {"bandwidth", Kind::Bandwidth},
      {"slow_close", Kind::SlowClose}, {"timeout", Kind::Timeout},
      {"reset_peer", Kind::ResetPeer}, {"slicer", Kind::Slicer},
      {"limit_data", Kind::LimitData}, {"packet_loss", Kind::PacketLoss}};
  auto it = kinds.find(type);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

// Reads a non-negative integer attribute if present (Go would refuse a string or a fraction).
void read_int(const json& attrs, const char* key, int64_t& out) {
  if (!attrs.contains(key)) return;
  const json& v = attrs.at(key);
  if (!v.is_number_integer()) bad_body(std::string("attribute '") + key + "' must be an integer");
  int64_t value = v.get<int64_t>();
  if (value < 0) bad_body(std::string("attribute '") + key + "' must not be negative");
  out = value;
}
void read_probability(const json& attrs, const char* key, double& out) {
  if (!attrs.contains(key)) return;
  const json& v = attrs.at(key);
  if (!v.is_number()) bad_body(std::string("attribute '") + key + "' must be a number");
  double value = v.get<double>();
  if (!(value >= 0.0 && value <= 1.0)) {
    bad_body(std::string("attribute '") + key + "' must be between 0 and 1");
  }
  out = value;
}

// Applies `attrs` (an object, possibly partial) onto `t`, then validates the result.
void apply_attributes(Toxic& t, const json& attrs) {
  if (attrs.is_null()) return;
  if (!attrs.is_object()) bad_body("'attributes' must be an object");
  switch (t.kind) {
    case Kind::Latency:
      read_int(attrs, "latency", t.latency);
      read_int(attrs, "jitter", t.jitter);
      break;
    case Kind::Bandwidth: read_int(attrs, "rate", t.rate); break;
    case Kind::SlowClose: read_int(attrs, "delay", t.delay); break;
    case Kind::Timeout:
    case Kind::ResetPeer: read_int(attrs, "timeout", t.timeout); break;
    case Kind::Slicer:
      read_int(attrs, "average_size", t.average_size);
      read_int(attrs, "size_variation", t.size_variation);
      read_int(attrs, "delay", t.delay);
      if (t.average_size > 0 && t.size_variation >= t.average_size) {
        bad_body("slicer: size_variation must be smaller than average_size");
      }
      break;
    case Kind::LimitData: read_int(attrs, "bytes", t.bytes); break;
    case Kind::PacketLoss:
      read_probability(attrs, "probability", t.probability);
      read_probability(attrs, "correlation", t.correlation);
      break;
  }
}

void read_toxicity(const json& body, double& out) {
  if (!body.contains("toxicity")) return;
  const json& v = body.at("toxicity");
  if (!v.is_number()) bad_body("'toxicity' must be a number");
  double value = v.get<double>();
  if (!(value >= 0.0 && value <= 1.0)) bad_body("'toxicity' must be between 0 and 1");
  out = value;
}

json parse_body(std::string_view body) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    bad_body(e.what());
  }
}

std::string string_field(const json& body, const char* key, const std::string& fallback) {
  if (!body.contains(key) || body.at(key).is_null()) return fallback;
  if (!body.at(key).is_string()) bad_body(std::string("'") + key + "' must be a string");
  return body.at(key).get<std::string>();
}
bool bool_field(const json& body, const char* key, bool fallback) {
  if (!body.contains(key) || body.at(key).is_null()) return fallback;
  if (!body.at(key).is_boolean()) bad_body(std::string("'") + key + "' must be a boolean");
  return body.at(key).get<bool>();
}

// "host:port" (host may be empty, "localhost", a name or an IPv4/IPv6 literal in brackets).
std::pair<std::string, std::string> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw ApiError("address " + address + ": missing port", 400);
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      port.size() > 5 || std::stoi(port) > 65535) {
    throw ApiError("address " + address + ": invalid port", 400);
  }
  return {host, port};
}

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

struct ProxyState;

// Per link and toxic (keyed by uid): whether toxicity selected it, and its running state.
struct ToxicState {
  uint64_t generation = 0;
  bool active = false;
  int64_t bytes_passed = 0;    // limit_data
  bool reset_armed = false;    // reset_peer
  bool timer_started = false;  // timeout
  double last_random = 0;      // packet_loss correlation
};

struct Chunk {
  std::vector<char> data;
  Clock::time_point arrival;
  bool eof = false;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(std::shared_ptr<ProxyState> proxy, tcp::socket client, uint64_t seed);
  void start();
  // Sees the current chains: rolls toxicity for new toxics, starts timeout timers.
  void toxics_changed();
  // Closes both sockets; `reset` sends RST (SO_LINGER 0) instead of FIN.
  void close(bool reset = false);
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  struct Pipe {
    std::deque<Chunk> queue;
    size_t queued_bytes = 0;
    std::optional<asio::steady_timer> data_ready;  // woken by cancel()
    std::optional<asio::steady_timer> space_ready;
    bool writer_done = false;
  };

  static asio::awaitable<void> run(std::shared_ptr<Link> self);
  static asio::awaitable<void> read_loop(std::shared_ptr<Link> self, Direction dir);
  static asio::awaitable<void> write_loop(std::shared_ptr<Link> self, Direction dir);
  static asio::awaitable<void> timeout_close(std::shared_ptr<Link> self, uint64_t uid,
                                             uint64_t generation, int64_t ms);
  static asio::awaitable<void> reset_later(std::shared_ptr<Link> self, int64_t ms);
  asio::awaitable<void> run_chain(Chunk chunk, std::shared_ptr<Chain> chain, size_t index,
                                  Direction dir);
  asio::awaitable<void> sleep_until(Clock::time_point when);
  // Until the next toxics_changed() (or close()).
  asio::awaitable<void> wait_toxics_changed();
  // A `timeout` toxic with timeout 0 holds the data back; true once it lets the data through
  // (removed, or made inactive), false when the data is to be dropped (updated to a closing one).
  asio::awaitable<bool> hold_while_timeout_zero(const Toxic& t, Direction dir);
  ToxicState& state_for(const Toxic& t);
  tcp::socket& source(Direction dir) { return dir == kUpstream ? client_ : server_; }
  tcp::socket& sink(Direction dir) { return dir == kUpstream ? server_ : client_; }

  std::shared_ptr<ProxyState> proxy_;
  tcp::socket client_;
  tcp::socket server_;
  std::mt19937_64 rng_;
  Pipe pipes_[2];
  std::map<uint64_t, ToxicState> states_;
  std::vector<asio::steady_timer*> sleeping_;
  std::vector<asio::steady_timer*> change_waiters_;
  bool connected_ = false;
  bool closed_ = false;
};

struct ServerState;

struct ProxyState : std::enable_shared_from_this<ProxyState> {
  ServerState* server = nullptr;
  std::string name, listen, upstream;
  bool enabled = false;
  std::shared_ptr<tcp::acceptor> acceptor;
  Chain chains[2];
  std::set<std::shared_ptr<Link>> links;

  [[nodiscard]] json to_json() const {
    json toxics = json::array();
    for (const auto& chain : chains) {
      for (const auto& t : chain) toxics.push_back(t->to_json());
    }
    return {{"name", name},
            {"listen", listen},
            {"upstream", upstream},
            {"enabled", enabled},
            {"toxics", toxics}};
  }
  [[nodiscard]] ToxicPtr find_toxic(const std::string& toxic_name) const {
    for (const auto& chain : chains) {
      for (const auto& t : chain) {
        if (t->name == toxic_name) return t;
      }
    }
    return nullptr;
  }
  void notify_links() {
    auto copy = links;
    for (const auto& link : copy) link->toxics_changed();
  }
  void start();
  void stop();
  static asio::awaitable<void> accept_loop(std::shared_ptr<ProxyState> self,
                                           std::shared_ptr<tcp::acceptor> acceptor);
};

struct ServerState {
  asio::io_context& io;
  std::mt19937_64 rng;
  uint64_t next_uid = 1;
  std::map<std::string, std::shared_ptr<ProxyState>> proxies;
  // The REST API on the HTTP server of both binaries (common/http_server.h): one fallback
  // handler takes every request to Api::route, which answers in Toxiproxy's own error format.
  common::Router api_router;
  std::unique_ptr<common::HttpServer> api_server;
  bool api_stopped = false;

  ServerState(asio::io_context& context, uint64_t seed) : io(context), rng(seed) {}
};

// ---- Link -------------------------------------------------------------------------------------

Link::Link(std::shared_ptr<ProxyState> proxy, tcp::socket client, uint64_t seed)
    : proxy_(std::move(proxy)),
      client_(std::move(client)),
      server_(client_.get_executor()),
      rng_(seed) {
  for (auto& pipe : pipes_) {
    pipe.data_ready.emplace(client_.get_executor());
    pipe.space_ready.emplace(client_.get_executor());
  }
}

void Link::start() {
  asio::co_spawn(client_.get_executor(), run(shared_from_this()), asio::detached);
}

asio::awaitable<void> Link::run(std::shared_ptr<Link> self) {
  boost::system::error_code ec;
  try {
    auto [host, port] = split_host_port(self->proxy_->upstream);
    tcp::resolver resolver(self->client_.get_executor());
    auto results =
        co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !self->closed_) {
      co_await asio::async_connect(self->server_, results,
                                   asio::redirect_error(asio::use_awaitable, ec));
    }
  } catch (const std::exception&) {
    ec = asio::error::invalid_argument;
  }
  if (ec || self->closed_) {
    self->close();
    co_return;
  }
  self->connected_ = true;
  self->server_.set_option(tcp::no_delay(true), ec);
  self->client_.set_option(tcp::no_delay(true), ec);
  self->toxics_changed();
  auto executor = self->client_.get_executor();
  for (Direction dir : {kUpstream, kDownstream}) {
    asio::co_spawn(executor, read_loop(self, dir), asio::detached);
    asio::co_spawn(executor, write_loop(self, dir), asio::detached);
  }
}

ToxicState& Link::state_for(const Toxic& t) {
  auto [it, inserted] = states_.try_emplace(t.uid);
  ToxicState& st = it->second;
  if (inserted || st.generation != t.generation) {
    // Toxiproxy decides toxicity once per link and toxic (again when the toxic is updated).
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    bool was_active = !inserted && st.active;
    st.generation = t.generation;
    st.active = t.toxicity >= 1.0 || (t.toxicity > 0.0 && unit(rng_) < t.toxicity);
    if (!was_active) {
      st.timer_started = false;
      st.reset_armed = false;
    }
  }
  return st;
}

void Link::toxics_changed() {
  if (closed_ || !connected_) return;
  std::set<uint64_t> present;
  for (const auto& chain : proxy_->chains) {
    for (const auto& t : chain) {
      present.insert(t->uid);
      ToxicState& st = state_for(*t);
      if (t->kind == Kind::Timeout && st.active && t->timeout > 0 && !st.timer_started) {
        st.timer_started = true;
        asio::co_spawn(client_.get_executor(),
                       timeout_close(shared_from_this(), t->uid, t->generation, t->timeout),
                       asio::detached);
      }
    }
  }
  for (auto it = states_.begin(); it != states_.end();) {
    it = present.count(it->first) ? std::next(it) : states_.erase(it);
  }
  // A chunk held by a `timeout` toxic with timeout 0 re-checks the chains.
  auto waiters = change_waiters_;
  for (auto* timer : waiters) timer->cancel();
}

asio::awaitable<void> Link::wait_toxics_changed() {
  if (closed_) co_return;
  asio::steady_timer timer(client_.get_executor(), Clock::time_point::max());
  sleeping_.push_back(&timer);
  change_waiters_.push_back(&timer);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  sleeping_.erase(std::find(sleeping_.begin(), sleeping_.end(), &timer));
  change_waiters_.erase(std::find(change_waiters_.begin(), change_waiters_.end(), &timer));
}

asio::awaitable<bool> Link::hold_while_timeout_zero(const Toxic& t, Direction dir) {
  // Toxiproxy's timeout toxic with 0 stops reading its input, and on removal flushes what it
  // held to the rest of the chain (link.go RemoveToxic): the data arrives late, not never.
  const uint64_t uid = t.uid;
  while (!closed_) {
    ToxicPtr current;
    for (const auto& c : proxy_->chains[dir]) {
      if (c->uid == uid) current = c;
    }
    if (!current || !state_for(*current).active) co_return true;
    if (current->timeout > 0) co_return false;
    co_await wait_toxics_changed();
  }
  co_return false;
}

asio::awaitable<void> Link::timeout_close(std::shared_ptr<Link> self, uint64_t uid,
                                          uint64_t generation, int64_t ms) {
  co_await self->sleep_until(Clock::now() + std::chrono::milliseconds(ms));
  auto it = self->states_.find(uid);
  if (it != self->states_.end() && it->second.generation == generation && it->second.active) {
    self->close();
  }
}

asio::awaitable<void> Link::reset_later(std::shared_ptr<Link> self, int64_t ms) {
  co_await self->sleep_until(Clock::now() + std::chrono::milliseconds(ms));
  self->close(true);
}

asio::awaitable<void> Link::sleep_until(Clock::time_point when) {
  if (closed_ || when <= Clock::now()) co_return;
  asio::steady_timer timer(client_.get_executor(), when);
  sleeping_.push_back(&timer);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  sleeping_.erase(std::find(sleeping_.begin(), sleeping_.end(), &timer));
}

void Link::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  for (tcp::socket* s : {&client_, &server_}) {
    if (reset && s->is_open()) s->set_option(asio::socket_base::linger(true, 0), ec);
    s->close(ec);
  }
  for (auto& pipe : pipes_) {
    pipe.data_ready->cancel();
    pipe.space_ready->cancel();
  }
  for (auto* timer : sleeping_) timer->cancel();
  auto self = shared_from_this();
  proxy_->links.erase(self);
}

asio::awaitable<void> Link::read_loop(std::shared_ptr<Link> self, Direction dir) {
  constexpr size_t kMaxQueued = 1 << 20;
  Pipe& pipe = self->pipes_[dir];
  std::vector<char> buffer(32 * 1024);
  while (!self->closed_) {
    boost::system::error_code ec;
    size_t n = co_await self->source(dir).async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (self->closed_) co_return;
    Chunk chunk;
    chunk.arrival = Clock::now();
    if (ec) {
      if (ec != asio::error::eof) {
        self->close();
        co_return;
      }
      chunk.eof = true;
    } else {
      chunk.data.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
    pipe.queued_bytes += chunk.data.size();
    bool eof = chunk.eof;
    pipe.queue.push_back(std::move(chunk));
    pipe.data_ready->cancel();
    if (eof) co_return;
    while (pipe.queued_bytes > kMaxQueued && !self->closed_) {
      pipe.space_ready->expires_at(Clock::time_point::max());
      co_await pipe.space_ready->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

asio::awaitable<void> Link::write_loop(std::shared_ptr<Link> self, Direction dir) {
  Pipe& pipe = self->pipes_[dir];
  while (!self->closed_) {
    if (pipe.queue.empty()) {
      boost::system::error_code ec;
      pipe.data_ready->expires_at(Clock::time_point::max());
      co_await pipe.data_ready->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Chunk chunk = std::move(pipe.queue.front());
    pipe.queue.pop_front();
    pipe.queued_bytes -= chunk.data.size();
    pipe.space_ready->cancel();
    auto chain = std::make_shared<Chain>(self->proxy_->chains[dir]);
    if (chunk.eof) {
      // slow_close: hold the close back by the sum of the active delays.
      int64_t delay = 0;
      for (const auto& t : *chain) {
        if (t->kind == Kind::SlowClose && self->state_for(*t).active) delay += t->delay;
      }
      co_await self->sleep_until(Clock::now() + std::chrono::milliseconds(delay));
      if (self->closed_) co_return;
      boost::system::error_code ec;
      self->sink(dir).shutdown(tcp::socket::shutdown_send, ec);
      pipe.writer_done = true;
      if (ec || self->pipes_[1 - dir].writer_done) self->close();
      co_return;
    }
    co_await self->run_chain(std::move(chunk), chain, 0, dir);
  }
}

asio::awaitable<void> Link::run_chain(Chunk chunk, std::shared_ptr<Chain> chain, size_t index,
                                      Direction dir) {
  for (; index < chain->size(); ++index) {
    if (closed_) co_return;
    const Toxic& t = *(*chain)[index];
    ToxicState& st = state_for(t);
    if (!st.active) continue;
    switch (t.kind) {
      case Kind::Latency: {
        int64_t delay = t.latency;
        if (t.jitter > 0) {
          delay += std::uniform_int_distribution<int64_t>(-t.jitter, t.jitter)(rng_);
        }
        chunk.arrival += std::chrono::milliseconds(std::max<int64_t>(delay, 0));
        co_await sleep_until(chunk.arrival);
        break;
      }
      case Kind::Bandwidth: {
        if (t.rate <= 0) break;
        // rate KB/s = rate bytes/ms; above 100 ms worth, send in 100 ms slices (as Toxiproxy).
        const size_t slice = static_cast<size_t>(t.rate) * 100;
        while (chunk.data.size() > slice) {
          co_await sleep_until(Clock::now() + std::chrono::milliseconds(100));
          if (closed_) co_return;
          Chunk piece{std::vector<char>(chunk.data.begin(),
                                        chunk.data.begin() + static_cast<std::ptrdiff_t>(slice)),
                      Clock::now(), false};
          chunk.data.erase(chunk.data.begin(),
                           chunk.data.begin() + static_cast<std::ptrdiff_t>(slice));
          co_await run_chain(std::move(piece), chain, index + 1, dir);
        }
        auto ms =
            std::chrono::microseconds(static_cast<int64_t>(chunk.data.size()) * 1000 / t.rate);
        co_await sleep_until(Clock::now() + ms);
        chunk.arrival = Clock::now();
        break;
      }
      case Kind::SlowClose: break;  // acts on the close only (write_loop)
      case Kind::Timeout:
        // Above 0, data is dropped and timeout_close closes the link later.
        if (t.timeout > 0 || !co_await hold_while_timeout_zero(t, dir)) co_return;
        break;
      case Kind::ResetPeer:
        if (!st.reset_armed) {
          st.reset_armed = true;
          asio::co_spawn(client_.get_executor(), reset_later(shared_from_this(), t.timeout),
                         asio::detached);
        }
        co_return;
      case Kind::Slicer: {
        if (t.average_size <= 0) break;
        size_t offset = 0;
        while (offset < chunk.data.size()) {
          int64_t size = t.average_size;
          if (t.size_variation > 0) {
            size +=
                std::uniform_int_distribution<int64_t>(-t.size_variation, t.size_variation)(rng_);
          }
          size_t n =
              std::min(chunk.data.size() - offset, static_cast<size_t>(std::max<int64_t>(size, 1)));
          Chunk piece{
              std::vector<char>(chunk.data.begin() + static_cast<std::ptrdiff_t>(offset),
                                chunk.data.begin() + static_cast<std::ptrdiff_t>(offset + n)),
              chunk.arrival, false};
          offset += n;
          co_await run_chain(std::move(piece), chain, index + 1, dir);
          if (closed_) co_return;
          if (t.delay > 0 && offset < chunk.data.size()) {
            co_await sleep_until(Clock::now() + std::chrono::microseconds(t.delay));
          }
        }
        co_return;
      }
      case Kind::LimitData: {
        int64_t remaining = t.bytes - st.bytes_passed;
        if (remaining <= 0) {
          close();
          co_return;
        }
        if (static_cast<int64_t>(chunk.data.size()) >= remaining) {
          chunk.data.resize(static_cast<size_t>(remaining));
          st.bytes_passed = t.bytes;
          auto self = shared_from_this();
          co_await run_chain(std::move(chunk), chain, index + 1, dir);
          close();
          co_return;
        }
        st.bytes_passed += static_cast<int64_t>(chunk.data.size());
        break;
      }
      case Kind::PacketLoss: {
        // Correlated draw as in netem: r = c * last + (1 - c) * U(0,1); drop when r < p.
        double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        double r = t.correlation * st.last_random + (1.0 - t.correlation) * u;
        st.last_random = r;
        if (r < t.probability) co_return;
        break;
      }
    }
  }
  if (closed_ || chunk.data.empty()) co_return;
  boost::system::error_code ec;
  co_await asio::async_write(sink(dir), asio::buffer(chunk.data),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) close();
}

// ---- Proxy ------------------------------------------------------------------------------------

void ProxyState::start() {
  if (acceptor) return;
  auto [host, port] = split_host_port(listen);
  boost::system::error_code ec;
  tcp::resolver resolver(server->io);
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, port, ec);
  if (ec || results.empty()) {
    throw ApiError("listen tcp " + listen + ": " + (ec ? ec.message() : "no address"), 500);
  }
  // Go's net.Listen binds "localhost" to 127.0.0.1; getaddrinfo may list ::1 first.
  tcp::endpoint ep = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      ep = entry.endpoint();
      break;
    }
  }
  auto a = std::make_shared<tcp::acceptor>(server->io);
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ApiError("listen tcp " + listen + ": bind: " + ec.message(), 500);
  listen = endpoint_text(a->local_endpoint());
  acceptor = a;
  asio::co_spawn(server->io, accept_loop(shared_from_this(), a), asio::detached);
}

void ProxyState::stop() {
  if (acceptor) {
    boost::system::error_code ec;
    acceptor->close(ec);
    acceptor.reset();
  }
  auto copy = links;
  for (const auto& link : copy) link->close();
  links.clear();
}

asio::awaitable<void> ProxyState::accept_loop(std::shared_ptr<ProxyState> self,
                                              std::shared_ptr<tcp::acceptor> acceptor) {
  while (acceptor->is_open()) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    if (self->acceptor != acceptor) co_return;
    auto link = std::make_shared<Link>(self, std::move(socket), self->server->rng());
    self->links.insert(link);
    link->start();
  }
}

// ---- API --------------------------------------------------------------------------------------

std::vector<std::string> split_path(std::string_view target) {
  auto q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < target.size()) {
    size_t j = target.find('/', i);
    if (j == std::string_view::npos) j = target.size();
    if (j > i) parts.emplace_back(target.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Names and messages can carry bytes from the request path that are not UTF-8 (a proxy name
// in /proxies/{name}); dump() would throw on them and take the server down. They are written
// with U+FFFD instead (found by tests/fuzz/proxy_api_fuzz).
std::string json_text(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiResult ok(int status, const json& body) { return {status, json_text(body)}; }

struct Api {
  ServerState& s;

  std::shared_ptr<ProxyState> get_proxy(const std::string& name) {
    auto it = s.proxies.find(name);
    if (it == s.proxies.end()) proxy_not_found();
    return it->second;
  }

  struct ProxyInput {
    std::string name, listen, upstream;
    bool enabled = true;
  };
  // `where` follows a missing field's name in the error (" at proxy 2" for /populate).
  static ProxyInput read_proxy_input(const json& body, const std::string& where = "") {
    if (!body.is_object()) bad_body("expected a JSON object");
    ProxyInput in;
    in.name = string_field(body, "name", "");
    in.listen = string_field(body, "listen", "");
    in.upstream = string_field(body, "upstream", "");
    in.enabled = bool_field(body, "enabled", true);
    if (in.name.empty()) missing_field("name" + where);
    if (in.upstream.empty()) missing_field("upstream" + where);
    if (in.listen.empty()) in.listen = "127.0.0.1:0";
    split_host_port(in.listen);
    split_host_port(in.upstream);
    return in;
  }

  std::shared_ptr<ProxyState> add_proxy(const ProxyInput& in) {
    if (s.proxies.count(in.name)) throw ApiError("proxy already exists", 409);
    auto p = std::make_shared<ProxyState>();
    p->server = &s;
    p->name = in.name;
    p->listen = in.listen;
    p->upstream = in.upstream;
    if (in.enabled) p->start();
    p->enabled = in.enabled;
    s.proxies[in.name] = p;
    return p;
  }

  ApiResult create_proxy(std::string_view body) {
    auto p = add_proxy(read_proxy_input(parse_body(body)));
    return ok(201, p->to_json());
  }

  // Toxiproxy answers /populate errors with the proxies created before the error (null when
  // none), so a client can tell what was applied: {"error", "status", "proxies"}.
  ApiResult populate(std::string_view body) {
    json out = nullptr;
    try {
      json input = parse_body(body);
      if (!input.is_array()) bad_body("expected a JSON array of proxies");
      std::vector<ProxyInput> inputs;
      for (size_t i = 0; i < input.size(); ++i) {
        inputs.push_back(read_proxy_input(input[i], " at proxy " + std::to_string(i + 1)));
      }
      out = json::array();
      for (const auto& in : inputs) out.push_back(populate_one(in)->to_json());
    } catch (const ApiError& e) {
      json err = {{"error", e.what()}, {"status", e.status}, {"proxies", out}};
      return {e.status, json_text(err)};
    }
    return ok(201, json{{"proxies", out}});
  }

  // Keeps a running proxy of that name whose listen and upstream are unchanged; replaces it
  // otherwise.
  std::shared_ptr<ProxyState> populate_one(const ProxyInput& in) {
    auto it = s.proxies.find(in.name);
    if (it != s.proxies.end()) {
      auto& old = it->second;
      bool same_listen = old->listen == in.listen;
      if (!same_listen) {
        // "host:0" asks for any port: keep the running proxy if only the port is 0.
        auto [h1, p1] = split_host_port(in.listen);
        auto [h2, p2] = split_host_port(old->listen);
        same_listen = p1 == "0" && (h1 == h2 || h1.empty());
      }
      if (same_listen && old->upstream == in.upstream) return old;
      old->stop();
      s.proxies.erase(it);
    }
    return add_proxy(in);
  }

  ApiResult update_proxy(const std::string& name, std::string_view body) {
    auto p = get_proxy(name);
    json in = parse_body(body);
    if (!in.is_object()) bad_body("expected a JSON object");
    std::string listen = string_field(in, "listen", p->listen);
    std::string upstream = string_field(in, "upstream", p->upstream);
    bool enabled = bool_field(in, "enabled", p->enabled);
    split_host_port(listen);
    split_host_port(upstream);
    if (listen != p->listen || upstream != p->upstream) {
      p->stop();
      p->listen = listen;
      p->upstream = upstream;
      p->enabled = false;
    }
    if (enabled && !p->acceptor) {
      p->start();
    } else if (!enabled) {
      p->stop();
    }
    p->enabled = enabled;
    return ok(200, p->to_json());
  }

  ApiResult delete_proxy(const std::string& name) {
    auto p = get_proxy(name);
    p->stop();
    s.proxies.erase(name);
    return {204, ""};
  }

  ApiResult create_toxic(const std::string& proxy_name, std::string_view body) {
    auto p = get_proxy(proxy_name);
    json in = parse_body(body);
    if (!in.is_object()) bad_body("expected a JSON object");
    auto t = std::make_shared<Toxic>();
    std::string stream = string_field(in, "stream", "downstream");
    if (stream == "upstream") {
      t->direction = kUpstream;
    } else if (stream == "downstream") {
      t->direction = kDownstream;
    } else {
      throw ApiError("stream was invalid, can be either upstream or downstream", 400);
    }
    t->type = string_field(in, "type", "");
    t->name = string_field(in, "name", "");
    if (t->name.empty()) t->name = t->type + "_" + stream;
    read_toxicity(in, t->toxicity);
    auto kind = kind_of(t->type);
    if (!kind) throw ApiError("invalid toxic type", 400);
    t->kind = *kind;
    if (p->find_toxic(t->name)) throw ApiError("toxic already exists", 409);
    apply_attributes(*t, in.contains("attributes") ? in.at("attributes") : json());
    t->uid = s.next_uid++;
    p->chains[t->direction].push_back(t);
    p->notify_links();
    return ok(200, t->to_json());
  }

  ApiResult update_toxic(const std::string& proxy_name, const std::string& toxic_name,
                         std::string_view body) {
    auto p = get_proxy(proxy_name);
    auto old = p->find_toxic(toxic_name);
    if (!old) toxic_not_found();
    json in = parse_body(body);
    if (!in.is_object()) bad_body("expected a JSON object");
    auto t = std::make_shared<Toxic>(*old);
    read_toxicity(in, t->toxicity);
    apply_attributes(*t, in.contains("attributes") ? in.at("attributes") : json());
    t->generation = old->generation + 1;
    for (auto& slot : p->chains[t->direction]) {
      if (slot == old) slot = t;
    }
    p->notify_links();
    return ok(200, t->to_json());
  }

  ApiResult delete_toxic(const std::string& proxy_name, const std::string& toxic_name) {
    auto p = get_proxy(proxy_name);
    auto old = p->find_toxic(toxic_name);
    if (!old) toxic_not_found();
    auto& chain = p->chains[old->direction];
    chain.erase(std::remove(chain.begin(), chain.end(), old), chain.end());
    p->notify_links();
    return {204, ""};
  }

  ApiResult reset() {
    for (auto& [name, p] : s.proxies) {
      if (!p->acceptor) p->start();
      p->enabled = true;
      p->chains[0].clear();
      p->chains[1].clear();
      p->notify_links();
    }
    return {204, ""};
  }

  // Prometheus text (format 0.0.4, by prometheus-cpp: common/metrics.h) of what every proxy is
  // doing now (issue 6 "Metrics").
  ApiResult metrics() {
    using common::metrics::add_value;
    using prometheus::MetricType;
    const auto family = [](const char* name, const char* help) {
      return common::metrics::family(name, help, MetricType::Gauge);
    };
    auto enabled = family("proxy_enabled", "1 while the proxy listens, 0 while it is disabled.");
    auto connections =
        family("proxy_connections", "Client connections open through the proxy now.");
    auto toxics = family("proxy_toxics", "Toxics on the proxy now, both streams.");
    auto toxicity = family("proxy_toxic_toxicity",
                           "Probability that the toxic applies to a connection; one series per "
                           "active toxic.");
    auto attribute = family("proxy_toxic_attribute",
                            "An active toxic's attribute (latency and jitter ms, rate KB/s, "
                            "probability, ...).");
    for (const auto& [name, p] : s.proxies) {
      add_value(enabled, {{"proxy", name}, {"listen", p->listen}, {"upstream", p->upstream}},
                p->enabled ? 1 : 0);
      add_value(connections, {{"proxy", name}}, static_cast<double>(p->links.size()));
      add_value(toxics, {{"proxy", name}},
                static_cast<double>(p->chains[0].size() + p->chains[1].size()));
      for (const auto& chain : p->chains) {
        for (const auto& t : chain) {
          common::metrics::Labels labels = {
              {"proxy", name},
              {"toxic", t->name},
              {"type", t->type},
              {"stream", t->direction == kUpstream ? "upstream" : "downstream"}};
          add_value(toxicity, labels, t->toxicity);
          const json attributes = t->attributes();  // named: items() does not own it
          for (const auto& [key, value] : attributes.items()) {
            labels["attribute"] = key;
            add_value(attribute, labels, value.get<double>());
          }
        }
      }
    }
    std::vector<prometheus::MetricFamily> families;
    for (auto* f : {&enabled, &connections, &toxics, &toxicity, &attribute}) {
      families.push_back(std::move(*f));
    }
    return {200, common::metrics::serialize(std::move(families)), common::metrics::kContentType};
  }

  ApiResult route(std::string_view method, std::string_view target, std::string_view body) {
    auto parts = split_path(target);
    auto is = [&](std::string_view m) { return method == m; };
    bool update = is("POST") || is("PATCH");
    if (parts.size() == 1 && parts[0] == "version" && is("GET")) {
      return ok(200, json{{"version", kVersion}});
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
      if (is("GET")) return metrics();
      throw ApiError("method not allowed", 405);
    }
    if (parts.size() == 1 && parts[0] == "reset" && is("POST")) return reset();
    if (parts.size() == 1 && parts[0] == "populate" && is("POST")) return populate(body);
    if (!parts.empty() && parts[0] == "proxies") {
      if (parts.size() == 1) {
        if (is("GET")) {
          json out = json::object();
          for (const auto& [name, p] : s.proxies) out[name] = p->to_json();
          return ok(200, out);
        }
        if (is("POST")) return create_proxy(body);
      } else if (parts.size() == 2) {
        if (is("GET")) return ok(200, get_proxy(parts[1])->to_json());
        if (update) return update_proxy(parts[1], body);
        if (is("DELETE")) return delete_proxy(parts[1]);
      } else if (parts.size() == 3 && parts[2] == "toxics") {
        if (is("GET")) {
          auto p = get_proxy(parts[1]);
          json out = json::array();
          for (const auto& chain : p->chains) {
            for (const auto& t : chain) out.push_back(t->to_json());
          }
          return ok(200, out);
        }
        if (is("POST")) return create_toxic(parts[1], body);
      } else if (parts.size() == 4 && parts[2] == "toxics") {
        if (is("GET")) {
          auto t = get_proxy(parts[1])->find_toxic(parts[3]);
          if (!t) toxic_not_found();
          return ok(200, t->to_json());
        }
        if (update) return update_toxic(parts[1], parts[3], body);
        if (is("DELETE")) return delete_toxic(parts[1], parts[3]);
      } else {
        throw ApiError("not found", 404);
      }
      throw ApiError("method not allowed", 405);
    }
    throw ApiError("not found", 404);
  }
};

// One API request as Toxiproxy answers it.
common::Response serve_api(ServerState& state, const common::Request& request) {
  ApiResult result;
  if (request.header("User-Agent").starts_with("Mozilla/")) {
    // Toxiproxy refuses browsers so that a web page cannot drive the API (CSRF); same text.
    result = {403, "User agent not allowed\n", "text/plain; charset=utf-8"};
  } else {
    const auto method = http::to_string(request.method);
    try {
      result = Api{state}.route(std::string_view(method.data(), method.size()), request.target,
                                request.body);
    } catch (const ApiError& e) {
      result = {e.status, json_text(json{{"error", e.what()}, {"status", e.status}})};
    } catch (const std::exception& e) {
      result = {500, json_text(json{{"error", e.what()}, {"status", 500}})};
    }
  }
  common::Response response;
  response.status = static_cast<unsigned>(result.status);
  response.body = std::move(result.body);
  response.content_type = std::move(result.content_type);
  return response;
}

}  // namespace

struct ProxyServer::Impl {
  std::shared_ptr<ServerState> state;
};

ProxyServer::ProxyServer(asio::io_context& io, uint64_t seed)
    : impl_(std::make_shared<Impl>(Impl{std::make_shared<ServerState>(io, seed)})) {}

ProxyServer::~ProxyServer() { shutdown(); }

ApiResult ProxyServer::handle(std::string_view method, std::string_view target,
                              std::string_view body) {
  try {
    return Api{*impl_->state}.route(method, target, body);
  } catch (const ApiError& e) {
    return {e.status, json_text(json{{"error", e.what()}, {"status", e.status}})};
  } catch (const std::exception& e) {
    return {500, json_text(json{{"error", e.what()}, {"status", 500}})};
  }
}

uint16_t ProxyServer::listen_api(const std::string& host, uint16_t port) {
  ServerState* state = impl_->state.get();
  (void)asio::ip::make_address(host);  // throws for a host that is not an IP address
  state->api_router.set_fallback([state](common::Request request, common::Respond respond) {
    respond(serve_api(*state, request));
  });
  common::HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.peer_connections_max = 0;
  options.server_name = "bombarder-proxy";
  state->api_server = std::make_unique<common::HttpServer>(state->io, state->api_router, options);
  if (const auto ec = state->api_server->listen()) throw boost::system::system_error(ec);
  state->api_server->start();
  return state->api_server->port();
}

void ProxyServer::shutdown() {
  auto& state = impl_->state;
  if (state->api_server && !state->api_stopped) {
    // Idle API connections close now, the others once answered.
    state->api_stopped = true;
    state->api_server->stop(std::chrono::milliseconds(0), [] {});
  }
  for (auto& [name, p] : state->proxies) p->stop();
}

}  // namespace bombarder::proxy
