#include "common/http_client.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <variant>

#include "common/tls.h"

namespace common {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

// Response header block bound; our servers send a handful of short headers.
constexpr uint32_t kResponseHeaderBytesMax = 64 << 10;
// Servers close idle keep-alive connections after some time (Beast examples: 30 s; nginx 75 s).
// Reusing one near that moment races with the server's close and fails a request that never
// reached the server, so older idle connections are dropped instead of reused.
constexpr auto kIdleReuseMax = std::chrono::seconds(10);

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Boost 1.74's beast::string_view is boost::string_view, not std::string_view.
std::string_view to_std(beast::string_view s) { return {s.data(), s.size()}; }

class HttpClientCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "http_client"; }
  std::string message(int value) const override {
    switch (static_cast<HttpClientError>(value)) {
      case HttpClientError::kQueueFull: return "request queue full";
    }
    return "unknown http_client error";
  }
};

struct Pending {
  HttpRequest request;
  Clock::time_point deadline;
  HttpClientPool::Done done;
};

}  // namespace

const boost::system::error_category& http_client_category() {
  static const HttpClientCategory category;
  return category;
}

boost::system::error_code make_error_code(HttpClientError e) {
  return {static_cast<int>(e), http_client_category()};
}

std::string HttpResponse::header(std::string_view name) const {
  const std::string wanted = lowercase(name);
  for (const auto& [key, value] : headers) {
    if (key == wanted) return value;
  }
  return "";
}

// All state below is touched only on `strand_`; request() and close() post onto it, so no
// handler ever runs re-entrantly inside another one.
class HttpClientPool::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, size_t connections_max, size_t queued_max, uint64_t body_bytes_max,
       std::shared_ptr<SslContext> tls)
      : strand_(asio::make_strand(io)),
        connections_max_(connections_max),
        queued_max_(queued_max),
        body_bytes_max_(body_bytes_max),
        tls_(std::move(tls)) {}

  void request(const Endpoint& to, HttpRequest request, std::chrono::milliseconds timeout,
               Done done) {
    Pending pending{std::move(request), Clock::now() + timeout, std::move(done)};
    asio::post(strand_, [self = shared_from_this(), to, p = std::move(pending)]() mutable {
      self->start(to, std::move(p));
    });
  }

  void close() {
    asio::post(strand_, [self = shared_from_this()] { self->close_now(); });
  }

 private:
  class Connection;
  // One endpoint's connections and wait queue. `queue` is FIFO by sequence number; `deadlines`
  // indexes the same requests by deadline so expiry needs neither a timer per request nor a scan.
  struct EndpointPool {
    explicit EndpointPool(const Endpoint& to, const Strand& strand)
        : endpoint(to), expiry_timer(strand) {}
    Endpoint endpoint;
    std::set<std::shared_ptr<Connection>> open;     // busy or idle, size <= connections_max_
    std::vector<std::shared_ptr<Connection>> idle;  // subset of `open`, most recent last
    std::map<uint64_t, Pending> queue;              // size <= queued_max_
    std::set<std::pair<Clock::time_point, uint64_t>> deadlines;
    asio::steady_timer expiry_timer;
    std::optional<Clock::time_point> expiry_armed_at;
  };

  void start(const Endpoint& to, Pending pending);
  void finished(const std::shared_ptr<Connection>& connection, boost::system::error_code ec,
                HttpResponse response);
  std::shared_ptr<Connection> take_idle(EndpointPool& pool);
  std::shared_ptr<Connection> open_connection(EndpointPool& pool);
  void discard(EndpointPool& pool, const std::shared_ptr<Connection>& connection);
  void enqueue(EndpointPool& pool, Pending pending);
  std::optional<Pending> dequeue(EndpointPool& pool);
  void arm_expiry(EndpointPool& pool);
  void expire_queued(EndpointPool& pool);
  void close_now();

  Strand strand_;
  const size_t connections_max_;
  const size_t queued_max_;
  const uint64_t body_bytes_max_;
  const std::shared_ptr<SslContext> tls_;  // null: plain HTTP
  // Never erased: the pool serves a handful of endpoints (cluster members) for its whole life.
  std::map<Endpoint, EndpointPool> pools_;
  uint64_t next_sequence_ = 0;
  bool closed_ = false;
};

