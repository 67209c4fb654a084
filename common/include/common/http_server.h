// The HTTP/1.1 server (Boost.Beast) and its router, of both binaries: stress_node's API and peer
// routes, bombarder's load metrics endpoint (issue 16: one HTTP server, in common/).
//
// Router: method + path pattern ("/api/kv/:id") -> asynchronous handler. Unknown path -> 404,
// known path with another method -> 405 with `Allow`, malformed query -> 400; every error a
// JSON body {"error": CODE, "message": TEXT} (design.md §4). It needs no socket, so tests drive
// it directly.
//
// HttpServer: one acceptor and its connections on one io_context (single-threaded; the raft
// thread is separate). Keep-alive, `Expect: 100-continue`, bounds on header bytes (431), body
// bytes per route (413, connection closed), idle time, write time and open connections (503
// past the bound; peer routes have a budget of their own on top, see HttpServerOptions::
// peer_connections_max). Graceful stop: stop accepting, close idle connections, let requests in
// flight finish for a bounded grace period, then close the rest.
//
// TLS (opt-in): with HttpServerOptions::tls every connection starts with a TLS handshake,
// bounded by handshake_timeout; a failed or timed-out handshake just closes the connection
// (a plain-HTTP client on a TLS port gets a closed connection, never a hang). When the context
// verifies client certificates (common/tls.h), routes with RouteOptions::
// client_certificate_required answer 403 {"error":"client_certificate_required"} to a
// connection that presented none.
//
// Threads: Router is immutable once serving starts (add routes first). HttpServer's methods
// run on its io_context's thread (or before it runs). A handler is called on that thread; its
// Respond may be invoked from any thread (the write is posted to the io_context), once.
#pragma once

#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace common {

namespace http = boost::beast::http;

struct UpgradedConnection;  // common/byte_stream.h
// Takes over a connection after its 101 answer (Response::take_over). Runs on the io_context.
using TakeOver = std::function<void(std::shared_ptr<UpgradedConnection>)>;

struct Request {
  http::verb method = http::verb::unknown;
  std::string target;                         // as received: path and query
  std::string path;                           // target up to '?', not decoded
  std::map<std::string, std::string> query;   // decoded; the first occurrence of a name wins
  std::map<std::string, std::string> params;  // decoded ":name" segments of the route
  std::string route;                          // the matched pattern, e.g. "/api/kv/:id"
  http::fields headers;
  std::string body;
  std::chrono::steady_clock::time_point received_at{};

  // The header's value, or "" when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const;
  [[nodiscard]] bool has_header(std::string_view name) const;
  // The query parameter, or nullopt when absent.
  [[nodiscard]] std::optional<std::string> query_param(const std::string& name) const;
};

struct Response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // close the connection after this response
  // With status 101 (Switching Protocols): once the answer is written, the connection leaves the
  // server and is handed to this (an upgrade to another protocol on the same port, which keeps
  // TLS and any proxy in the path unchanged). Ignored with any other status.
  TakeOver take_over;

  [[nodiscard]] static Response json(unsigned status, const nlohmann::ordered_json& body);
  // {"error": code, "message": message} plus the members of `extra` (an object or null).
  [[nodiscard]] static Response error(unsigned status, std::string_view code,
                                      std::string_view message,
                                      const nlohmann::ordered_json& extra = nullptr);
  [[nodiscard]] static Response no_content();  // 204
  [[nodiscard]] std::string_view header(std::string_view name) const;
};

// Answers one request. Copyable; all copies share one state. The first call sends; later calls
// are ignored (a handler bug, logged). If every copy is dropped without a call, the client gets
// 500 {"error":"internal"} instead of a connection that hangs. Thread-safe.
class Respond {
 public:
  using Sink = std::function<void(Response)>;
  explicit Respond(Sink sink);
  void operator()(Response response) const;
  [[nodiscard]] bool done() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(Request request, Respond respond)>;
// Takes over a connection whose request asked for a WebSocket upgrade (common/http_upgrade.h).
using UpgradeHandler = std::function<void(std::shared_ptr<UpgradedConnection> connection)>;

// The Request a connection hands to Router::dispatch for a parsed message (path split from the
// target; query and params are filled by dispatch). Also what tests/fuzz drives without sockets.
[[nodiscard]] Request make_request(http::request<http::string_body> message,
                                   std::chrono::steady_clock::time_point received_at);

// Percent-decoding for paths and queries; nullopt on a malformed escape. `plus_is_space` for
// query components (application/x-www-form-urlencoded).
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

struct RouteOptions {
  // Largest accepted request body; 0 = the server's default (HttpServerOptions). Peer RPCs
  // carry batches of entries and snapshot chunks, larger than any client request.
  size_t body_limit_bytes = 0;
  // Peer traffic (/_raft/* RPCs): may be served on the connections HttpServerOptions reserves
  // for peers (peer_connections_max) when the clients' budget is used up.
  bool peer = false;
  // Only connections that presented a verified client certificate may call it, when the
  // server's TLS context verifies them (mutual TLS for the peer RPCs, issue 14).
  bool client_certificate_required = false;
};

class Router {
 public:
  // Patterns are absolute paths whose segments are literals or ":name" (one whole segment).
  void add(http::verb method, std::string pattern, Handler handler, RouteOptions options = {});

