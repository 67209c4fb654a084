// Checking a 100,000-operation history (issue 5 "Proof": aim under 5 s on this machine):
// generated from the sequential model with 32 concurrent clients over many ids, 5% of the writes
// with an unknown outcome; Arg = checker threads (0: hardware threads). Also a variant with
// hotter ids, and the parsing of the history as a JSONL file (what `bombarder check` adds).
// Run: build/benchmarks/linearizability_bench
#include <benchmark/benchmark.h>

#include <sstream>

#include "bombarder/history/linearizability.h"
#include "history/history_generator.h"

namespace {

bombarder::History generate(size_t hot_ids) {
  bombarder::GeneratorOptions o;
  o.seed = 42;
  o.clients = 32;
  o.ops = 100000;
  o.hot_ids = hot_ids;  // non-creates go to the `hot_ids` most recent ids: concurrency on them
  o.unknown_pct = 5;
  return bombarder::generate_linearizable_history(o);
}

const bombarder::History& big_history() {
  static const bombarder::History history = generate(50);
  return history;
}

// Fewer, hotter ids: longer and more concurrent sub-histories, a harder search.
const bombarder::History& hot_history() {
  static const bombarder::History history = generate(5);
  return history;
}

void BM_Check100kOps(benchmark::State& state) {
  const bombarder::History& history = big_history();
  bombarder::CheckOptions options;
  options.threads = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    const bombarder::CheckResult result = bombarder::check_history(history, options);
    if (result.verdict != bombarder::Verdict::kOk) state.SkipWithError("not linearizable");
    state.counters["ids"] = static_cast<double>(result.ids);
  }
  state.counters["ops"] = static_cast<double>(history.ops.size());
}
BENCHMARK(BM_Check100kOps)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Check100kOpsHotIds(benchmark::State& state) {
  const bombarder::History& history = hot_history();
  for (auto _ : state) {
    const bombarder::CheckResult result = bombarder::check_history(history);
    if (result.verdict != bombarder::Verdict::kOk) state.SkipWithError("not linearizable");
    state.counters["ids"] = static_cast<double>(result.ids);
  }
}
BENCHMARK(BM_Check100kOpsHotIds)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Parse100kOps(benchmark::State& state) {
  std::string text;
  for (const auto& op : big_history().ops) bombarder::append_history_line(text, op);
  for (auto _ : state) {
    std::istringstream in(text);
    benchmark::DoNotOptimize(bombarder::parse_history(in));
  }
  state.counters["bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_Parse100kOps)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
