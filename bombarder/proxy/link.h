// One proxied connection (after Toxiproxy's link/stub design): the accepted client socket, the
// socket to the upstream, and per direction a reader coroutine that timestamps chunks into a
// queue and a writer coroutine that passes each chunk through the direction's *current* chain
// (looked up per chunk, so API changes reach existing connections) before writing it out.
// Connection plumbing is in link.cc, what each toxic kind does to a chunk in toxic_chain.cc.
//
// Threading: everything runs on the proxy's one io_context thread (proxy_server.h).
//
// Coroutine rules (g++ 12.2, which ships this, miscompiles the first; the others keep frames
// valid while a toxic changes under them):
// - No aggregate temporary in a co_await expression: g++ 12.2 destroys a by-value argument
//   written `co_await f(Agg{...})` twice when Agg is an aggregate with a member that has a
//   destructor (a shared_ptr's count drops twice, its object is freed under its other owners:
//   the heap corruption of d831e5f). Chunk therefore has a constructor; name other such values
//   before the co_await, or give them a constructor.
// - Coroutine parameters by value (a ToxicPtr, a Chunk, a uid), not references into a caller's
//   frame or into the proxy's state.
// - No ToxicState& across a co_await: toxics_changed() erases the states of removed toxics.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "bombarder/proxy/toxic.h"
#include "common/asio.h"

namespace bombarder::proxy {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

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

// Bytes read from one side, stamped when they arrived; `eof` marks the side's end of stream.
// Not an aggregate (see the coroutine rules above).
struct Chunk {
  Chunk() = default;
  Chunk(std::vector<char> bytes, Clock::time_point arrived)
      : data(std::move(bytes)), arrival(arrived) {}

  std::vector<char> data;
  Clock::time_point arrival;
  bool eof = false;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(std::shared_ptr<ProxyState> proxy, asio::ip::tcp::socket client, uint64_t seed);
  // Connects to the upstream, then starts both directions.
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
  // A toxic's verdict on a chunk: the chunk to hand on to the next toxic, or nullopt when the
  // toxic has dealt with it (dropped it, held it, or sent it on in pieces itself).
  using Passed = std::optional<Chunk>;

  // link.cc: the connection.
  static asio::awaitable<void> run(std::shared_ptr<Link> self);
  static asio::awaitable<void> read_loop(std::shared_ptr<Link> self, Direction dir);
  static asio::awaitable<void> write_loop(std::shared_ptr<Link> self, Direction dir);
  static asio::awaitable<void> timeout_close(std::shared_ptr<Link> self, uint64_t uid,
                                             uint64_t generation, int64_t ms);
  static asio::awaitable<void> reset_later(std::shared_ptr<Link> self, int64_t ms);
  asio::awaitable<void> sleep_until(Clock::time_point when);
  // Until the next toxics_changed() (or close()).
  asio::awaitable<void> wait_toxics_changed();
  ToxicState& state_for(const Toxic& t);
  asio::ip::tcp::socket& source(Direction dir) { return dir == kUpstream ? client_ : server_; }
  asio::ip::tcp::socket& sink(Direction dir) { return dir == kUpstream ? server_ : client_; }

  // toxic_chain.cc: the chain. Passes `chunk` through the active toxics chain[index...] in
  // order, then writes what is left to the sink.
  asio::awaitable<void> run_chain(Chunk chunk, std::shared_ptr<const Chain> chain, size_t index,
                                  Direction dir);
  // One function per toxic kind; those that split a chunk send the pieces through
  // chain[index + 1...] themselves.
  asio::awaitable<Passed> apply_toxic(ToxicPtr t, Chunk chunk, std::shared_ptr<const Chain> chain,
                                      size_t index, Direction dir);
  asio::awaitable<Passed> apply_latency(ToxicPtr t, Chunk chunk);
  asio::awaitable<Passed> apply_bandwidth(ToxicPtr t, Chunk chunk,
                                          std::shared_ptr<const Chain> chain, size_t index,
                                          Direction dir);
  asio::awaitable<Passed> apply_timeout(ToxicPtr t, Chunk chunk, Direction dir);
  Passed apply_reset_peer(const Toxic& t);
  asio::awaitable<Passed> apply_slicer(ToxicPtr t, Chunk chunk, std::shared_ptr<const Chain> chain,
                                       size_t index, Direction dir);
  asio::awaitable<Passed> apply_limit_data(ToxicPtr t, Chunk chunk,
                                           std::shared_ptr<const Chain> chain, size_t index,
                                           Direction dir);
  Passed apply_packet_loss(const Toxic& t, Chunk chunk);
  // A `timeout` toxic with timeout 0 holds the data back; true once it lets the data through
  // (removed, or made inactive), false when the data is to be dropped (updated to a closing one).
  asio::awaitable<bool> hold_while_timeout_zero(uint64_t uid, Direction dir);
  asio::awaitable<void> write_out(Chunk chunk, Direction dir);

  std::shared_ptr<ProxyState> proxy_;
  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket server_;
  std::mt19937_64 rng_;
  Pipe pipes_[2];
  std::map<uint64_t, ToxicState> states_;
  std::vector<asio::steady_timer*> sleeping_;
  std::vector<asio::steady_timer*> change_waiters_;
  bool connected_ = false;
  bool closed_ = false;
};

}  // namespace bombarder::proxy
