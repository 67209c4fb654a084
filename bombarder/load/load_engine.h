// The load generator behind flood, burst, mixed and storm (issue 4 "Load").
//
// Shape: `threads` shards, each one thread running its own io_context; the `concurrency`
// workers are spread over the shards, and each worker keeps one keep-alive connection per node
// (load_connection.h). A worker is a callback chain (pick an operation, send it, on the answer
// record and pick the next), so the number of requests in flight is exactly the number of
// workers, never a thread per request.
// Everything a shard touches (statistics, the ids it may read/update/delete, the acknowledged-
// write record, its CSV buffer) is its own: the hot path takes no lock.
//
// Retries: every write carries an Idempotency-Key that stays the same across its attempts, so a
// retry after a lost answer can never apply twice. 503 and connection errors are retried with
// jittered exponential backoff on another node, 504 and attempt timeouts are retried too (the
// key makes that safe, and the node answers a retried key with the original outcome), all until
// the request's deadline. A write whose last attempt ended in 504 or a timeout is
// "outcome unknown", never a success.
//
// Ids: update, read and delete pick an id that this shard created and holds; while an operation
// on an id is in flight no other worker uses it, so a 404 on an id we hold means an
// acknowledged write was lost. An id whose last write's outcome is unknown is retired.
//
// Circuit breakers (optional, LoadSpec::breaker): one per node, shared by the shards; every
// attempt's outcome is reported to its node's breaker, and an attempt goes to the first node in
// the targeting order whose breaker allows it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bombarder/history/acked_write.h"
#include "bombarder/history/operation.h"
#include "bombarder/load/circuit_breaker.h"
#include "common/endpoint.h"
#include "common/histogram.h"
#include "common/http_client.h"  // forward-declares boost::asio::ssl::context

