#include "common/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/beast/websocket/rfc6455.hpp>
#include <mutex>
#include <set>
#include <variant>

#include "common/byte_stream.h"
#include "common/http_upgrade.h"
#include "common/tls.h"

namespace common {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

beast::string_view to_beast(std::string_view text) { return {text.data(), text.size()}; }
std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

// "/a/b/c" -> {"a", "b", "c"}; "/" -> {""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    out.emplace(std::move(*name), std::move(*value));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request, Response, Respond

std::string_view Request::header(std::string_view name) const {
  auto it = headers.find(to_beast(name));
  return it == headers.end() ? std::string_view() : to_std(it->value());
}

bool Request::has_header(std::string_view name) const {
  return headers.find(to_beast(name)) != headers.end();
}

std::optional<std::string> Request::query_param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Response Response::json(unsigned status, const nlohmann::ordered_json& body) {
  Response response;
  response.status = status;
  // Invalid UTF-8 cannot come from parsed JSON, but a replacement beats an exception.
  response.body = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return response;
}

Response Response::error(unsigned status, std::string_view code, std::string_view message,
                         const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json body = {{"error", code}, {"message", message}};
  if (extra.is_object()) {
    for (const auto& [key, value] : extra.items()) body[key] = value;
  }
  return json(status, body);
}

Response Response::no_content() {
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

std::string_view Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(to_beast(key), to_beast(name))) return value;
  }
  return {};
}

struct Respond::State {
  Sink sink;
  std::atomic<bool> done{false};

  ~State() {
    if (done.exchange(true) || !sink) return;
    spdlog::error("http: a handler dropped its request without answering");
    sink(Response::error(500, "internal", "the request was dropped without a response"));
  }
};

Respond::Respond(Sink sink) : state_(std::make_shared<State>()) { state_->sink = std::move(sink); }

void Respond::operator()(Response response) const {
  if (state_->done.exchange(true)) {
    spdlog::error("http: a handler answered one request twice; the second answer is dropped");
    return;
  }
  state_->sink(std::move(response));
}

bool Respond::done() const { return state_->done.load(); }

Request make_request(http::request<http::string_body> message,
                     std::chrono::steady_clock::time_point received_at) {
  Request request;
  request.method = message.method();
  request.target = std::string(to_std(message.target()));
  request.path = request.target.substr(0, request.target.find('?'));
  request.body = std::move(message.body());
  request.headers = std::move(message.base());
  request.received_at = received_at;
  return request;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Router

void Router::add(http::verb method, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    spdlog::critical("http: route pattern '{}' must start with '/'", pattern);
    std::abort();
  }
  std::vector<std::string> segments;
  for (std::string_view segment : split_path(pattern)) segments.emplace_back(segment);
  routes_.push_back({method, std::move(pattern), std::move(segments), std::move(handler), options});
}

std::optional<std::map<std::string, std::string>> Router::match(
    const Route& route, const std::vector<std::string_view>& segments, bool* malformed) {
  if (route.segments.size() != segments.size()) return std::nullopt;
  std::map<std::string, std::string> params;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& expected = route.segments[i];
    if (!expected.empty() && expected.front() == ':') {
      if (segments[i].empty()) return std::nullopt;
      auto decoded = percent_decode(segments[i], false);
      if (!decoded) {
        *malformed = true;
        return std::nullopt;
      }
      params[expected.substr(1)] = std::move(*decoded);
    } else if (expected != segments[i]) {
      return std::nullopt;
    }
  }
  return params;
}

const Router::Route* Router::find(http::verb method, std::string_view path) const {
  const auto segments = split_path(path);
  for (const Route& route : routes_) {
    bool malformed = false;
    if (route.method == method && match(route, segments, &malformed)) return &route;
  }
  return nullptr;
}

std::string Router::pattern_for(std::string_view path) const {
  const auto segments = split_path(path);
  for (const Route& route : routes_) {
    bool malformed = false;
    if (match(route, segments, &malformed)) return route.pattern;
  }
  return {};
}

size_t Router::body_limit(http::verb method, std::string_view path, size_t default_bytes) const {
  const Route* route = find(method, path);
  if (route == nullptr || route->options.body_limit_bytes == 0) return default_bytes;
  return route->options.body_limit_bytes;
}

bool Router::is_peer_route(http::verb method, std::string_view path) const {
  const Route* route = find(method, path);
  return route != nullptr && route->options.peer;
}

