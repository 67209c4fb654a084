// The orchestrator's durable state (issue 17): experiments, agents and their public keys, runs
// with their results, the audit log, as JSON values in an embedded RocksDB under --data.
// Keys are "<table>/<id>" ("experiment/exp-...", "agent/ed25519:...", "run/run-...",
// "audit/<seq, 20 digits>"), so one table is one prefix scan, in key order.
//
// Durability in two steps, so that many writes share one fsync: put() and erase() have written
// the record to RocksDB's write-ahead log (in the OS) when they return, so a kill -9 of the
// process right after loses none of it; sync() fsyncs that log, so a power loss or an OS crash
// loses none either. The orchestrator calls sync() before every REST answer and within 50 ms of
// an agent's message (orchestrator_state.h). Not thread-safe: the orchestrator calls it from its
// one io_context thread.
#pragma once

#include <filesystem>
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
  // Opens (creating) the database in `dir`/state. Throws Error(kEnvironment) when RocksDB
  // refuses (another orchestrator holds its lock, a corrupt directory, no permission).
  explicit StateStore(const std::filesystem::path& dir);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Throw Error(kEnvironment) on an I/O error: the orchestrator cannot keep its promises.
  void put(std::string_view table, std::string_view id, const nlohmann::json& value);
  void erase(std::string_view table, std::string_view id);
  // Fsyncs the write-ahead log if anything was written since the last sync.
  void sync();
  [[nodiscard]] bool dirty() const { return dirty_; }
  [[nodiscard]] std::optional<nlohmann::json> get(std::string_view table, std::string_view id);
  // The (id, value) pairs of `table` in id order, at most `limit`, ids after `after`.
  [[nodiscard]] std::vector<std::pair<std::string, nlohmann::json>> scan(
      std::string_view table, size_t limit, std::string_view after = {});

 private:
  std::unique_ptr<rocksdb::DB> db_;
  bool dirty_ = false;
};

}  // namespace bombarder