// One keep-alive TCP connection running one request at a time: resolve (hostnames only),
// connect, write, read. Its handlers keep it alive, and the pool's containers while it is open.
// It points back to the pool weakly, so that the two never keep each other alive.
class HttpClientPool::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(const std::shared_ptr<Impl>& impl, EndpointPool* pool)
      : impl_(impl),
        body_bytes_max_(impl->body_bytes_max_),
        pool_(pool),
        stream_(make_stream(*impl)),
        resolver_(impl->strand_),
        resolve_timer_(impl->strand_) {}

  EndpointPool& pool() const { return *pool_; }
  bool keep_alive() const { return keep_alive_; }

  void run(Pending pending) {
    current_ = std::move(pending);
    prepare_request();
    tcp_stream().expires_at(current_.deadline);
    if (connected_) {
      write();
    } else {
      resolve();
    }
  }

  // Whether an idle connection may carry another request: recent, and the server has not
  // closed it (a closed socket is readable: peeking returns EOF instead of would_block).
  bool reusable(Clock::time_point now) {
    if (!connected_ || !keep_alive_ || now - idle_since_ > kIdleReuseMax) return false;
    beast::error_code ec;
    tcp::socket& socket = tcp_stream().socket();
    socket.non_blocking(true, ec);
    if (ec) return false;
    char byte = 0;
    socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }

  void mark_idle(Clock::time_point now) { idle_since_ = now; }

  // The request in flight, if any (close() takes it to report it aborted).
  std::optional<Pending> take_current() {
    if (!current_.done) return std::nullopt;
    Pending p = std::move(current_);
    current_.done = nullptr;
    return p;
  }

  void cancel() {
    beast::error_code ignored;
    resolver_.cancel();
    resolve_timer_.cancel();
    // No TLS close_notify: HTTP/1.1 framing (Content-Length) already tells a complete message
    // from a truncated one, and a pool's connection is closed when it is done or broken.
    tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_stream().close();
  }

 private:
  using Stream = std::variant<beast::tcp_stream, TlsStream>;

  static Stream make_stream(Impl& impl) {
    if (!impl.tls_) return Stream(std::in_place_type<beast::tcp_stream>, impl.strand_);
    return Stream(std::in_place_type<TlsStream>, impl.strand_, *impl.tls_);
  }

  // The TCP layer under either stream: timeouts, connect, close.
  beast::tcp_stream& tcp_stream() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream_);
  }

  void prepare_request() {
    HttpRequest& r = current_.request;
    request_.clear();
    request_.version(11);
    request_.method(r.method);
    request_.target(r.target);
    request_.set(http::field::host, pool_->endpoint.to_string());
    request_.set(http::field::user_agent, "raftkv-http-client");
    if (!r.body.empty()) request_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) request_.set(name, value);
    request_.keep_alive(true);
    request_.body() = std::move(r.body);
    request_.prepare_payload();
  }

  void resolve() {
    beast::error_code ec;
    const asio::ip::address_v4 address = asio::ip::make_address_v4(pool_->endpoint.host, ec);
    if (!ec) {
      tcp_stream().async_connect(
          tcp::endpoint(address, pool_->endpoint.port),
          [self = shared_from_this()](beast::error_code e) { self->on_connect(e); });
      return;
    }
    // The resolver has no deadline of its own; the timer cancels it at the request's.
    resolve_timer_.expires_at(current_.deadline);
    resolve_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e) self->resolver_.cancel();
    });
    resolver_.async_resolve(
        pool_->endpoint.host, std::to_string(pool_->endpoint.port),
        [self = shared_from_this()](beast::error_code e, const tcp::resolver::results_type& r) {
          self->resolve_timer_.cancel();
          if (e == asio::error::operation_aborted && Clock::now() >= self->current_.deadline) {
            e = beast::error::timeout;
          }
          if (e) return self->finish(e);
          self->tcp_stream().async_connect(
              r, [self](beast::error_code ce, const tcp::endpoint&) { self->on_connect(ce); });
        });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return finish(ec);
    connected_ = true;
    // Requests are small and latency-bound; Nagle would hold them for the server's ACK.
    tcp_stream().socket().set_option(tcp::no_delay(true), ec);
    if (auto* tls = std::get_if<TlsStream>(&stream_)) return handshake(*tls);
    write();
  }

  // Under the request's deadline like the rest: a server that never answers the handshake
  // costs one timeout, not a hang.
  void handshake(TlsStream& tls) {
    std::string error;
    if (!prepare_client_tls(tls.native_handle(), pool_->endpoint.host, &error)) {
      return finish(asio::error::invalid_argument);
    }
    tls.async_handshake(asio::ssl::stream_base::client,
                        [self = shared_from_this()](beast::error_code ec) {
                          if (ec) return self->finish(ec);
                          self->write();
                        });
  }

  void write() {
    std::visit(
        [this](auto& stream) {
          http::async_write(stream, request_,
                            [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) {
                              if (ec) return self->finish(ec);
                              self->read();
                            });
        },
        stream_);
  }

  // Header first, then body: Boost 1.74's parser skips the Content-Length body limit check when
  // it parses header and body in one eager pass (what async_read does), so an oversized body
  // would be read in full. async_read_header is not eager and reports body_limit.
  void read() {
    parser_.emplace();
    parser_->header_limit(kResponseHeaderBytesMax);
    parser_->body_limit(body_bytes_max_);
    // A response to HEAD announces a Content-Length but carries no body (RFC 9110 §9.3.2).
    if (current_.request.method == http::verb::head) parser_->skip(true);
    std::visit(
        [this](auto& stream) {
          http::async_read_header(
              stream, buffer_, *parser_,
              [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) {
                if (ec) return self->finish(ec);
                if (self->parser_->is_done()) return self->on_read({});
                self->read_body();
              });
        },
        stream_);
  }

  void read_body() {
    std::visit(
        [this](auto& stream) {
          http::async_read(stream, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) {
                             self->on_read(ec);
                           });
        },
        stream_);
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish(ec);
    tcp_stream().expires_never();
    // The parser's keep_alive() also says no when the body was delimited by EOF. Bytes past the
    // response mean the server and we disagree about framing: don't reuse either.
    keep_alive_ = parser_->keep_alive() && buffer_.size() == 0;
    http::response<http::string_body> message = parser_->release();
    parser_.reset();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    response.headers.reserve(static_cast<size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) {
      response.headers.emplace_back(lowercase(to_std(field.name_string())),
                                    std::string(to_std(field.value())));
    }
    response.body = std::move(message.body());
    finish({}, std::move(response));
  }

  void finish(beast::error_code ec, HttpResponse response = {}) {
    if (ec) keep_alive_ = false;
    std::shared_ptr<Impl> impl = impl_.lock();
    // No request: close() has already reported it aborted.
    if (!impl || !current_.done) return;
    impl->finished(shared_from_this(), ec, std::move(response));
  }

  std::weak_ptr<Impl> impl_;
  const uint64_t body_bytes_max_;
  EndpointPool* pool_;  // a std::map node of impl_->pools_, never erased
  Stream stream_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  beast::flat_buffer buffer_;  // reused across responses on this connection
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;  // parsers are single-use
  Pending current_;
  bool connected_ = false;
  bool keep_alive_ = true;
  Clock::time_point idle_since_;
};