bool Router::client_certificate_required(http::verb method, std::string_view path) const {
  const Route* route = find(method, path);
  return route != nullptr && route->options.client_certificate_required;
}

size_t Router::body_limit_max(size_t default_bytes) const {
  size_t limit = default_bytes;
  for (const Route& route : routes_) limit = std::max(limit, route.options.body_limit_bytes);
  return limit;
}

void Router::add_upgrade(std::string path, UpgradeHandler handler) {
  if (path.empty() || path.front() != '/' || path.find(':') != std::string::npos) {
    spdlog::critical("http: upgrade path '{}' must be a literal absolute path", path);
    std::abort();
  }
  upgrades_[std::move(path)] = {std::move(handler), true};
}

void Router::add_takeover(std::string path, UpgradeHandler handler) {
  add_upgrade(path, std::move(handler));
  upgrades_[path].websocket = false;
}

const Router::UpgradeRoute* Router::upgrade_for(std::string_view path) const {
  auto it = upgrades_.find(path);
  return it == upgrades_.end() ? nullptr : &it->second;
}

void Router::dispatch(Request request, Respond respond) const {
  if (const UpgradeRoute* upgrade = upgrade_for(request.path);
      upgrade != nullptr && !upgrade->websocket) {
    Response response = Response::error(405, "method_not_allowed", "only GET is served here");
    response.headers.emplace_back("Allow", "GET");
    return respond(std::move(response));
  }
  if (upgrade_for(request.path) != nullptr) {
    Response response = Response::error(426, "upgrade_required",
                                        request.path +
                                            " is a WebSocket endpoint: connect with "
                                            "GET and Upgrade: websocket");
    response.headers.emplace_back("Upgrade", "websocket");
    return respond(std::move(response));
  }
  const auto segments = split_path(request.path);
  const Route* chosen = nullptr;
  std::map<std::string, std::string> params;
  std::set<std::string> allowed;
  for (const Route& route : routes_) {
    bool malformed = false;
    auto matched = match(route, segments, &malformed);
    if (malformed) {
      if (fallback_) return fallback_(std::move(request), std::move(respond));
      return respond(Response::error(400, "bad_request", "malformed percent-encoding in the path"));
    }
    if (!matched) continue;
    if (route.method == request.method && chosen == nullptr) {
      chosen = &route;
      params = std::move(*matched);
    } else {
      allowed.insert(std::string(to_std(http::to_string(route.method))));
    }
  }
  if (chosen == nullptr && fallback_) {
    try {
      fallback_(std::move(request), respond);
    } catch (const std::exception& e) {
      spdlog::error("http: fallback handler threw: {}", e.what());
      if (!respond.done()) respond(Response::error(500, "internal", e.what()));
    }
    return;
  }
  if (chosen == nullptr && allowed.empty()) {
    return respond(Response::error(404, "not_found", "no such route: " + request.path));
  }
  if (chosen == nullptr) {
    std::string allow;
    for (const std::string& method : allowed) allow += (allow.empty() ? "" : ", ") + method;
    Response response = Response::error(405, "method_not_allowed",
                                        std::string(to_std(http::to_string(request.method))) +
                                            " is not allowed here; use " + allow);
    response.headers.emplace_back("Allow", allow);
    return respond(std::move(response));
  }
  const size_t question = request.target.find('?');
  auto query = parse_query(question == std::string::npos
                               ? std::string_view()
                               : std::string_view(request.target).substr(question + 1));
  if (!query) {
    return respond(Response::error(400, "bad_request", "malformed percent-encoding in the query"));
  }
  request.query = std::move(*query);
  request.params = std::move(params);
  request.route = chosen->pattern;
  try {
    chosen->handler(std::move(request), respond);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} threw: {}", chosen->pattern, e.what());
    if (!respond.done()) respond(Response::error(500, "internal", e.what()));
  }
}

// ---------------------------------------------------------------------------------------------
// HttpServer

namespace {
class Session;
}  // namespace

struct HttpServer::Shared : std::enable_shared_from_this<HttpServer::Shared> {
  Shared(asio::io_context& io_in, const Router& router_in, HttpServerOptions options_in,
         RequestObserver observer_in)
      : io(io_in),
        router(router_in),
        options(std::move(options_in)),
        observer(std::move(observer_in)),
        client_certificates_checked(options.tls &&
                                    common::verifies_client_certificates(*options.tls)),
        acceptor(io_in),
        retry_timer(io_in),
        grace_timer(io_in) {}

  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void session_closed(uint64_t id);  // any thread (a session's last owner may be anywhere)
  void finish_stop();
  std::vector<std::shared_ptr<Session>> live_sessions();

