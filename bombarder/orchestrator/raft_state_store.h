// The orchestrator's state in the project's own Raft KV cluster (`--store raft://h:p,h:p,...`,
// issue 17): the store proving itself. Each record is one KV entry whose key is
// "<prefix>/<table>/<id>" and whose value is the record's JSON text.
//
// What the KV API offers and how this uses it (stress_node/src/kv_api.h): entries have
// server-chosen ids and a non-unique `key`; a list pages by id (`?limit=&after=ID`), reads are
// linearizable, writes sent to a follower are forwarded to the leader, and an Idempotency-Key
// makes a retried write apply once. There is no scan by key prefix, so:
//   - at start, every entry of the cluster is listed (linearizable, 1000 a page) and those under
//     the prefix are kept: in a mirror (key -> value) that serves get() and scan() in key order,
//     and in a map key -> entry id that turns a put into POST (new key) or PUT /api/kv/{id}.
//     The cost: a start reads the whole cluster (a cluster shared with load-test data makes the
//     start slow), and the state is held in memory twice (here and in the orchestrator's maps).
//   - the orchestrator must be the only writer under its prefix (one orchestrator per prefix at
//     a time, as the RocksDB store's lock enforces for a directory; nothing enforces it here).
//
// Writes never block the io_context thread: put() and erase() update the mirror and queue the
// write; at most kInFlightMax requests are on the wire at once (one per key at a time, so a
// key's writes land in order), and a key written again before its last write was sent is sent
// once with its latest value (coalescing: 1,000 agents' progress rewrites their parts many times
// a second). A failed write (no answer, 503 no leader or no quorum, 504 outcome unknown) is
// retried with the same Idempotency-Key on the next node, with backoff (100 ms doubling to 2 s),
// until it succeeds: a write is never given up for a transient failure. A write the cluster
// refuses for good (400, 413, 422) is logged, counted (`dropped`) and skipped.
//
// The cost of this choice: a write is durable when the cluster has committed it, a few
// milliseconds after the call, not at once as in RocksDB's write-ahead log, so a kill -9 of the
// orchestrator loses the agents' messages of those last milliseconds (an operator's change is
// waited for before its answer: when_durable). Bounds: kPendingKeysMax keys waiting (a write
// past it is dropped and counted; the orchestrator has refused REST changes long before, see
// unavailable()).
//
// Threads: the orchestrator's io_context thread, the one given.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bombarder/orchestrator/state_store.h"
#include "common/asio.h"
#include "common/endpoint.h"
#include "common/http_client.h"

namespace bombarder {

struct RaftStoreOptions {
  std::vector<common::Endpoint> nodes;  // any members of the cluster; writes go to one at a time
  std::string prefix = "bombarder-orchestrator";   // keys are "<prefix>/<table>/<id>"
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: HTTP
  std::chrono::milliseconds request_timeout{5000};
  // How long the start may wait for the cluster to answer (a leader being elected).
  std::chrono::milliseconds start_timeout{30000};
};

// "raft://HOST:PORT,HOST:PORT[/PREFIX]" (a bare PORT means 127.0.0.1). Throws
// Error(kInvalidInput) naming what is wrong.
[[nodiscard]] RaftStoreOptions parse_store_url(std::string_view url);

class RaftStateStore final : public StateStore {
 public:
  static constexpr size_t kInFlightMax = 16;
  static constexpr size_t kPendingKeysMax = 100'000;
  static constexpr size_t kListPageEntries = 1000;
  // Failing this long makes unavailable() say so: a leader election (well under a second with
  // stress_node's defaults) is ridden out without refusing anyone.
  static constexpr std::chrono::milliseconds kUnavailableAfter{1000};

  // Reads every entry under the prefix (blocking: before the io_context runs). Throws
  // Error(kEnvironment) when no node answers within start_timeout.
  RaftStateStore(boost::asio::io_context& io, RaftStoreOptions options);
  ~RaftStateStore() override;
  RaftStateStore(const RaftStateStore&) = delete;
  RaftStateStore& operator=(const RaftStateStore&) = delete;

  void put(std::string_view table, std::string_view id, const nlohmann::json& value) override;
  void erase(std::string_view table, std::string_view id) override;
  [[nodiscard]] std::optional<nlohmann::json> get(std::string_view table,
                                                  std::string_view id) override;
  [[nodiscard]] std::vector<std::pair<std::string, nlohmann::json>> scan(
      std::string_view table, size_t limit, std::string_view after = {}) override;
  // Done(true) once the cluster acknowledged every write queued before the call.
  void when_durable(std::chrono::milliseconds timeout, std::function<void(bool)> done) override;
  // Runs the io_context until the queue is empty (at start, before anything else runs it).
  void flush_at_start(std::chrono::milliseconds timeout) override;
  // Nothing to batch: writes are on their way already.
  void sync() override {}
  [[nodiscard]] bool dirty() const override { return false; }
  [[nodiscard]] std::string unavailable() const override;
  [[nodiscard]] nlohmann::json stats() const override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Op {
    std::optional<std::string> value;  // nullopt: erase
    uint64_t seq = 0;                  // the oldest write this op stands for
    std::string idempotency_key;       // set when first sent; the same on every retry
    unsigned attempts = 0;
  };
  struct Waiter {
    uint64_t seq;
    Clock::time_point deadline;
    std::function<void(bool)> done;
  };

  void load();
  void queue(std::string key, std::optional<std::string> value);
  void pump();
  void send(const std::string& key, Op op);
  void on_answer(const std::string& key, Op op, const common::Endpoint& to,
                 boost::system::error_code ec, const common::HttpResponse& response);
  void finish(const std::string& key, const Op& op);
  // `to` failed: the next node is tried (once per failure of the node in use, so that the
  // concurrent failures of one outage do not skip a good node).
  void retry(const std::string& key, Op op, const common::Endpoint& to, const std::string& why);
  void settle_waiters();
  void arm_waiter_timer();
  [[nodiscard]] const common::Endpoint& node() const { return options_.nodes[node_]; }

  boost::asio::io_context& io_;
  const RaftStoreOptions options_;
  const std::string instance_;  // random, per process: idempotency keys are "<instance>-<n>"
  common::HttpClientPool pool_;
  std::map<std::string, nlohmann::json> mirror_;  // full key -> record
  std::map<std::string, std::string> ids_;        // full key -> the KV entry's id
  std::map<std::string, Op> pending_;             // not sent yet, by key
  std::set<std::string> in_flight_;               // sent (or waiting to be retried)
  std::multiset<uint64_t> outstanding_;           // seq of every pending and in-flight op
  uint64_t seq_ = 0;
  uint64_t idempotency_n_ = 0;
  size_t node_ = 0;
  std::optional<Clock::time_point> failing_since_;
  std::string last_error_;
  std::deque<Waiter> waiters_;  // in call order: nondecreasing seq
  boost::asio::steady_timer waiter_timer_;
  bool waiter_timer_armed_ = false;
  uint64_t writes_ = 0, retries_ = 0, dropped_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // retry timers outliving us
};

}  // namespace bombarder
