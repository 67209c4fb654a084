// load/load_report.h: the summary of a load run (design.md §4: count, successes, failures by
// kind, throughput, latency p50/p90/p99/p99.9/max), in words for people and as JSON for
// scripts, and the live progress line. Both forms must agree on the verdict.
#include "bombarder/load/load_report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace bombarder {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

size_t index_of(OpKind kind) { return static_cast<size_t>(kind); }
size_t index_of(FailureKind kind) { return static_cast<size_t>(kind); }

// A run of 10 requests in 2 s: 8 creates succeeded, 1 read failed with 503, 1 create with
// unknown outcome; answers 201 x 8, 503 x 3, 504 x 1 and one transport error.
LoadResult sample_result() {
  LoadResult r;
  r.elapsed = 2000ms;
  r.requests = 10;
  r.succeeded = 8;
  r.failed = 2;
  r.attempts = 13;
  r.retries = 3;
  r.failures[index_of(FailureKind::kUnavailable)] = 1;
  r.failure_examples[index_of(FailureKind::kUnavailable)] = "503 no_leader: no leader";
  r.failures[index_of(FailureKind::kOutcomeUnknown)] = 1;
  r.failure_examples[index_of(FailureKind::kOutcomeUnknown)] = "504 commit_timeout";
  r.ops[index_of(OpKind::kCreate)].succeeded = 8;
  r.ops[index_of(OpKind::kCreate)].failed = 1;
  r.ops[index_of(OpKind::kRead)].failed = 1;
  for (uint64_t us : {1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000}) {
    r.latency.record(us);
  }
  r.ops[index_of(OpKind::kCreate)].latency.record(4000);
  r.ops[index_of(OpKind::kRead)].latency.record(10000);
  r.responses = {{0, 1}, {201, 8}, {503, 3}, {504, 1}};
  r.creates_unknown = 1;
  return r;
}

RunHeader header(double min_success_pct = 75.0) {
  return RunHeader{.command = "storm",
                   .target = "3 nodes, leader 127.0.0.1:8080",
                   .concurrency = 4,
                   .min_success_pct = min_success_pct};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LoadReport, HumanSummaryStatesCountsThroughputAndTheVerdict) {
  const std::string text = human_summary(header(), sample_result(), {});
  EXPECT_TRUE(text.starts_with(
      "storm: 10 requests, 3 nodes, leader 127.0.0.1:8080, concurrency 4, 2.00 s\n"))
      << text;
  EXPECT_TRUE(contains(text, "succeeded   8 (80.00%)   failed 2   retries 3   attempts 13"))
      << text;
  EXPECT_TRUE(contains(text, "throughput  4.0 req/s")) << text;  // successes per second
  EXPECT_TRUE(contains(text, "creates with unknown outcome (id never learnt): 1")) << text;
  EXPECT_TRUE(contains(text, "  transport-error x 1  201 x 8  503 x 3  504 x 1")) << text;
  EXPECT_TRUE(contains(text, "result      PASS (success 80.00%, required 75.00%)")) << text;
  EXPECT_TRUE(text.ends_with("\n"));
}

TEST(LoadReport, HumanSummaryListsOnlyOperationsAndFailureKindsThatOccurred) {
  const std::string text = human_summary(header(), sample_result(), {});
  EXPECT_TRUE(contains(text, "by operation:")) << text;
  EXPECT_TRUE(contains(text, "create  ok 8")) << text;
  EXPECT_TRUE(contains(text, "read    ok 0")) << text;
  EXPECT_FALSE(contains(text, "update  ok")) << text;
  EXPECT_FALSE(contains(text, "delete  ok")) << text;
  EXPECT_TRUE(contains(text, "failures by kind:")) << text;
  EXPECT_TRUE(contains(text, "unavailable      1        e.g. 503 no_leader: no leader")) << text;
  EXPECT_TRUE(contains(text, "outcome_unknown  1        e.g. 504 commit_timeout")) << text;
  EXPECT_FALSE(contains(text, "not_found")) << text;
  EXPECT_FALSE(contains(text, "connection ")) << text;
}