void HttpClientPool::Impl::start(const Endpoint& to, Pending pending) {
  if (closed_) return pending.done(asio::error::operation_aborted, {});
  EndpointPool& pool = pools_.try_emplace(to, to, strand_).first->second;
  if (std::shared_ptr<Connection> c = take_idle(pool)) return c->run(std::move(pending));
  if (pool.open.size() < connections_max_) return open_connection(pool)->run(std::move(pending));
  if (pool.queue.size() >= queued_max_) return pending.done(HttpClientError::kQueueFull, {});
  enqueue(pool, std::move(pending));
}

void HttpClientPool::Impl::finished(const std::shared_ptr<Connection>& connection,
                                    boost::system::error_code ec, HttpResponse response) {
  Done done = connection->take_current()->done;
  EndpointPool& pool = connection->pool();
  const bool reuse = !ec && connection->keep_alive();
  if (!reuse) discard(pool, connection);
  // Hand the freed capacity to the oldest waiting request before reporting this one.
  if (std::optional<Pending> next = dequeue(pool)) {
    if (reuse) {
      connection->run(std::move(*next));
    } else {
      open_connection(pool)->run(std::move(*next));
    }
  } else if (reuse) {
    connection->mark_idle(Clock::now());
    pool.idle.push_back(connection);
  }
  done(ec, std::move(response));
}

