// The orchestrator's durable state (issue 17): experiments, agents and their public keys, runs
// with their results, the audit log, as JSON values in an embedded RocksDB under --data.
// Keys are "<table>/<id>" ("experiment/exp-...", "agent/ed25519:...", "run/run-...",
// "audit/<seq, 20 digits>"), so one table is one prefix scan, in key order.
//
// Every write is synced to the write-ahead log before it returns: a kill -9 right after a REST
// answer or a recorded result loses none of it. Not thread-safe: the orchestrator calls it from
// its one io_context thread.
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
  [[nodiscard]] std::optional<nlohmann::json> get(std::string_view table, std::string_view id);
  // The (id, value) pairs of `table` in id order, at most `limit`, ids after `after`.
  [[nodiscard]] std::vector<std::pair<std::string, nlohmann::json>> scan(
      std::string_view table, size_t limit, std::string_view after = {});

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace bombarder