  // The pattern matching `path` (any method), or "" if none: the `route` metrics label.
  [[nodiscard]] std::string pattern_for(std::string_view path) const;
  // The body limit for this request line (default_bytes when the route has none or is unknown).
  [[nodiscard]] size_t body_limit(http::verb method, std::string_view path,
                                  size_t default_bytes) const;
  // Largest body any route accepts (at least default_bytes).
  [[nodiscard]] size_t body_limit_max(size_t default_bytes) const;
  // Whether this request line is a peer route (RouteOptions::peer).
  [[nodiscard]] bool is_peer_route(http::verb method, std::string_view path) const;
  // Whether this request line's route needs a client certificate (false for unknown routes).
  [[nodiscard]] bool client_certificate_required(http::verb method, std::string_view path) const;

  // Handles every request no route matches (path and query unparsed, `route` empty) instead of
  // the 404/405/400 answers below: for a server with its own dispatcher and error format (the
  // fault proxy's Toxiproxy API).
  void set_fallback(Handler handler) { fallback_ = std::move(handler); }

  // A WebSocket endpoint at exactly `path` (no ":name" segments): a GET with `Upgrade:
  // websocket` there is handed to `handler` with its stream, which the server then forgets
  // (common/http_upgrade.h); any other request there is answered 426 upgrade_required.
  void add_upgrade(std::string path, UpgradeHandler handler);
  // A streaming endpoint at exactly `path`: every GET there is handed over the same way and the
  // handler writes the whole HTTP response itself, for as long as it likes (server-sent
  // events); other methods there are answered 405.
  void add_takeover(std::string path, UpgradeHandler handler);
  struct UpgradeRoute {
    UpgradeHandler handler;
    bool websocket = true;  // false: a takeover route
  };
  // The upgrade or takeover route at `path`, or null.
  [[nodiscard]] const UpgradeRoute* upgrade_for(std::string_view path) const;

  // Matches request.path, fills route/params/query and calls the handler, or answers 404/405/
  // 400 itself (or lets the fallback answer). A handler that throws gets 500 unless it already
  // answered.
  void dispatch(Request request, Respond respond) const;

 private:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };
  [[nodiscard]] static std::optional<std::map<std::string, std::string>> match(
      const Route& route, const std::vector<std::string_view>& segments, bool* malformed);
  [[nodiscard]] const Route* find(http::verb method, std::string_view path) const;

  std::vector<Route> routes_;
  Handler fallback_;
  std::map<std::string, UpgradeRoute, std::less<>> upgrades_;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                     // 0: an ephemeral port (tests); see HttpServer::port()
  size_t body_limit_bytes = 1 << 20;     // per request, unless the route says otherwise
  size_t header_limit_bytes = 16 << 10;  // request line and headers together
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive wait for the next request
  std::chrono::milliseconds read_timeout{30'000};   // one request's headers and body
  std::chrono::milliseconds write_timeout{30'000};  // one response
  size_t connections_max = 1024;                    // more are answered 503 and closed
  // Connections reserved for peer routes (RouteOptions::peer), on top of connections_max, so a
  // client connection flood cannot refuse the cluster's own traffic (issue 14). One admitted
  // past connections_max serves peer routes only: any other request is answered 503 and the
  // connection closed.
  size_t peer_connections_max = 64;
  std::shared_ptr<boost::asio::ssl::context> tls;       // null: plain HTTP
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS handshake, from accept
  std::string server_name = "stress_node";              // the Server header of every answer
};

// Called after each response is written (or failed to write): the route pattern ("unmatched"
// when none), the status and the time since the request's headers arrived.
using RequestObserver =
    std::function<void(const std::string& route, unsigned status, std::chrono::nanoseconds)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Router& router, HttpServerOptions options,
             RequestObserver observer = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (no connection is accepted before start()). An error is an operating
  // error (address in use, permission): the caller reports it and exits.
  [[nodiscard]] boost::system::error_code listen();
  void start();
  [[nodiscard]] uint16_t port() const;  // the bound port, once listening

  // Closes the acceptor; open connections keep being served (peers' keep-alive connections
  // stay usable while the node hands leadership over).
  void stop_accepting();
  // stop_accepting(), closes idle connections now and the others once their response is
  // written; after `grace` closes whatever is left. `done` runs on the io_context, once.
  void stop(std::chrono::milliseconds grace, std::function<void()> done);
  [[nodiscard]] size_t connection_count() const;

  struct Shared;  // state shared with connections (they may outlive the server)

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace common
