// Link's connection: connect, the reader and writer of each direction, timers, close. See link.h.
#include "bombarder/proxy/link.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <set>

#include "bombarder/proxy/address.h"
#include "bombarder/proxy/proxy_state.h"

namespace bombarder::proxy {

using asio::ip::tcp;

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
    std::shared_ptr<const Chain> chain = std::make_shared<Chain>(self->proxy_->chains[dir]);
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

}  // namespace bombarder::proxy