TEST(LoadReport, ARunWithoutFailuresHasNoFailureSection) {
  LoadResult r;
  r.elapsed = 1000ms;
  r.requests = r.succeeded = r.attempts = 5;
  r.ops[index_of(OpKind::kCreate)].succeeded = 5;
  const std::string text = human_summary(header(100), r, {});
  EXPECT_FALSE(contains(text, "failures by kind")) << text;
  EXPECT_FALSE(contains(text, "unknown outcome")) << text;
  EXPECT_TRUE(contains(text, "result      PASS (success 100.00%, required 100.00%)")) << text;
}

TEST(LoadReport, ASuccessShareJustBelowTheRequiredOneIsNotShownAsIt) {
  LoadResult r;
  r.elapsed = 1000ms;
  r.requests = r.attempts = 76'899;
  r.succeeded = 76'897;
  r.failed = 2;
  const std::string text = human_summary(header(100), r, {});
  EXPECT_TRUE(contains(text, "succeeded   76897 (99.99%)")) << text;
  EXPECT_TRUE(contains(text, "result      FAIL (success 99.99%, required 100.00%)")) << text;
}

TEST(LoadReport, SuccessBelowTheRequiredShareFails) {
  const std::string text = human_summary(header(90), sample_result(), {});
  EXPECT_TRUE(contains(text, "result      FAIL (success 80.00%, required 90.00%)")) << text;
  EXPECT_FALSE(json_summary(header(90), sample_result(), {}).at("passed").get<bool>());
}

TEST(LoadReport, AnInterruptedRunFailsEvenWithEverySuccess) {
  LoadResult r;
  r.elapsed = 500ms;
  r.requests = r.succeeded = 3;
  r.interrupted = true;
  const std::string text = human_summary(header(0), r, {});
  EXPECT_TRUE(contains(text, "0.50 s (interrupted)\n")) << text;
  EXPECT_TRUE(contains(text, "result      FAIL")) << text;
  const Json json = json_summary(header(0), r, {});
  EXPECT_FALSE(json.at("passed").get<bool>());
  EXPECT_TRUE(json.at("interrupted").get<bool>());
}

TEST(LoadReport, ChaosActionsAndBreakersAreListedInBothForms) {
  LoadResult r = sample_result();
  const BreakerReport breaker{
      .node = "127.0.0.1:8081",
      .state = BreakerState::kOpen,
      .counters = BreakerCounters{.opened = 2, .half_opened = 1, .closed = 1, .rejected = 7}};
  r.breakers.push_back(breaker);
  const std::vector<ChaosEvent> chaos = {{.at_s = 1.25,
                                          .action = "kill",
                                          .node_id = 1,
                                          .address = "127.0.0.1:8081",
                                          .detail = "SIGKILL leader pid 1234"},
                                         {.at_s = 1.75,
                                          .action = "restart",
                                          .node_id = 1,
                                          .address = "127.0.0.1:8081",
                                          .detail = "pid 5678 serving after 310 ms"}};
  const std::string text = human_summary(header(), r, chaos);
  EXPECT_TRUE(contains(text, "chaos: 2 actions")) << text;
  EXPECT_TRUE(contains(text, "t=   1.25s  kill            node 1 (127.0.0.1:8081)  SIGKILL"))
      << text;
  EXPECT_TRUE(contains(text,
                       "breaker     127.0.0.1:8081        open      opened 2  half-open 1"
                       "  closed 1  rejected 7"))
      << text;
  const Json json = json_summary(header(), r, chaos);
  ASSERT_EQ(json.at("chaos").size(), 2u);
  EXPECT_EQ(json["chaos"][1], (Json{{"at_s", 1.75},
                                    {"action", "restart"},
                                    {"node_id", 1},
                                    {"address", "127.0.0.1:8081"},
                                    {"detail", "pid 5678 serving after 310 ms"}}));
  ASSERT_EQ(json.at("breakers").size(), 1u);
  EXPECT_EQ(json["breakers"][0], (Json{{"node", "127.0.0.1:8081"},
                                       {"state", "open"},
                                       {"opened", 2},
                                       {"half_opened", 1},
                                       {"closed", 1},
                                       {"rejected", 7}}));
}