  asio::io_context& io;
  const Router& router;
  const HttpServerOptions options;
  const RequestObserver observer;
  const bool client_certificates_checked;  // RouteOptions::client_certificate_required applies
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;  // after accept errors such as EMFILE: no busy loop
  asio::steady_timer grace_timer;
  bool accepting = false;
  std::function<void()> stop_done;

  std::mutex mutex;  // guards the members below
  std::map<uint64_t, std::weak_ptr<Session>> sessions;
  std::set<uint64_t> peer_only_sessions;  // admitted on the peer budget (peer_connections_max)
  uint64_t next_session_id = 1;
  bool stopping = false;
  bool stop_finished = false;
};

namespace {

using Shared = HttpServer::Shared;

// How long and how much a connection closed after an error may still be read (and discarded)
// so that the client receives our answer instead of a reset.
constexpr auto kLingerTime = std::chrono::milliseconds(1000);
constexpr size_t kLingerBytesMax = 8 << 20;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Shared> shared, tcp::socket socket, uint64_t id, bool peer_only)
      : shared_(std::move(shared)),
        stream_(make_stream(*shared_, std::move(socket))),
        id_(id),
        peer_only_(peer_only) {}
  ~Session() { shared_->session_closed(id_); }

  void start() {
    if (auto* tls = std::get_if<common::TlsStream>(&stream_)) return handshake(*tls);
    read_header();
  }
  void reject();
  void on_server_stop();
  void force_close() { close(); }

 private:
  enum class Phase : uint8_t { kReadingHeader, kReadingBody, kHandling, kWriting, kClosed };
  using Stream = common::ByteStream;

  static Stream make_stream(Shared& shared, tcp::socket socket) {
    if (!shared.options.tls)
      return Stream(std::in_place_type<beast::tcp_stream>, std::move(socket));
    return Stream(std::in_place_type<common::TlsStream>, std::move(socket), *shared.options.tls);
  }
  // The TCP layer under either stream: timeouts, shutdown, close, raw reads while lingering.
  beast::tcp_stream& tcp_stream() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream_);
  }

  void handshake(common::TlsStream& tls);
  void hand_over_upgrade(const UpgradeHandler& handler);
  void read_header();
  void on_header(beast::error_code ec);
  void after_header();
  void read_body();
  void on_body(beast::error_code ec);
  void handle();
  void send(Response response);
  void write(Response response, bool linger);
  void on_write(beast::error_code ec, unsigned status, bool close, bool linger);
  void hand_over(TakeOver take_over);
  void fail(Response response) { write(std::move(response), true); }
  void linger();
  void close();
  [[nodiscard]] bool is_parse_error(beast::error_code ec) const;

  std::shared_ptr<Shared> shared_;
  Stream stream_;
  bool client_certificate_verified_ = false;  // TLS only: set by the handshake
  bool rejecting_ = false;                    // TLS only: reject() waits for the handshake
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const uint64_t id_;
  const bool peer_only_;  // admitted on the peer budget: serves peer routes only
  Phase phase_ = Phase::kReadingHeader;
  bool request_keep_alive_ = true;
  unsigned request_version_ = 11;
  std::string route_ = "unmatched";
  std::chrono::steady_clock::time_point received_at_ = std::chrono::steady_clock::now();
  std::vector<char> drain_buffer_;
  size_t drained_bytes_ = 0;
};

void Session::handshake(common::TlsStream& tls) {
  tcp_stream().expires_after(shared_->options.handshake_timeout);
  tls.async_handshake(asio::ssl::stream_base::server,
                      [self = shared_from_this()](beast::error_code ec) {
                        if (self->phase_ == Phase::kClosed) return;
                        if (ec) {
                          // Scanners, plain-HTTP clients, untrusted certificates: nothing to
                          // answer on a connection without TLS.
                          spdlog::debug("http: TLS handshake failed: {}", ec.message());
                          return self->close();
                        }
                        auto& stream = std::get<common::TlsStream>(self->stream_);
                        self->client_certificate_verified_ =
                            common::peer_certificate_verified(stream.native_handle());
                        if (self->rejecting_) return self->reject();
                        self->read_header();
                      });
}