std::shared_ptr<HttpClientPool::Impl::Connection> HttpClientPool::Impl::take_idle(
    EndpointPool& pool) {
  const Clock::time_point now = Clock::now();
  while (!pool.idle.empty()) {
    std::shared_ptr<Connection> c = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (c->reusable(now)) return c;
    discard(pool, c);
  }
  return nullptr;
}

std::shared_ptr<HttpClientPool::Impl::Connection> HttpClientPool::Impl::open_connection(
    EndpointPool& pool) {
  auto c = std::make_shared<Connection>(shared_from_this(), &pool);
  pool.open.insert(c);
  return c;
}

void HttpClientPool::Impl::discard(EndpointPool& pool,
                                   const std::shared_ptr<Connection>& connection) {
  connection->cancel();
  pool.open.erase(connection);
}

void HttpClientPool::Impl::enqueue(EndpointPool& pool, Pending pending) {
  const uint64_t sequence = next_sequence_++;
  pool.deadlines.emplace(pending.deadline, sequence);
  pool.queue.emplace(sequence, std::move(pending));
  arm_expiry(pool);
}

std::optional<Pending> HttpClientPool::Impl::dequeue(EndpointPool& pool) {
  expire_queued(pool);
  if (pool.queue.empty()) return std::nullopt;
  auto it = pool.queue.begin();
  pool.deadlines.erase({it->second.deadline, it->first});
  Pending pending = std::move(it->second);
  pool.queue.erase(it);
  return pending;
}

// Keeps the pool's one expiry timer set for the earliest queued deadline.
void HttpClientPool::Impl::arm_expiry(EndpointPool& pool) {
  if (pool.deadlines.empty()) return;
  const Clock::time_point earliest = pool.deadlines.begin()->first;
  if (pool.expiry_armed_at && *pool.expiry_armed_at <= earliest) return;
  pool.expiry_armed_at = earliest;
  pool.expiry_timer.expires_at(earliest);  // cancels an earlier wait (operation_aborted)
  pool.expiry_timer.async_wait([self = shared_from_this(), &pool](beast::error_code ec) {
    if (ec || self->closed_) return;
    pool.expiry_armed_at.reset();
    self->expire_queued(pool);
    self->arm_expiry(pool);
  });
}

void HttpClientPool::Impl::expire_queued(EndpointPool& pool) {
  const Clock::time_point now = Clock::now();
  std::vector<Pending> expired;
  while (!pool.deadlines.empty() && pool.deadlines.begin()->first <= now) {
    auto node = pool.queue.extract(pool.deadlines.begin()->second);
    pool.deadlines.erase(pool.deadlines.begin());
    expired.push_back(std::move(node.mapped()));
  }
  for (Pending& p : expired) p.done(beast::error::timeout, {});
}

void HttpClientPool::Impl::close_now() {
  if (closed_) return;
  closed_ = true;
  std::vector<Pending> aborted;
  for (auto& [endpoint, pool] : pools_) {
    pool.expiry_timer.cancel();
    for (auto& [sequence, pending] : pool.queue) aborted.push_back(std::move(pending));
    pool.queue.clear();
    pool.deadlines.clear();
    pool.idle.clear();
    for (const std::shared_ptr<Connection>& c : pool.open) {
      if (std::optional<Pending> in_flight = c->take_current()) {
        aborted.push_back(std::move(*in_flight));
      }
      c->cancel();
    }
    pool.open.clear();
  }
  for (Pending& p : aborted) p.done(asio::error::operation_aborted, {});
}

HttpClientPool::HttpClientPool(asio::io_context& io, size_t connections_per_endpoint_max,
                               size_t queued_requests_max, uint64_t response_body_bytes_max,
                               std::shared_ptr<asio::ssl::context> tls) {
  if (connections_per_endpoint_max == 0) {
    throw std::invalid_argument("HttpClientPool: connections_per_endpoint_max must be >= 1");
  }
  impl_ = std::make_shared<Impl>(io, connections_per_endpoint_max, queued_requests_max,
                                 response_body_bytes_max, std::move(tls));
}

HttpClientPool::~HttpClientPool() { impl_->close(); }

void HttpClientPool::request(const Endpoint& to, HttpRequest request,
                             std::chrono::milliseconds timeout, Done done) {
  impl_->request(to, std::move(request), timeout, std::move(done));
}

void HttpClientPool::close() { impl_->close(); }

}  // namespace common