TEST(LoadReport, JsonSummaryCarriesEveryCountAndEveryKindEvenAtZero) {
  const Json json = json_summary(header(), sample_result(), {});
  EXPECT_EQ(json.at("command"), "storm");
  EXPECT_EQ(json.at("concurrency"), 4);
  EXPECT_DOUBLE_EQ(json.at("elapsed_s").get<double>(), 2.0);
  EXPECT_EQ(json.at("requests"), 10);
  EXPECT_EQ(json.at("succeeded"), 8);
  EXPECT_EQ(json.at("failed"), 2);
  EXPECT_EQ(json.at("attempts"), 13);
  EXPECT_EQ(json.at("retries"), 3);
  EXPECT_DOUBLE_EQ(json.at("success_pct").get<double>(), 80.0);
  EXPECT_DOUBLE_EQ(json.at("throughput_rps").get<double>(), 4.0);
  EXPECT_TRUE(json.at("passed").get<bool>());
  EXPECT_EQ(json.at("creates_unknown"), 1);
  // Scripts index these by name: every kind is there, also the ones that never happened.
  ASSERT_EQ(json.at("operations").size(), kOpKindCount);
  for (size_t k = 0; k < kOpKindCount; ++k) {
    EXPECT_TRUE(json["operations"].contains(to_string(static_cast<OpKind>(k)))) << k;
  }
  EXPECT_EQ(json["operations"]["create"]["succeeded"], 8);
  EXPECT_EQ(json["operations"]["delete"]["failed"], 0);
  ASSERT_EQ(json.at("failures").size(), kFailureKindCount);
  EXPECT_EQ(json["failures"]["unavailable"], 1);
  EXPECT_EQ(json["failures"]["not_found"], 0);
  EXPECT_EQ(json.at("answers"), (Json{{"transport_error", 1}, {"201", 8}, {"503", 3}, {"504", 1}}));
  EXPECT_TRUE(json.at("chaos").empty());
  EXPECT_TRUE(json.at("breakers").empty());
}

TEST(LoadReport, JsonLatencyIsInMillisecondsWithOrderedPercentiles) {
  const Json latency = json_summary(header(), sample_result(), {}).at("latency");
  EXPECT_EQ(latency.at("count"), 10);
  EXPECT_DOUBLE_EQ(latency.at("max_ms").get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(latency.at("mean_ms").get<double>(), 5.5);
  const double p50 = latency.at("p50_ms"), p90 = latency.at("p90_ms");
  const double p99 = latency.at("p99_ms"), p999 = latency.at("p999_ms");
  EXPECT_GT(p50, 4.0);  // the histogram's buckets are within a few percent
  EXPECT_LT(p50, 6.0);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p90, p99);
  EXPECT_LE(p99, p999);
  EXPECT_LE(p999, 10.0);
}

TEST(LoadReport, AnEmptyRunReportsFullSuccessAndZeroThroughput) {
  const LoadResult empty;
  const Json json = json_summary(header(100), empty, {});
  EXPECT_DOUBLE_EQ(json.at("success_pct").get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(json.at("throughput_rps").get<double>(), 0.0);
  EXPECT_TRUE(json.at("passed").get<bool>());
  EXPECT_EQ(json.at("latency").at("count"), 0);
  EXPECT_TRUE(contains(human_summary(header(100), empty, {}), "result      PASS")) << json;
}

// What draw_progress and clear_progress write to a FILE*.
std::string written_by(const std::function<void(std::FILE*)>& write) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  if (out == nullptr) return "<open_memstream failed>";
  write(out);
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(LoadProgressLine, RedrawsOneLineWithDoneOverTargetAndTheRate) {
  const LoadProgress p{
      .elapsed = 2000ms, .completed = 10, .succeeded = 9, .failed = 1, .retries = 2, .target = 100};
  EXPECT_EQ(written_by([&](std::FILE* out) { draw_progress(out, "storm", p); }),
            "\r\033[K[storm] 10/100  ok 9  failed 1  retries 2  5 req/s  2.0 s");
}

TEST(LoadProgressLine, ADurationRunHasNoTargetAndTheFirstDrawNoRate) {
  const LoadProgress p{
      .elapsed = 0ms, .completed = 0, .succeeded = 0, .failed = 0, .retries = 0, .target = 0};
  EXPECT_EQ(written_by([&](std::FILE* out) { draw_progress(out, "flood", p); }),
            "\r\033[K[flood] 0  ok 0  failed 0  retries 0  0 req/s  0.0 s");
}

TEST(LoadProgressLine, ClearingErasesTheLineInPlace) {
  EXPECT_EQ(written_by([](std::FILE* out) { clear_progress(out); }), "\r\033[K");
}

}  // namespace
}  // namespace bombarder
