#include "test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "raft/rand.h"

namespace kv::test {

namespace {

std::filesystem::path temp_root() {
  if (const char* env = std::getenv("TEST_TMPDIR"); env != nullptr && *env != '\0') return env;
  // Containers often give /dev/shm only 64 MiB; the suite needs far less, but stay clear.
  constexpr uint64_t kShmFreeBytesMin = 256 << 20;
  struct statvfs st {};
  if (::statvfs("/dev/shm", &st) == 0 && uint64_t{st.f_bavail} * st.f_frsize >= kShmFreeBytesMin &&
      ::access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return ::testing::TempDir();
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (temp_root() / "kvtest-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string numbered(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

std::string make_id(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n & 0xffffffffffffull));
  return buf;
}

Command create_command(std::string id, std::string key, std::string value,
                       std::string idempotency_key) {
  CreateCommand op{std::move(id), std::move(key), std::move(value), 1'700'000'000'000'000, 7};
  return Command{std::move(op), std::move(idempotency_key)};
}

Command update_command(std::string id, std::string value, std::optional<std::string> new_key,
                       std::string idempotency_key) {
  return Command{UpdateCommand{std::move(id), std::move(value), std::move(new_key)},
                 std::move(idempotency_key)};
}

Command delete_command(std::string id, std::string idempotency_key) {
  return Command{DeleteCommand{std::move(id)}, std::move(idempotency_key)};
}

Command stamped(Command command, uint64_t stamp_unix_ms, uint64_t ttl_ms,
                uint64_t table_bytes_max) {
  command.stamp_unix_ms = stamp_unix_ms;
  command.idempotency_ttl_ms = ttl_ms;
  command.idempotency_table_bytes_max = table_bytes_max;
  return command;
}

raft::Entry entry_of(raft::Index index, raft::Term term, const Command& command) {
  Result<std::string> bytes = encode_command(command);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  return raft::Entry{term, index, raft::EntryType::kNormal,
                     raft::Payload(bytes.is_ok() ? *bytes : std::string())};
}

raft::Entry noop_entry(raft::Index index, raft::Term term) {
  return raft::Entry{term, index, raft::EntryType::kNoop, raft::Payload()};
}

StoreOptions test_store_options() {
  StoreOptions o;
  o.db.write_buffer_bytes = 1 << 20;
  o.db.block_cache_bytes = 1 << 20;
  return o;
}

std::unique_ptr<Store> open_store(const std::filesystem::path& dir, const StoreOptions& options) {
  Result<std::unique_ptr<Store>> store = Store::open(dir, options);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store.is_ok() ? std::move(store).value() : nullptr;
}

std::vector<ApplyResult> apply_all(StateMachine& sm, const std::vector<raft::Entry>& entries) {
  Result<std::vector<ApplyResult>> results = sm.apply_batch(entries);
  EXPECT_TRUE(results.is_ok()) << results.status().to_string();
  return results.is_ok() ? std::move(results).value() : std::vector<ApplyResult>{};
}

std::vector<raft::Entry> workload(raft::Index first, size_t n, uint64_t seed) {
  raft::SplitMix64 rng(seed);
  std::vector<raft::Entry> out;
  const uint64_t ids = 64;  // few ids, so updates and deletes often hit existing entries
  for (size_t k = 0; k < n; ++k) {
    const raft::Index index = first + k;
    const uint64_t roll = rng.next() % 100;
    const std::string id = make_id(rng.next() % ids);
    const std::string key = numbered("key-", rng.next() % 16);
    const std::string value = numbered("value-", rng.next());
    const std::string idem = roll % 3 == 0 ? numbered("idem-", rng.next() % 40) : "";
    if (roll < 5) {
      out.push_back(noop_entry(index, 1));
    } else if (roll < 50) {
      out.push_back(entry_of(index, 1, create_command(id, key, value, idem)));
    } else if (roll < 80) {
      std::optional<std::string> new_key;
      if (roll < 60) new_key = key;
      out.push_back(entry_of(index, 1, update_command(id, value, new_key, idem)));
    } else {
      out.push_back(entry_of(index, 1, delete_command(id, idem)));
    }
  }
  return out;
}

void persist_entries(LogStorage& log, const std::vector<raft::Entry>& entries, raft::Term term) {
  raft::Ready ready;
  ready.entries = entries;
  ready.hard_state = raft::HardState{term, raft::kNoNode, entries.back().index};
  Status s = log.persist(ready);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
}

}  // namespace kv::test