// The stream, the request and the bytes read past it go to the handler; this session ends
// without touching the socket again (phase kClosed), so the server stops counting it.
void Session::hand_over_upgrade(const UpgradeHandler& handler) {
  auto connection = std::make_shared<UpgradedConnection>(
      std::move(stream_), std::move(buffer_), client_certificate_verified_, parser_->release());
  phase_ = Phase::kClosed;
  std::visit([](auto& s) { beast::get_lowest_layer(s).expires_never(); }, connection->stream);
  try {
    handler(std::move(connection));
  } catch (const std::exception& e) {
    spdlog::error("http: upgrade handler for {} threw: {}", route_, e.what());
  }
}

void Session::read_header() {
  phase_ = Phase::kReadingHeader;
  route_ = "unmatched";
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(shared_->options.header_limit_bytes));
  // The route (and so its limit) is known only after the header; the exact check follows then.
  parser_->body_limit(shared_->router.body_limit_max(shared_->options.body_limit_bytes));
  tcp_stream().expires_after(shared_->options.idle_timeout);
  std::visit(
      [this](auto& stream) {
        http::async_read_header(
            stream, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
      },
      stream_);
}

bool Session::is_parse_error(beast::error_code ec) const {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

void Session::on_header(beast::error_code ec) {
  if (phase_ == Phase::kClosed) return;
  received_at_ = std::chrono::steady_clock::now();
  if (ec == http::error::header_limit) {
    return fail(Response::error(431, "header_too_large",
                                "request headers exceed " +
                                    std::to_string(shared_->options.header_limit_bytes) +
                                    " bytes"));
  }
  if (ec == http::error::body_limit) {
    return fail(Response::error(413, "payload_too_large", "request body over the limit"));
  }
  if (ec && is_parse_error(ec)) {
    return fail(Response::error(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }
  if (ec) return close();  // end of stream, idle timeout, reset: nothing to answer
  after_header();
}

void Session::after_header() {
  const auto& header = parser_->get();
  const std::string_view target = to_std(header.target());
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string pattern = shared_->router.pattern_for(path);
  route_ = pattern.empty() ? "unmatched" : pattern;
  if (peer_only_ && !shared_->router.is_peer_route(header.method(), path)) {
    return reject();  // the clients' budget is used up; this connection is for peers
  }
  if (shared_->client_certificates_checked && !client_certificate_verified_ &&
      shared_->router.client_certificate_required(header.method(), path)) {
    return fail(Response::error(403, "client_certificate_required",
                                "this route is for cluster members: connect with a client "
                                "certificate signed by the cluster's CA"));
  }
  const size_t limit =
      shared_->router.body_limit(header.method(), path, shared_->options.body_limit_bytes);
  if (parser_->content_length() && *parser_->content_length() > limit) {
    return fail(Response::error(413, "payload_too_large",
                                "request body of " + std::to_string(*parser_->content_length()) +
                                    " bytes exceeds the " + std::to_string(limit) + "-byte limit"));
  }
  parser_->body_limit(limit);
  if (const Router::UpgradeRoute* upgrade = shared_->router.upgrade_for(path);
      upgrade != nullptr && header.method() == http::verb::get && parser_->is_done() &&
      (!upgrade->websocket || boost::beast::websocket::is_upgrade(header))) {
    return hand_over_upgrade(upgrade->handler);
  }
  if (parser_->is_done()) return handle();
  if (beast::iequals(header[http::field::expect], "100-continue")) {
    auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                      header.version());
    tcp_stream().expires_after(shared_->options.write_timeout);
    return std::visit(
        [this, interim](auto& stream) {
          http::async_write(stream, *interim,
                            [self = shared_from_this(), interim](beast::error_code ec, size_t) {
                              if (ec) return self->close();
                              self->read_body();
                            });
        },
        stream_);
  }
  read_body();
}

void Session::read_body() {
  phase_ = Phase::kReadingBody;
  tcp_stream().expires_after(shared_->options.read_timeout);
  std::visit(
      [this](auto& stream) {
        http::async_read(
            stream, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
      },
      stream_);
}

void Session::on_body(beast::error_code ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec == http::error::body_limit) {
    return fail(Response::error(413, "payload_too_large", "request body over the limit"));
  }
  if (ec && is_parse_error(ec)) {
    return fail(Response::error(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }
  if (ec) return close();
  handle();
}

void Session::handle() {
  phase_ = Phase::kHandling;
  tcp_stream().expires_never();  // the handler bounds its own time (commit timeout, client timeout)
  http::request<http::string_body> message = parser_->release();
  request_keep_alive_ = message.keep_alive();
  request_version_ = message.version();

  Request request = make_request(std::move(message), received_at_);
  Respond respond(
      [self = shared_from_this()](Response response) { self->send(std::move(response)); });
  shared_->router.dispatch(std::move(request), std::move(respond));
}

void Session::send(Response response) {
  asio::dispatch(shared_->io,
                 [self = shared_from_this(), response = std::move(response)]() mutable {
                   self->write(std::move(response), false);
                 });
}

void Session::write(Response response, bool linger) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kWriting;
  bool stopping = false;
  {
    std::lock_guard lock(shared_->mutex);
    stopping = shared_->stopping;
  }
  const bool upgrade = response.status == 101 && response.take_over && !linger && !stopping;
  const bool close = !upgrade && (response.close || linger || !request_keep_alive_ || stopping);
  auto message = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(response.status), request_version_);
  message->set(http::field::server, shared_->options.server_name);
  if (!response.content_type.empty() && response.status != 204) {
    message->set(http::field::content_type, response.content_type);
  }
  for (const auto& [name, value] : response.headers) message->set(to_beast(name), value);
  if (response.status != 204 && response.status != 304) message->body() = std::move(response.body);
  if (!upgrade) {
    message->keep_alive(!close);
    message->prepare_payload();
  }
  tcp_stream().expires_after(shared_->options.write_timeout);
  std::visit(
      [this, &message, close, linger, &response, upgrade](auto& stream) {
        http::async_write(stream, *message,
                          [self = shared_from_this(), message, close, linger,
                           take_over = upgrade ? std::move(response.take_over) : TakeOver()](
                              beast::error_code ec, size_t) mutable {
                            if (!ec && take_over && self->phase_ != Phase::kClosed) {
                              return self->hand_over(std::move(take_over));
                            }
                            self->on_write(ec, message->result_int(), close || take_over, linger);
                          });
      },
      stream_);
}

void Session::on_write(beast::error_code ec, unsigned status, bool close, bool linger) {
  if (shared_->observer) {
    shared_->observer(route_, status, std::chrono::steady_clock::now() - received_at_);
  }
  if (ec || phase_ == Phase::kClosed) return this->close();
  if (linger) return this->linger();
  if (close) return this->close();
  read_header();
}

// The 101 is written: the connection now belongs to the handler. The session ends without
// closing the socket (its stream is moved out), which also takes it off the server's count.
void Session::hand_over(TakeOver take_over) {
  if (shared_->observer) {
    shared_->observer(route_, 101, std::chrono::steady_clock::now() - received_at_);
  }
  phase_ = Phase::kClosed;
  tcp_stream().expires_never();
  auto connection = std::make_shared<common::UpgradedConnection>(
      std::move(stream_), std::move(buffer_), client_certificate_verified_);
  take_over(std::move(connection));
}

// Half-closes, then reads and discards what the client is still sending (bounded in time and
// bytes): closing a socket with unread data makes the kernel send a reset, and the client would
// lose the 413 we just wrote. (With TLS the discarded bytes are read below the TLS layer.)
void Session::linger() {
  beast::error_code ignored;
  tcp_stream().socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (drain_buffer_.empty()) {
    drain_buffer_.resize(64 << 10);
    tcp_stream().expires_after(kLingerTime);
  }
  tcp_stream().async_read_some(asio::buffer(drain_buffer_),
                               [self = shared_from_this()](beast::error_code ec, size_t n) {
                                 self->drained_bytes_ += n;
                                 if (ec || self->drained_bytes_ > kLingerBytesMax)
                                   return self->close();
                                 self->linger();
                               });
}

void Session::close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  beast::error_code ignored;
  // No TLS close_notify: responses are framed by Content-Length, so a peer can tell a cut.
  tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_stream().close();
}

void Session::reject() {
  // Over TLS the 503 can only be written once the handshake is done.
  if (auto* tls = std::get_if<common::TlsStream>(&stream_); tls != nullptr && !rejecting_) {
    rejecting_ = true;
    return handshake(*tls);
  }
  Response response = Response::error(503, "overloaded", "too many open connections");
  response.headers.emplace_back("Retry-After", "1");
  fail(std::move(response));
}

void Session::on_server_stop() {
  // Idle between requests: nobody is waiting for anything on this connection.
  if (phase_ == Phase::kReadingHeader && buffer_.size() == 0) close();
  // Otherwise write() sees `stopping` and closes after the response.
}

}  // namespace

