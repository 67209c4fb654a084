// The orchestrator's durable state (issue 17): experiments, agents and their public keys, runs
// with their results, the audit log, as JSON values under "<table>/<id>" keys
// ("experiment/exp-...", "agent/ed25519:...", "run/run-...", "audit/<seq, 20 digits>"), so one
// table is one prefix scan, in key order. Two implementations:
//   RocksStateStore  an embedded RocksDB under --data (below);
//   RaftStateStore   the project's own Raft KV cluster, --store raft://... (raft_state_store.h).
//
// Durability in two steps, so that many writes share one flush: put() and erase() start the
// write; when_durable() reports once every write before it is durable (RocksDB: fsynced; Raft:
// committed by a majority of the cluster). The orchestrator waits for it before every REST answer
// and calls sync() within 50 ms of an agent's message (orchestrator_state.h). Reads (get, scan)
// see every put and erase made before them. Not thread-safe: the orchestrator calls it from its
// one io_context thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace bombarder {

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual void put(std::string_view table, std::string_view id, const nlohmann::json& value) = 0;
  virtual void erase(std::string_view table, std::string_view id) = 0;
  [[nodiscard]] virtual std::optional<nlohmann::json> get(std::string_view table,
                                                          std::string_view id) = 0;
  // The (id, value) pairs of `table` in id order, at most `limit`, ids after `after`.
  [[nodiscard]] virtual std::vector<std::pair<std::string, nlohmann::json>> scan(
      std::string_view table, size_t limit, std::string_view after = {}) = 0;

  // Calls done(true) once every put and erase made before this call is durable, done(false)
  // when that did not happen within `timeout` (the writes are still made later, in order, once
  // the store answers again). `done` runs on the io_context thread, possibly inside this call.
  virtual void when_durable(std::chrono::milliseconds timeout, std::function<void(bool)> done) = 0;
  // Blocks until every write is durable: at start only, before the io_context runs (what the
  // start recovered is recorded before anyone is answered). Throws Error(kEnvironment) when that
  // does not happen within `timeout`.
  virtual void flush_at_start(std::chrono::milliseconds timeout) = 0;
  // The batched flush of what agents' messages wrote: within kSyncDelay of a write.
  virtual void sync() = 0;
  [[nodiscard]] virtual bool dirty() const = 0;
  // "" while writes go through; else why not (the REST routes that change state answer 503
  // store_unavailable with it instead of changing what they could not record).
  [[nodiscard]] virtual std::string unavailable() const = 0;
  // Figures for GET /status: {"kind": "rocksdb" | "raft", ...}.
  [[nodiscard]] virtual nlohmann::json stats() const = 0;
};

// put() and erase() have written the record to RocksDB's write-ahead log (in the OS) when they
// return, so a kill -9 of the process right after loses none of it; sync() fsyncs that log, so a
// power loss or an OS crash loses none either. I/O errors throw Error(kEnvironment).
class RocksStateStore final : public StateStore {
 public:
  // Opens (creating) the database in `dir`/state. Throws Error(kEnvironment) when RocksDB
  // refuses (another orchestrator holds its lock, a corrupt directory, no permission).
  explicit RocksStateStore(const std::filesystem::path& dir);
  ~RocksStateStore() override;
  RocksStateStore(const RocksStateStore&) = delete;
  RocksStateStore& operator=(const RocksStateStore&) = delete;

  void put(std::string_view table, std::string_view id, const nlohmann::json& value) override;
  void erase(std::string_view table, std::string_view id) override;
  [[nodiscard]] std::optional<nlohmann::json> get(std::string_view table,
                                                  std::string_view id) override;
  [[nodiscard]] std::vector<std::pair<std::string, nlohmann::json>> scan(
      std::string_view table, size_t limit, std::string_view after = {}) override;
  // Fsyncs at once (a local fsync takes milliseconds), then done(true).
  void when_durable(std::chrono::milliseconds timeout, std::function<void(bool)> done) override;
  void flush_at_start(std::chrono::milliseconds) override { sync(); }
  // Fsyncs the write-ahead log if anything was written since the last sync.
  void sync() override;
  [[nodiscard]] bool dirty() const override { return dirty_; }
  [[nodiscard]] std::string unavailable() const override { return {}; }
  [[nodiscard]] nlohmann::json stats() const override { return {{"kind", "rocksdb"}}; }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  bool dirty_ = false;
};

}  // namespace bombarder
