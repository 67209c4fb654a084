#include "bombarder/orchestrator/raft_state_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/fleet/fleet_token.h"

namespace bombarder {

namespace http = boost::beast::http;
using Json = nlohmann::json;

namespace {

constexpr auto kBackoffMin = std::chrono::milliseconds(100);
constexpr auto kBackoffMax = std::chrono::milliseconds(2000);
constexpr auto kWaiterCheckEvery = std::chrono::milliseconds(100);

std::string full_key(const std::string& prefix, std::string_view table, std::string_view id) {
  std::string key = prefix;
  key += '/';
  key += table;
  key += '/';
  key += id;
  return key;
}

// A blocking request for the start, before the io_context runs anything else.
common::HttpResponse call_blocking(boost::asio::io_context& io, common::HttpClientPool& pool,
                                   const common::Endpoint& node, common::HttpRequest request,
                                   std::chrono::milliseconds timeout,
                                   boost::system::error_code* ec) {
  bool done = false;
  common::HttpResponse out;
  pool.request(node, std::move(request), timeout,
               [&](boost::system::error_code e, common::HttpResponse response) {
                 *ec = e;
                 out = std::move(response);
                 done = true;
               });
  io.restart();
  while (!done) io.run_one();
  return out;
}

}  // namespace

RaftStoreOptions parse_store_url(std::string_view url) {
  constexpr std::string_view kScheme = "raft://";
  if (!url.starts_with(kScheme)) {
    invalid_input("--store must be raft://HOST:PORT,HOST:PORT[/PREFIX], not '" + std::string(url) +
                  "'");
  }
  RaftStoreOptions options;
  std::string_view rest = url.substr(kScheme.size());
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    options.prefix = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (options.prefix.empty() || options.prefix.size() > 256 ||
        options.prefix.find_first_of(" \t\r\n") != std::string::npos) {
      invalid_input("--store: the prefix after '/' is one word of 1 to 256 bytes");
    }
  }
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    std::string error;
    const std::optional<common::Endpoint> node = common::Endpoint::parse(part, "127.0.0.1", &error);
    if (!node) invalid_input("--store: " + error);
    options.nodes.push_back(*node);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (options.nodes.empty()) invalid_input("--store: name at least one node, raft://HOST:PORT");
  return options;
}

RaftStateStore::RaftStateStore(boost::asio::io_context& io, RaftStoreOptions options)
    : io_(io),
      options_(std::move(options)),
      instance_("orch-" + random_token_text(12)),
      pool_(io, kInFlightMax, 10000, 64 << 20, options_.tls),
      waiter_timer_(io) {
  load();
}

RaftStateStore::~RaftStateStore() {
  *alive_ = false;
  pool_.close();
}

// Every entry of the cluster, a page at a time, keeping those under the prefix. A node that does
// not answer 200 (down, no leader yet) is passed over for the next until start_timeout.
void RaftStateStore::load() {
  const std::string prefix = options_.prefix + "/";
  const auto deadline = Clock::now() + options_.start_timeout;
  std::map<std::string, std::pair<uint64_t, std::string>> seen;  // key -> (seq, id) kept
  std::vector<std::string> duplicates;                           // ids of older copies
  std::string after;
  while (true) {
    common::HttpRequest request;
    request.target = "/api/kv?limit=" + std::to_string(kListPageEntries) +
                     (after.empty() ? "" : "&after=" + after);
    boost::system::error_code ec;
    const common::HttpResponse r =
        call_blocking(io_, pool_, node(), request, options_.request_timeout, &ec);
    const Json page = ec || r.status != 200 ? Json() : Json::parse(r.body, nullptr, false);
    if (!page.is_array()) {
      last_error_ = node().to_string() + ": " +
                    (ec ? ec.message() : std::to_string(r.status) + " " + r.body.substr(0, 200));
      if (Clock::now() > deadline) {
        environment_failure("--store: no node of the cluster answered the state's read within " +
                            format_seconds(options_.start_timeout) + " (last: " + last_error_ +
                            ")");
      }
      node_ = (node_ + 1) % options_.nodes.size();
      std::this_thread::sleep_for(kBackoffMin);  // the start, before anything else runs
      continue;
    }
    for (const Json& entry : page) {
      const std::string key = entry.value("key", "");
      if (!key.starts_with(prefix)) continue;
      const uint64_t seq = entry.value("seq", uint64_t{0});
      const std::string id = entry.value("id", "");
      // Two entries under one key: a create whose answer was lost, made again after its
      // idempotency record expired. The newer (higher seq) is kept, the other deleted.
      auto [it, inserted] = seen.try_emplace(key, seq, id);
      if (!inserted) {
        duplicates.push_back(seq > it->second.first ? it->second.second : id);
        if (seq <= it->second.first) continue;
        it->second = {seq, id};
      }
      Json value = Json::parse(entry.value("value", ""), nullptr, false);
      if (value.is_discarded()) {
        spdlog::warn("orchestrator: store entry {} ({}) is not JSON: skipped", key, id);
        continue;
      }
      mirror_[key] = std::move(value);
      ids_[key] = id;
    }
    if (page.size() < kListPageEntries) break;
    after = page.back().value("id", "");
  }
  for (const std::string& id : duplicates) {
    spdlog::warn("orchestrator: store entry {} duplicates a newer one: deleting it", id);
    common::HttpRequest request;
    request.method = http::verb::delete_;
    request.target = "/api/kv/" + id;
    boost::system::error_code ec;
    (void)call_blocking(io_, pool_, node(), request, options_.request_timeout, &ec);
  }
  io_.restart();
  last_error_.clear();
}