namespace bombarder {

class HistoryWriter;  // history.h
class StoreAdapter;   // client/store_adapter.h
class LoadMetrics;    // load_metrics.h

// The page size of the engine's key lookups (a key is unique to one create, so one entry is
// expected; more would show a duplicated create).
inline constexpr uint32_t kListLimit = 10;
// Why a request finally failed (after its retries).
enum class FailureKind : uint8_t {
  kUnavailable,     // 503 (no leader / no quorum) until the deadline
  kConnection,      // connection refused/reset until the deadline
  kOutcomeUnknown,  // a write whose last attempt got 504 or timed out: may or may not be applied
  kTimeout,         // a read that timed out until the deadline
  kNotFound,        // 404 for an id this run created and still holds: a lost write
  kClientError,     // another 4xx (400, 409, 413, 422): the request itself was refused
  kServerError,     // another 5xx
  kBadResponse,     // a 2xx whose body is not what the API promises
  kWrongValue,      // a read returned another value than the last acknowledged write's
};
inline constexpr size_t kFailureKindCount = 9;
[[nodiscard]] const char* to_string(FailureKind kind);

// Relative weights of the operations; reads/updates/deletes/lists fall back to creates while the
// shard holds no id.
struct OpMix {
  std::array<uint32_t, kOpKindCount> weight{100, 0, 0, 0, 0};
  [[nodiscard]] static OpMix creates_only() { return {}; }
  // storm: read_pct% reads, the rest 60% creates, 30% updates, 10% deletes.
  [[nodiscard]] static OpMix storm(uint32_t read_pct);
  // mixed: 40% creates, 30% reads, 20% updates, 10% deletes.
  [[nodiscard]] static OpMix mixed();
  // This mix with list_pct% (0..100) of the operations turned into key lookups, the others
  // keeping their proportions.
  [[nodiscard]] OpMix with_lists(uint32_t list_pct) const;
};

enum class Targeting {
  kLeader,      // every request to the leader, following 503 hints and rotating on errors
  kRandomNode,  // every attempt to a random node, a retry to a different one
  // Writes as kLeader; reads and lists to a random node other than the leader (Redis
  // --read-from replica: a replica refuses writes, and the reads are what is tested).
  kLeaderWritesFollowerReads,
};

struct LoadSpec {
  std::string name = "load";  // "flood", "storm", ... (reports, keys)
  std::vector<common::Endpoint> nodes;
  // The store's wire format and answer meanings (client/store_adapter.h); null: stress_node.
  std::shared_ptr<const StoreAdapter> store;
  // HTTPS to every node when set (node_tls.h node_tls_context()); null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  size_t leader = 0;  // index into nodes: where kLeader targeting starts
  // Where the store itself says the leader is now, when it has a party that knows (Redis
  // Sentinel: client/redis_sentinel.h); must not block (it reads what a watcher last learned).
  // Asked when a leader-bound attempt finds no leader (a refusal without a hint, a connection
  // error); nullopt, or no function: the next node is tried, as before.
  std::function<std::optional<size_t>()> leader_now;
  Targeting targeting = Targeting::kLeader;
  OpMix mix;
  uint64_t count = 0;                     // requests to issue; 0: run for `duration`
  std::chrono::milliseconds duration{0};  // used when count == 0
  size_t concurrency = 10;
  size_t value_bytes = 64;
  std::string key_prefix = "k";
  std::string idempotency_prefix;  // unique per run: "<run id>-"
  std::chrono::milliseconds attempt_timeout{5000};
  std::chrono::milliseconds deadline{30000};  // per request, retries included
  size_t threads = 0;                         // 0: min(hardware threads, concurrency, 4)
  std::filesystem::path csv_path;             // one row per request when not empty
  // Records every operation (history.h) when set; shared by the runs of one command (bursts).
  HistoryWriter* history = nullptr;
  // Live counters for GET /metrics when set; shared by the runs of one command, like history.
  LoadMetrics* metrics = nullptr;
  // Per-node circuit breakers (circuit_breaker.h) when set: attempts skip nodes whose breaker is
  // open; when every node's is, the request waits (backoff) as for a 503.
  std::optional<BreakerOptions> breaker;
  // Polled by the progress loop; true stops issuing new requests (in-flight ones finish).
  std::function<bool()> stop_requested;
  // Called about every 250 ms from the thread that called run(), with the live counters.
  std::function<void(const struct LoadProgress&)> on_progress;
};

struct LoadProgress {
  std::chrono::milliseconds elapsed{0};
  uint64_t completed = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t retries = 0;
  uint64_t target = 0;  // count, or 0 in duration mode
};

// A node's circuit breaker at the end of a run.
struct BreakerReport {
  std::string node;  // HOST:PORT
  BreakerState state = BreakerState::kClosed;
  BreakerCounters counters;
};

struct OpStats {
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  common::Histogram latency;  // successful and failed requests, retries included
};

struct LoadResult {
  std::chrono::milliseconds elapsed{0};
  uint64_t requests = 0;  // logical requests completed (each counted once, whatever its retries)
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t attempts = 0;  // HTTP attempts sent, retries included
  uint64_t retries = 0;
  std::array<uint64_t, kFailureKindCount> failures{};
  std::array<OpStats, kOpKindCount> ops;
  common::Histogram latency;          // every request
  std::map<int, uint64_t> responses;  // HTTP status of every attempt (0: transport error)
  std::unordered_map<std::string, AckedWrite> acked;  // id -> state
  uint64_t creates_unknown = 0;         // creates with unknown outcome (their id is unknown)
  std::vector<BreakerReport> breakers;  // by node, when LoadSpec::breaker was set
  bool interrupted = false;             // stop_requested ended the run early

  [[nodiscard]] double throughput() const;   // successes per second
  [[nodiscard]] double success_pct() const;  // 100 when requests == 0
  // An example failure per kind, for the report ("503 no_leader: ...").
  std::array<std::string, kFailureKindCount> failure_examples;
};

// Adds `part` (a later run, e.g. the next burst) to `total`: counts, histograms, answers, acked
// writes; elapsed times are the caller's business.
void merge_results(LoadResult& total, LoadResult&& part);

// Runs the load to completion (count reached, duration passed, or stop_requested), blocking.
// Throws Error(kEnvironment) when the CSV file cannot be opened.
[[nodiscard]] LoadResult run_load(const LoadSpec& spec);

}  // namespace bombarder
