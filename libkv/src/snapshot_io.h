// Reading the state machine's meta record and loading a snapshot body into a WriteBatch
// (internal to libkv; the body format is in kv/snapshot.h).
#pragma once

#include <cstdint>
#include <filesystem>

#include "kv/db.h"
#include "kv/status.h"
#include "schema.h"

namespace rocksdb {
class WriteBatch;
struct ReadOptions;
}  // namespace rocksdb

namespace kv::detail {

// sm_meta["state"] as `ro` sees it (at its snapshot, or now); zero on a fresh database.
// Aborts on a read error or a malformed record (our own data).
[[nodiscard]] SmState read_sm_state(const Db& db, const rocksdb::ReadOptions& ro);

struct LoadedSnapshot {
  SmState state;  // as the body describes it
  uint64_t size_bytes = 0;
  uint64_t checksum = 0;  // XXH64 of the bytes read
};

// Reads and validates the whole body at `path` (format, bounds, order, counts, end of file) and
// adds to `batch` the puts that recreate the state machine families from it, sm_meta included.
// The caller clears the families first (in the same batch) and compares size and checksum with
// what it expects before writing the batch. Corrupt input is a kCorruption Status.
[[nodiscard]] Result<LoadedSnapshot> load_snapshot_body(const Db& db,
                                                        const std::filesystem::path& path,
                                                        rocksdb::WriteBatch* batch);

}  // namespace kv::detail
