// The idempotency table's cost (issue 13): apply throughput of keyed creates and the table's size
// with 1,000,000 live keys against an empty table, in one run, driving kv::StateMachine directly
// (RocksDB on the data directory given, default /tmp; no Raft, no HTTP).
//
//   build/benchmarks/idempotency_bench [--dir=/path] [Google Benchmark flags]
//
// Every write is a create with a new Idempotency-Key (the worst case: each one adds a record),
// 100 per apply batch, 100-byte values, TTL 10 minutes, stamps as at 100k writes/s (nothing
// expires), a 1 GiB table bound so that the 1M keys stay live. items_per_second = applied writes
// per second (wall clock). Counters: table_keys_loaded/_end, table_mb_loaded (the accounted
// bytes the bound applies to), evicted, db_dir_mb (the
// whole RocksDB directory: entries, key index and the table; no Raft log here), rss_mb (this
// process, at the end).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kv/store.h"

namespace {

constexpr size_t kBatchEntries = 100;
constexpr uint64_t kTableBytesMax = uint64_t{1} << 30;
constexpr uint64_t kStampStartMs = 1'800'000'000'000;
// Stamps advance as at 100,000 writes/s: 1.2M writes span 12 s, far inside the 10 min TTL.
constexpr uint64_t kWritesPerMs = 100;
std::filesystem::path g_root = "/tmp";

std::string id_of(uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n & 0xffffffffffffull));
  return buf;
}

// A node's state machine and the next index/stamp to apply at.
struct Loaded {
  std::filesystem::path dir;
  std::unique_ptr<kv::Store> store;
  uint64_t next = 1;
  ~Loaded() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

std::vector<raft::Entry> batch_at(uint64_t first, size_t n) {
  std::vector<raft::Entry> entries;
  entries.reserve(n);
  for (uint64_t i = first; i < first + n; ++i) {
    kv::Command c;
    c.op = kv::CreateCommand{id_of(i), "key-" + std::to_string(i % 1000), std::string(100, 'v'),
                             1'700'000'000'000'000, 1};
    c.idempotency_key = "bench-run-1-request-" + std::to_string(i);
    c.stamp_unix_ms = kStampStartMs + i / kWritesPerMs;
    c.idempotency_ttl_ms = kv::kIdempotencyTtlMsDefault;
    c.idempotency_table_bytes_max = kTableBytesMax;
    entries.push_back(
        raft::Entry{1, i, raft::EntryType::kNormal, raft::Payload(kv::encode_command(c).value())});
  }
  return entries;
}

void apply_or_die(kv::Store& store, const std::vector<raft::Entry>& entries) {
  kv::Result<std::vector<kv::ApplyResult>> r = store.state_machine().apply_batch(entries);
  if (!r.is_ok()) {
    std::fprintf(stderr, "apply failed: %s\n", r.status().to_string().c_str());
    std::exit(1);
  }
}

double rss_mb() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

double dir_mb(const std::filesystem::path& dir) {
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  return static_cast<double>(bytes) / 1e6;
}

void BM_ApplyKeyedCreates(benchmark::State& state) {
  const auto live_keys = static_cast<uint64_t>(state.range(0));
  Loaded node;
  std::string pattern = (g_root / "idem-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  node.dir = pattern;
  kv::Result<std::unique_ptr<kv::Store>> store = kv::Store::open(node.dir, {});
  if (!store.is_ok()) {
    state.SkipWithError(store.status().to_string().c_str());
    return;
  }
  node.store = std::move(store).value();
  for (; node.next <= live_keys; node.next += 1000) {
    apply_or_die(*node.store,
                 batch_at(node.next, std::min<uint64_t>(1000, live_keys + 1 - node.next)));
  }
  node.next = live_keys + 1;
  const kv::IdempotencyStats loaded = node.store->state_machine().idempotency_stats();
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<raft::Entry> entries = batch_at(node.next, kBatchEntries);
    state.ResumeTiming();
    apply_or_die(*node.store, entries);
    node.next += kBatchEntries;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchEntries));
  const kv::IdempotencyStats after = node.store->state_machine().idempotency_stats();
  state.counters["table_keys_loaded"] = static_cast<double>(loaded.keys);
  state.counters["table_mb_loaded"] = static_cast<double>(loaded.bytes) / 1e6;
  state.counters["table_keys_end"] = static_cast<double>(after.keys);
  state.counters["evicted"] =
      static_cast<double>(after.evicted_ttl_total + after.evicted_bytes_total);
  state.counters["db_dir_mb"] = dir_mb(node.dir);
  state.counters["rss_mb"] = rss_mb();
}

// Fixed iterations: the function runs once per argument, so the 1M keys load once.
BENCHMARK(BM_ApplyKeyedCreates)
    ->Arg(0)
    ->Arg(1'000'000)
    ->Iterations(2000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("--dir=")) {
      g_root = arg.substr(6);
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
