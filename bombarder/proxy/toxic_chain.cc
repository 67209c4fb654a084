// Link's toxic chain: what each toxic kind does to a chunk on its way through the proxy, one
// function per kind. See link.h for the coroutine rules these functions keep.
#include <algorithm>
#include <boost/asio/redirect_error.hpp>

#include "bombarder/proxy/link.h"
#include "bombarder/proxy/proxy_state.h"

namespace bombarder::proxy {

namespace {

// The first `n` bytes of `data`, removed from it.
std::vector<char> take_front(std::vector<char>& data, size_t n) {
  const auto end = data.begin() + static_cast<std::ptrdiff_t>(n);
  std::vector<char> front(data.begin(), end);
  data.erase(data.begin(), end);
  return front;
}

}  // namespace

asio::awaitable<void> Link::run_chain(Chunk chunk, std::shared_ptr<const Chain> chain, size_t index,
                                      Direction dir) {
  for (; index < chain->size(); ++index) {
    if (closed_) co_return;
    ToxicPtr t = (*chain)[index];
    if (!state_for(*t).active) continue;
    Passed passed = co_await apply_toxic(t, std::move(chunk), chain, index, dir);
    if (!passed) co_return;
    chunk = std::move(*passed);
  }
  co_await write_out(std::move(chunk), dir);
}

asio::awaitable<Link::Passed> Link::apply_toxic(ToxicPtr t, Chunk chunk,
                                                std::shared_ptr<const Chain> chain, size_t index,
                                                Direction dir) {
  switch (t->kind) {
    case Kind::Latency: co_return co_await apply_latency(t, std::move(chunk));
    case Kind::Bandwidth:
      co_return co_await apply_bandwidth(t, std::move(chunk), chain, index, dir);
    case Kind::SlowClose: break;  // acts on the close only (Link::write_loop)
    case Kind::Timeout: co_return co_await apply_timeout(t, std::move(chunk), dir);
    case Kind::ResetPeer: co_return apply_reset_peer(*t);
    case Kind::Slicer: co_return co_await apply_slicer(t, std::move(chunk), chain, index, dir);
    case Kind::LimitData:
      co_return co_await apply_limit_data(t, std::move(chunk), chain, index, dir);
    case Kind::PacketLoss: co_return apply_packet_loss(*t, std::move(chunk));
  }
  co_return std::move(chunk);
}

asio::awaitable<Link::Passed> Link::apply_latency(ToxicPtr t, Chunk chunk) {
  int64_t delay = t->latency;
  if (t->jitter > 0) delay += std::uniform_int_distribution<int64_t>(-t->jitter, t->jitter)(rng_);
  chunk.arrival += std::chrono::milliseconds(std::max<int64_t>(delay, 0));
  co_await sleep_until(chunk.arrival);
  co_return std::move(chunk);
}

asio::awaitable<Link::Passed> Link::apply_bandwidth(ToxicPtr t, Chunk chunk,
                                                    std::shared_ptr<const Chain> chain,
                                                    size_t index, Direction dir) {
  if (t->rate <= 0) co_return std::move(chunk);
  // rate KB/s = rate bytes/ms; above 100 ms worth, send in 100 ms slices (as Toxiproxy).
  const size_t slice = static_cast<size_t>(t->rate) * 100;
  while (chunk.data.size() > slice) {
    co_await sleep_until(Clock::now() + std::chrono::milliseconds(100));
    if (closed_) co_return std::nullopt;
    Chunk piece(take_front(chunk.data, slice), Clock::now());
    co_await run_chain(std::move(piece), chain, index + 1, dir);
  }
  auto ms = std::chrono::microseconds(static_cast<int64_t>(chunk.data.size()) * 1000 / t->rate);
  co_await sleep_until(Clock::now() + ms);
  chunk.arrival = Clock::now();
  co_return std::move(chunk);
}

asio::awaitable<Link::Passed> Link::apply_timeout(ToxicPtr t, Chunk chunk, Direction dir) {
  // Above 0, data is dropped and timeout_close closes the link later.
  if (t->timeout > 0) co_return std::nullopt;
  const bool through = co_await hold_while_timeout_zero(t->uid, dir);
  if (!through) co_return std::nullopt;
  co_return std::move(chunk);
}

asio::awaitable<bool> Link::hold_while_timeout_zero(uint64_t uid, Direction dir) {
  // Toxiproxy's timeout toxic with 0 stops reading its input, and on removal flushes what it
  // held to the rest of the chain (link.go RemoveToxic): the data arrives late, not never.
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

Link::Passed Link::apply_reset_peer(const Toxic& t) {
  ToxicState& st = state_for(t);
  if (!st.reset_armed) {
    st.reset_armed = true;
    asio::co_spawn(client_.get_executor(), reset_later(shared_from_this(), t.timeout),
                   asio::detached);
  }
  return std::nullopt;  // the data is dropped until the reset
}

asio::awaitable<Link::Passed> Link::apply_slicer(ToxicPtr t, Chunk chunk,
                                                 std::shared_ptr<const Chain> chain, size_t index,
                                                 Direction dir) {
  if (t->average_size <= 0) co_return std::move(chunk);
  size_t offset = 0;
  while (offset < chunk.data.size()) {
    int64_t size = t->average_size;
    if (t->size_variation > 0) {
      size += std::uniform_int_distribution<int64_t>(-t->size_variation, t->size_variation)(rng_);
    }
    const size_t n =
        std::min(chunk.data.size() - offset, static_cast<size_t>(std::max<int64_t>(size, 1)));
    const auto from = chunk.data.begin() + static_cast<std::ptrdiff_t>(offset);
    Chunk piece(std::vector<char>(from, from + static_cast<std::ptrdiff_t>(n)), chunk.arrival);
    offset += n;
    co_await run_chain(std::move(piece), chain, index + 1, dir);
    if (closed_) co_return std::nullopt;
    if (t->delay > 0 && offset < chunk.data.size()) {
      co_await sleep_until(Clock::now() + std::chrono::microseconds(t->delay));
    }
  }
  co_return std::nullopt;  // every piece went on through the rest of the chain
}

asio::awaitable<Link::Passed> Link::apply_limit_data(ToxicPtr t, Chunk chunk,
                                                     std::shared_ptr<const Chain> chain,
                                                     size_t index, Direction dir) {
  ToxicState& st = state_for(*t);  // not used after the co_await below
  const int64_t remaining = t->bytes - st.bytes_passed;
  if (remaining <= 0) {
    close();
    co_return std::nullopt;
  }
  if (static_cast<int64_t>(chunk.data.size()) < remaining) {
    st.bytes_passed += static_cast<int64_t>(chunk.data.size());
    co_return std::move(chunk);
  }
  // The last bytes allowed: they go on through the rest of the chain, then the link closes.
  chunk.data.resize(static_cast<size_t>(remaining));
  st.bytes_passed = t->bytes;
  co_await run_chain(std::move(chunk), chain, index + 1, dir);
  close();
  co_return std::nullopt;
}

Link::Passed Link::apply_packet_loss(const Toxic& t, Chunk chunk) {
  // Correlated draw as in netem: r = c * last + (1 - c) * U(0,1); drop when r < p.
  ToxicState& st = state_for(t);
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const double r = t.correlation * st.last_random + (1.0 - t.correlation) * u;
  st.last_random = r;
  if (r < t.probability) return std::nullopt;
  return chunk;
}

asio::awaitable<void> Link::write_out(Chunk chunk, Direction dir) {
  if (closed_ || chunk.data.empty()) co_return;
  boost::system::error_code ec;
  co_await asio::async_write(sink(dir), asio::buffer(chunk.data),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) close();
}

}  // namespace bombarder::proxy