void RaftStateStore::put(std::string_view table, std::string_view id, const Json& value) {
  std::string key = full_key(options_.prefix, table, id);
  mirror_[key] = value;
  queue(std::move(key), value.dump());
}

void RaftStateStore::erase(std::string_view table, std::string_view id) {
  std::string key = full_key(options_.prefix, table, id);
  mirror_.erase(key);
  queue(std::move(key), std::nullopt);
}

std::optional<Json> RaftStateStore::get(std::string_view table, std::string_view id) {
  auto it = mirror_.find(full_key(options_.prefix, table, id));
  if (it == mirror_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, Json>> RaftStateStore::scan(std::string_view table, size_t limit,
                                                               std::string_view after) {
  const std::string prefix = full_key(options_.prefix, table, "");
  auto it = after.empty() ? mirror_.lower_bound(prefix)
                          : mirror_.upper_bound(full_key(options_.prefix, table, after));
  std::vector<std::pair<std::string, Json>> out;
  for (; it != mirror_.end() && out.size() < limit && it->first.starts_with(prefix); ++it) {
    out.emplace_back(it->first.substr(prefix.size()), it->second);
  }
  return out;
}

void RaftStateStore::queue(std::string key, std::optional<std::string> value) {
  const uint64_t seq = ++seq_;
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    // Coalesced: one write with the latest value, durable no earlier than the oldest it holds.
    it->second.value = std::move(value);
    return;
  }
  if (pending_.size() >= kPendingKeysMax) {
    // Logged once per 1000: an outage long enough to fill the queue must not flood the log.
    if (++dropped_ % 1000 == 1) {
      spdlog::error(
          "orchestrator: store: {} writes wait already; the write of {} is dropped ({} "
          "so far)",
          pending_.size(), key, dropped_);
    }
    return;
  }
  pending_.emplace(std::move(key), Op{std::move(value), seq, {}, 0});
  outstanding_.insert(seq);
  pump();
}

// Sends pending writes whose key has none on the wire, up to kInFlightMax at once.
void RaftStateStore::pump() {
  for (auto it = pending_.begin(); it != pending_.end() && in_flight_.size() < kInFlightMax;) {
    if (in_flight_.contains(it->first)) {
      ++it;
      continue;
    }
    std::string key = it->first;
    Op op = std::move(it->second);
    it = pending_.erase(it);
    in_flight_.insert(key);
    send(key, std::move(op));
  }
}

void RaftStateStore::send(const std::string& key, Op op) {
  auto id = ids_.find(key);
  if (!op.value && id == ids_.end()) return finish(key, op);  // never written: nothing to erase
  if (op.idempotency_key.empty()) {
    op.idempotency_key = instance_ + "-" + std::to_string(++idempotency_n_);
  }
  common::HttpRequest request;
  if (!op.value) {
    request.method = http::verb::delete_;
    request.target = "/api/kv/" + id->second;
  } else if (id == ids_.end()) {
    request.method = http::verb::post;
    request.target = "/api/kv";
    request.body = Json{{"key", key}, {"value", *op.value}}.dump();
  } else {
    request.method = http::verb::put;
    request.target = "/api/kv/" + id->second;
    request.body = Json{{"value", *op.value}}.dump();
  }
  request.headers.emplace_back("Idempotency-Key", op.idempotency_key);
  ++op.attempts;
  const common::Endpoint to = node();
  pool_.request(to, std::move(request), options_.request_timeout,
                [this, alive = alive_, key, op, to](boost::system::error_code ec,
                                                    common::HttpResponse response) {
                  if (*alive) on_answer(key, op, to, ec, response);
                });
}

void RaftStateStore::on_answer(const std::string& key, Op op, const common::Endpoint& to,
                               boost::system::error_code ec, const common::HttpResponse& r) {
  if (ec == boost::asio::error::operation_aborted) return;  // closing
  if (ec) return retry(key, std::move(op), to, to.to_string() + ": " + ec.message());
  if (r.status == 201 && op.value) {
    const Json entry = Json::parse(r.body, nullptr, false);
    if (entry.is_object() && entry.contains("id")) ids_[key] = entry["id"].get<std::string>();
  }
  if (r.status == 404 && op.value && ids_.contains(key)) {
    // Its entry was deleted behind our back: create it again (a new request, a new key).
    ids_.erase(key);
    op.idempotency_key.clear();
    op.attempts = 0;
    return send(key, std::move(op));
  }
  if ((r.status >= 200 && r.status < 300) || (r.status == 404 && !op.value)) {
    if (!op.value) ids_.erase(key);
    ++writes_;
    failing_since_.reset();
    last_error_.clear();
    return finish(key, op);
  }
  if (r.status == 429 || r.status >= 500) {
    return retry(key, std::move(op), to,
                 to.to_string() + ": " + std::to_string(r.status) + " " + r.body.substr(0, 200));
  }
  ++dropped_;
  spdlog::error("orchestrator: store: the cluster refused the write of {}: {} {}", key, r.status,
                r.body.substr(0, 200));
  finish(key, op);
}

void RaftStateStore::finish(const std::string& key, const Op& op) {
  in_flight_.erase(key);
  if (auto it = outstanding_.find(op.seq); it != outstanding_.end()) outstanding_.erase(it);
  settle_waiters();
  pump();
}

// The same request again (its Idempotency-Key makes a second apply a replay), on the next node,
// after a backoff; the key stays in flight meanwhile, so its later writes wait behind it.
void RaftStateStore::retry(const std::string& key, Op op, const common::Endpoint& to,
                           const std::string& why) {
  ++retries_;
  if (!failing_since_) failing_since_ = Clock::now();
  if (last_error_ != why) spdlog::warn("orchestrator: store: {} (retrying)", why);
  last_error_ = why;
  if (node() == to) node_ = (node_ + 1) % options_.nodes.size();
  const auto delay = std::min<std::chrono::milliseconds>(
      kBackoffMin * (1u << std::min(op.attempts, 5u)), kBackoffMax);
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
  timer->async_wait([this, alive = alive_, timer, key, op](boost::system::error_code ec) {
    if (!ec && *alive) send(key, op);
  });
}

void RaftStateStore::when_durable(std::chrono::milliseconds timeout,
                                  std::function<void(bool)> done) {
  if (outstanding_.empty() || *outstanding_.begin() > seq_) return done(true);
  waiters_.push_back({seq_, Clock::now() + timeout, std::move(done)});
  arm_waiter_timer();
}

void RaftStateStore::flush_at_start(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  io_.restart();
  while (!outstanding_.empty() && Clock::now() < deadline) io_.run_one_for(kWaiterCheckEvery);
  io_.restart();
  if (!outstanding_.empty()) {
    environment_failure("--store: the cluster did not take the state's writes within " +
                        format_seconds(timeout) + " (last: " + last_error_ + ")");
  }
}

void RaftStateStore::settle_waiters() {
  const uint64_t oldest = outstanding_.empty() ? UINT64_MAX : *outstanding_.begin();
  while (!waiters_.empty() && waiters_.front().seq < oldest) {
    auto done = std::move(waiters_.front().done);
    waiters_.pop_front();
    done(true);
  }
}

// Waiters past their deadline are answered false; checked every kWaiterCheckEvery while any wait.
void RaftStateStore::arm_waiter_timer() {
  if (waiter_timer_armed_ || waiters_.empty()) return;
  waiter_timer_armed_ = true;
  waiter_timer_.expires_after(kWaiterCheckEvery);
  waiter_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    waiter_timer_armed_ = false;
    const auto now = Clock::now();
    std::vector<std::function<void(bool)>> late;
    std::erase_if(waiters_, [&](Waiter& w) {
      if (w.deadline > now) return false;
      late.push_back(std::move(w.done));
      return true;
    });
    for (auto& done : late) done(false);
    arm_waiter_timer();
  });
}

std::string RaftStateStore::unavailable() const {
  if (!failing_since_ || Clock::now() - *failing_since_ < kUnavailableAfter) return {};
  return "the state store (raft cluster) does not take writes: " + last_error_;
}

Json RaftStateStore::stats() const {
  Json nodes = Json::array();
  for (const auto& n : options_.nodes) nodes.push_back(n.to_string());
  return {{"kind", "raft"},
          {"nodes", nodes},
          {"prefix", options_.prefix},
          {"writing_to", node().to_string()},
          {"pending", pending_.size()},
          {"in_flight", in_flight_.size()},
          {"writes", writes_},
          {"retries", retries_},
          {"dropped", dropped_},
          {"unavailable", unavailable()}};
}

}  // namespace bombarder
