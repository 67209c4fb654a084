// kv_fill: writes N created entries into a node's data directory through libkv, as a
// single-member cluster (node 0) would have committed and applied them, so that stress_node
// can be started on a large store at once (a flood of 1M writes over HTTP takes minutes here).
// Used for the /status latency figure at 1M entries (docs/benchmarks.md, issue 13 bug 3):
//
//   build/benchmarks/kv_fill --data-dir /tmp/big/node-0 --entries 1000000
//   build/bin/stress_node --node-id 0 --port 18080 --data-dir /tmp/big/node-0
//       --snapshot-threshold 100000000
//
// The entries are index 1..N of term 1, each a create of a distinct id with a 100-byte value.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kv/codec.h"
#include "kv/store.h"

int main(int argc, char** argv) {
  CLI::App app("Fill a stress_node data directory with N entries through libkv");
  std::string data_dir;
  uint64_t entries = 1'000'000;
  uint64_t batch = 10'000;
  app.add_option("--data-dir", data_dir, "The node's data directory (created)")->required();
  app.add_option("--entries", entries, "How many entries")->check(CLI::Range(1, 100'000'000));
  app.add_option("--batch", batch, "Entries per persist and apply")->check(CLI::Range(1, 100'000));
  CLI11_PARSE(app, argc, argv);

  kv::Result<std::unique_ptr<kv::Store>> opened = kv::Store::open(data_dir, {});
  if (!opened.is_ok()) {
    std::fprintf(stderr, "kv_fill: cannot open %s: %s\n", data_dir.c_str(),
                 opened.status().to_string().c_str());
    return 1;
  }
  kv::Store& store = *opened.value();
  const raft::Index first = store.log().last_index() + 1;
  if (store.state_machine().applied_index() + 1 != first) {
    std::fprintf(stderr, "kv_fill: %s has unapplied entries; use a fresh directory\n",
                 data_dir.c_str());
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  const std::string value(100, 'v');
  for (raft::Index lo = first; lo < first + entries; lo += batch) {
    raft::Ready ready;
    for (raft::Index i = lo; i < std::min(lo + batch, first + entries); ++i) {
      char id[64];
      std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012llu",
                    static_cast<unsigned long long>(i));
      kv::Command command{
          kv::CreateCommand{id, "key-" + std::to_string(i % 1000), value, 1'700'000'000'000'000, 0},
          ""};
      kv::Result<std::string> payload = kv::encode_command(command);
      if (!payload.is_ok()) return 1;
      ready.entries.push_back(
          raft::Entry{1, i, raft::EntryType::kNormal, raft::Payload(std::move(payload).value())});
    }
    ready.hard_state = raft::HardState{1, raft::kNoNode, ready.entries.back().index};
    ready.committed_entries = ready.entries;
    if (kv::Status s = store.persist(ready); !s.is_ok()) {
      std::fprintf(stderr, "kv_fill: persist: %s\n", s.to_string().c_str());
      return 1;
    }
    kv::Result<std::vector<kv::ApplyResult>> applied = store.apply(ready);
    if (!applied.is_ok()) {
      std::fprintf(stderr, "kv_fill: apply: %s\n", applied.status().to_string().c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto hash_started = std::chrono::steady_clock::now();
  const kv::StateHash hash = store.state_machine().state_hash();
  const double hash_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - hash_started)
          .count();
  std::printf(
      "kv_fill: %llu entries in %.1f s; applied index %llu; state_hash() over %llu entries "
      "took %.0f ms\n",
      static_cast<unsigned long long>(entries), seconds,
      static_cast<unsigned long long>(store.state_machine().applied_index()),
      static_cast<unsigned long long>(hash.entry_count), hash_ms);
  return 0;
}
