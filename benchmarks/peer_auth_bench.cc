// What authenticating peer frames costs (issue 14): HMAC-SHA256 sign and verify of one frame
// (stress_node/src/peer_auth.h) against the XXH64 trailer every frame already carries
// (peer_codec.h) and against decoding the frame, for the frame sizes a cluster sends: an empty
// heartbeat batch, one write's append (~300 B), a busy batch (16 KiB) and a large one (1 MiB).
//
//   build/benchmarks/peer_auth_bench [Google Benchmark flags]
//
// bytes_per_second is the body size over CPU time. A frame is signed once by the sender and
// verified once by the receiver: the MAC's share of a write is (sign + verify) for the frames
// that carry it, divided among the writes batched into them (docs/security.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "peer_auth.h"
#include "peer_codec.h"
#include "raft/message.h"

namespace {

// An append batch of `entries` entries of `data_bytes` each, leader 1 to follower 2.
std::string append_frame(size_t entries, size_t data_bytes) {
  raft::Message m;
  m.type = entries == 0 ? raft::MessageType::kHeartbeat : raft::MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = 7;
  m.index = 1000;
  m.log_term = 7;
  m.commit = 1000;
  for (size_t i = 0; i < entries; ++i) {
    raft::Entry e;
    e.index = 1001 + i;
    e.term = 7;
    e.data = raft::Payload(std::string(data_bytes, static_cast<char>('a' + i % 26)));
    m.entries.push_back(std::move(e));
  }
  return stress_node::encode_batch({m});
}

// Frame sizes by (entries, bytes per entry): heartbeat, one write, a busy batch, a large batch.
void frame_sizes(benchmark::internal::Benchmark* b) {
  b->Args({0, 0})->Args({1, 256})->Args({64, 256})->Args({1024, 1024});
}

const stress_node::PeerKey& key() {
  static const stress_node::PeerKey k = [] {
    std::string error;
    auto derived = stress_node::PeerKey::derive(std::string(32, '\x5a'), &error);
    if (!derived) std::abort();
    return *derived;
  }();
  return k;
}

void BM_HmacSign(benchmark::State& state) {
  const std::string body = append_frame(state.range(0), state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(key().sign("/_raft/append", 1, 2, body));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["frame_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_HmacSign)->Apply(frame_sizes);

void BM_HmacVerify(benchmark::State& state) {
  const std::string body = append_frame(state.range(0), state.range(1));
  const std::string mac = key().sign("/_raft/append", 1, 2, body);
  for (auto _ : state) {
    if (!key().verify("/_raft/append", 1, 2, body, mac)) state.SkipWithError("MAC rejected");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["frame_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_HmacVerify)->Apply(frame_sizes);

void BM_Xxh64Trailer(benchmark::State& state) {
  const std::string body = append_frame(state.range(0), state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(XXH64(body.data(), body.size(), 0));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["frame_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_Xxh64Trailer)->Apply(frame_sizes);

void BM_DecodeBatch(benchmark::State& state) {
  const std::string body = append_frame(state.range(0), state.range(1));
  for (auto _ : state) {
    auto decoded = stress_node::decode_batch(body, nullptr);
    if (!decoded) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["frame_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_DecodeBatch)->Apply(frame_sizes);

}  // namespace

BENCHMARK_MAIN();