void HttpServer::Shared::accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void HttpServer::Shared::on_accept(beast::error_code ec, tcp::socket socket) {
  if (!accepting) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    spdlog::warn("http: accept failed: {}", ec.message());
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && self->accepting) self->accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  size_t open = 0;
  uint64_t id = 0;
  bool client_slot = false;
  bool peer_only = false;
  {
    std::lock_guard lock(mutex);
    open = sessions.size();
    id = next_session_id++;
    client_slot = open - peer_only_sessions.size() < options.connections_max;
    // Clients' budget full: the connection may still be a peer's (known from its request line
    // only), on the budget reserved for peers.
    peer_only = !client_slot && peer_only_sessions.size() < options.peer_connections_max;
    if (peer_only) peer_only_sessions.insert(id);
  }
  // Past twice the bound not even a 503 is written: the socket is just closed.
  if (client_slot || peer_only ||
      open < 2 * options.connections_max + options.peer_connections_max) {
    auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), id, peer_only);
    {
      std::lock_guard lock(mutex);
      sessions[id] = session;
    }
    if (client_slot || peer_only) {
      session->start();
    } else {
      session->reject();
    }
  }
  accept();
}

void HttpServer::Shared::session_closed(uint64_t id) {
  bool finish = false;
  {
    std::lock_guard lock(mutex);
    sessions.erase(id);
    peer_only_sessions.erase(id);
    finish = stopping && !stop_finished && sessions.empty();
  }
  if (finish) asio::post(io, [self = shared_from_this()] { self->finish_stop(); });
}

