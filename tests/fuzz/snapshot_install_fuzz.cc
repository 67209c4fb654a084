// Fuzz target: receiving and installing a snapshot (libkv: LogStorage's staging of
// Ready::snapshot_chunks and the install of Ready::snapshot, which decodes the body with
// kv::detail::load_snapshot_body into the state machine; kv/snapshot.h has the body format).
//
// One kv::Store for the whole run (in a scratch directory, fsync off: the disk is not under
// test). Input: byte 0 is the mode, byte 1 the chunk size, the rest is a snapshot body.
//   mode bit 0: write the next install index into the body's applied_index (bytes 1..8), so the
//               fuzzer need not guess it; bit 1: corrupt the checksum in the meta; bit 2: the
//               meta's size one byte short.
// The body goes to persist() in chunks of (byte 1 % 64) + 1 bytes, the last with the install.
//
// Oracles: a refused install changes nothing (applied index, entry count); an accepted one holds
// the body's entries, serializes back to exactly the body, and the state machine keeps working
// on top of it: entries applied after it (no-ops, then a keyed update stamped far in the future,
// which expires every restored idempotency record, and a delete of a restored entry) succeed.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz_support.h"
#include "kv/codec.h"
#include "kv/snapshot.h"
#include "kv/store.h"

namespace {

constexpr uint64_t kNoopsAfterInstall = 4;
// A stamp past every expiry a body can hold (clock_ms + TTL of at most a week): applying it
// evicts the whole restored idempotency table.
constexpr uint64_t kFarFutureStampMs = uint64_t{1} << 62;

struct Harness {
  fuzz::ScratchDir dir{"snapshot_install_fuzz"};
  std::unique_ptr<kv::Store> store;
  raft::Index next_index = 10;

  Harness() {
    kv::StoreOptions options;
    options.log.sync = false;
    auto opened = kv::Store::open(dir.path() / "node", options);
    FUZZ_CHECK(opened.is_ok(), opened.status().to_string());
    store = std::move(opened).value();
    std::filesystem::create_directories(dir.path() / "reserialized");
  }
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

raft::Entry command_entry(raft::Index index, const kv::Command& command) {
  auto bytes = kv::encode_command(command);
  FUZZ_CHECK(bytes.is_ok(), bytes.status().to_string());
  return raft::Entry{1, index, raft::EntryType::kNormal, raft::Payload(std::move(bytes).value())};
}

// Applies, on top of the installed state, a window of no-ops and then an update (moving the key)
// and a delete of the first restored entry, if any.
void apply_after_install(kv::Store& store) {
  raft::Index index = store.state_machine().applied_index();
  raft::Ready ready;
  for (uint64_t i = 0; i < kNoopsAfterInstall; ++i) {
    ready.committed_entries.push_back(raft::Entry{1, ++index, raft::EntryType::kNoop, {}});
  }
  const auto first = store.state_machine().list("", 1);
  if (!first.empty()) {
    kv::Command update{kv::UpdateCommand{first[0].id, "v", std::string("moved")}, "fuzz-key"};
    update.stamp_unix_ms = kFarFutureStampMs;
    ready.committed_entries.push_back(command_entry(++index, update));
    ready.committed_entries.push_back(command_entry(++index, {kv::DeleteCommand{first[0].id}, ""}));
  }
  auto results = store.apply(ready);
  FUZZ_CHECK(results.is_ok(), results.status().to_string());
  FUZZ_CHECK(store.state_machine().applied_index() == index, "every entry applied");
  (void)store.state_machine().state_hash();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness harness;
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const size_t chunk_bytes = data[1] % 64 + 1;
  std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);

  const raft::Index index = harness.next_index;
  if ((mode & 1) != 0 && body.size() >= 9) {
    for (int i = 0; i < 8; ++i) body[1 + i] = static_cast<char>(index >> (8 * i));
  }
  raft::SnapshotMeta meta{index, 1, raft::ConfState{{0}}, body.size(),
                          XXH64(body.data(), body.size(), 0)};
  if ((mode & 2) != 0) meta.checksum ^= 1;
  if ((mode & 4) != 0 && meta.size_bytes > 0) meta.size_bytes -= 1;

  kv::Store& store = *harness.store;
  const raft::Index applied_before = store.state_machine().applied_index();
  const uint64_t count_before = store.state_machine().count();
  kv::Status status;
  uint64_t offset = 0;
  do {
    raft::Ready ready;
    const std::string_view piece = std::string_view(body).substr(offset, chunk_bytes);
    const bool last = offset + piece.size() >= body.size();
    ready.snapshot_chunks.push_back(raft::SnapshotChunk{meta, offset, raft::Payload(piece), last});
    if (last) ready.snapshot = meta;
    offset += piece.size();
    status = store.persist(ready);
  } while (status.is_ok() && offset < body.size());

  if (!status.is_ok()) {
    FUZZ_CHECK(store.state_machine().applied_index() == applied_before &&
                   store.state_machine().count() == count_before,
               "a refused snapshot changes nothing: " + status.to_string());
    return 0;
  }
  // Installed: the next install must be newer than this one and than what we apply next.
  harness.next_index = index + 2 * kNoopsAfterInstall + 10;
  FUZZ_CHECK(store.state_machine().applied_index() == index, "installed at its index");
  uint64_t entry_count = 0;
  for (int i = 0; i < 8; ++i) {
    entry_count |= static_cast<uint64_t>(static_cast<uint8_t>(body[17 + i])) << (8 * i);
  }
  FUZZ_CHECK(store.state_machine().count() == entry_count, "holds the body's entries");

  const auto file =
      kv::write_snapshot_file(store.capture_snapshot(), harness.dir.path() / "reserialized");
  FUZZ_CHECK(file.is_ok(), file.status().to_string());
  FUZZ_CHECK(read_file(file->path) == body, "an installed snapshot serializes back to its body");
  std::filesystem::remove(file->path);

  apply_after_install(store);
  return 0;
}
