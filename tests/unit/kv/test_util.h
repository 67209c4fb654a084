// Helpers shared by libkv's unit tests: a temporary directory per test, deterministic ids and
// builders for log entries carrying commands. No clocks, no unseeded randomness.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/codec.h"
#include "kv/store.h"
#include "raft/types.h"

namespace kv::test {

// A fresh directory, removed (with its contents) on destruction. It is made under $TEST_TMPDIR
// when set, else under /dev/shm when that has room (tests cannot observe fsync, and tmpfs makes
// RocksDB's many syncs on open free: the suite runs about 3x faster), else under /tmp.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// prefix + decimal n. (g++ 12 warns falsely, -Wrestrict, on "literal" + std::to_string(n).)
std::string numbered(std::string_view prefix, uint64_t n);

// A canonical UUID whose last 12 hex digits are n: ids sort like their numbers.
std::string make_id(uint64_t n);

Command create_command(std::string id, std::string key, std::string value,
                       std::string idempotency_key = "");
Command update_command(std::string id, std::string value,
                       std::optional<std::string> new_key = std::nullopt,
                       std::string idempotency_key = "");
Command delete_command(std::string id, std::string idempotency_key = "");
// `command` as a leader would propose it: stamped with its clock and idempotency policy.
Command stamped(Command command, uint64_t stamp_unix_ms, uint64_t ttl_ms = kIdempotencyTtlMsDefault,
                uint64_t table_bytes_max = kIdempotencyTableBytesMaxDefault);

// A kNormal entry at (index, term) whose payload is `command` encoded.
raft::Entry entry_of(raft::Index index, raft::Term term, const Command& command);
raft::Entry noop_entry(raft::Index index, raft::Term term);

// Options with small bounds so that tests exercise eviction and compaction quickly.
StoreOptions test_store_options();
std::unique_ptr<Store> open_store(const std::filesystem::path& dir,
                                  const StoreOptions& options = test_store_options());

// Applies `entries` and fails the test on an error.
std::vector<ApplyResult> apply_all(StateMachine& sm, const std::vector<raft::Entry>& entries);

// A deterministic mixed workload of n entries starting at `first`: creates, updates (some
// moving keys), deletes, idempotent retries and no-ops, drawn from a SplitMix64 seeded by `seed`.
std::vector<raft::Entry> workload(raft::Index first, size_t n, uint64_t seed);

// Persists `entries` (and a hard state committing them) as one Ready would.
void persist_entries(LogStorage& log, const std::vector<raft::Entry>& entries, raft::Term term);

}  // namespace kv::test