void HttpServer::Shared::finish_stop() {
  {
    std::lock_guard lock(mutex);
    if (stop_finished) return;
    stop_finished = true;
  }
  grace_timer.cancel();
  if (auto done = std::move(stop_done)) done();
}

std::vector<std::shared_ptr<Session>> HttpServer::Shared::live_sessions() {
  std::vector<std::shared_ptr<Session>> live;
  std::lock_guard lock(mutex);
  for (auto& [id, weak] : sessions) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  return live;
}

HttpServer::HttpServer(asio::io_context& io, const Router& router, HttpServerOptions options,
                       RequestObserver observer)
    : shared_(std::make_shared<Shared>(io, router, std::move(options), std::move(observer))) {}

HttpServer::~HttpServer() {
  shared_->accepting = false;
  beast::error_code ignored;
  shared_->acceptor.close(ignored);
  shared_->retry_timer.cancel();
  shared_->grace_timer.cancel();
}

boost::system::error_code HttpServer::listen() {
  beast::error_code ec;
  tcp::resolver resolver(shared_->io);
  const auto results =
      resolver.resolve(shared_->options.host, std::to_string(shared_->options.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return ec;
  if (results.empty()) return asio::error::host_not_found;
  const tcp::endpoint endpoint = results.begin()->endpoint();
  tcp::acceptor& acceptor = shared_->acceptor;
  if (acceptor.open(endpoint.protocol(), ec)) return ec;
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) return ec;
  if (acceptor.bind(endpoint, ec)) return ec;
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return ec;
  return {};
}

void HttpServer::start() {
  shared_->accepting = true;
  shared_->accept();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  const auto endpoint = shared_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void HttpServer::stop_accepting() {
  shared_->accepting = false;
  beast::error_code ignored;
  shared_->acceptor.close(ignored);
  shared_->retry_timer.cancel();
}

void HttpServer::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  stop_accepting();
  bool empty = false;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    empty = shared_->sessions.empty();
  }
  shared_->stop_done = std::move(done);
  for (auto& session : shared_->live_sessions()) session->on_server_stop();
  if (empty) {
    asio::post(shared_->io, [shared = shared_] { shared->finish_stop(); });
    return;
  }
  shared_->grace_timer.expires_after(grace);
  shared_->grace_timer.async_wait([shared = shared_](beast::error_code ec) {
    if (ec) return;
    for (auto& session : shared->live_sessions()) session->force_close();
    shared->finish_stop();
  });
}

size_t HttpServer::connection_count() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->sessions.size();
}

}  // namespace common
