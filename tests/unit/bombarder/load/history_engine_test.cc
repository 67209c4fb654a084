// The load engine's --history recording against an in-process fake of the KV API, end to end
// through the checker: a correct server gives a linearizable history; a server that serves stale
// or lost entries gives a violation; writes that only get 504 are recorded as unknown.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "../../common/test_http_server.h"
#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"
#include "bombarder/load/load_engine.h"

namespace bombarder {
namespace {

using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
using Json = nlohmann::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

// A linearizable KV (one server thread), with faults: reads served from the entry's first value
// (a replica that never applied the updates), reads answering 404 (a lost entry), writes that
// only get 504 without being applied.
struct Kv {
  bool stale_reads = false;
  bool lost_reads = false;
  bool always_504 = false;
  // A key lookup that misses one entry in two (an index that lost an update).
  bool lists_miss = false;
  std::map<std::string, std::pair<std::string, std::string>> entries;  // id -> (first, current)
  std::map<std::string, std::string> key_of;                           // id -> key
  size_t next_id = 0;
  size_t lists = 0;

  // GET /api/kv?key=K&limit=N: the entries of key K in id order.
  Response list(const std::string& target) {
    const size_t at = target.find("key=");
    const std::string key = target.substr(at + 4, target.find('&', at) - at - 4);
    Json out = Json::array();
    for (const auto& [id, k] : key_of) {
      const auto entry = entries.find(id);
      if (k != key || entry == entries.end()) continue;
      if (lists_miss && ++lists % 2 == 0) continue;
      out.push_back({{"id", id}, {"key", k}, {"value", entry->second.second}});
    }
    return json_response(http::status::ok, out);
  }

  std::optional<Response> handle(const Request& request) {
    const std::string target(request.target());
    if (always_504 && request.method() != http::verb::get) {
      return json_response(http::status::gateway_timeout, {{"error", "commit_timeout"}});
    }
    if (request.method() == http::verb::post) {
      const Json body = Json::parse(request.body());
      char id[40];
      std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zx", ++next_id);
      entries[id] = {body.at("value"), body.at("value")};
      key_of[id] = body.at("key");
      return json_response(http::status::created, {{"id", id}, {"value", body.at("value")}});
    }
    if (target.rfind("/api/kv?", 0) == 0) return list(target);
    const std::string id = target.substr(8);
    auto it = entries.find(id);
    if (it == entries.end() || (lost_reads && request.method() == http::verb::get)) {
      return json_response(http::status::not_found, {{"error", "not_found"}});
    }
    switch (request.method()) {
      case http::verb::get:
        return json_response(
            http::status::ok,
            {{"id", id}, {"value", stale_reads ? it->second.first : it->second.second}});
      case http::verb::put:
        it->second.second = Json::parse(request.body()).at("value");
        return json_response(http::status::ok, {{"id", id}});
      case http::verb::delete_:
        entries.erase(it);
        return json_response(http::status::no_content, nullptr);
      default: return json_response(http::status::method_not_allowed, {{"error", "x"}});
    }
  }
};

struct Recorded {
  LoadResult load;
  History history;
  CheckResult check;
};

Recorded run_recorded(Kv& kv, uint64_t count, std::chrono::milliseconds deadline = 5s) {
  TestHttpServer server{[&kv](const Request& r) { return kv.handle(r); }};
  const auto path = std::filesystem::temp_directory_path() /
                    ("history_engine_test_" + std::to_string(::getpid()) + ".jsonl");
  Recorded out;
  {
    HistoryWriter writer(path);
    LoadSpec spec;
    spec.nodes = {server.endpoint()};
    spec.count = count;
    spec.concurrency = 6;
    spec.threads = 2;
    spec.mix = OpMix::mixed().with_lists(10);
    spec.idempotency_prefix = "test-";
    spec.attempt_timeout = 2s;
    spec.deadline = deadline;
    spec.history = &writer;
    out.load = run_load(spec);
    writer.close();
  }
  out.history = read_history(path);
  std::filesystem::remove(path);
  out.check = check_history(out.history);
  return out;
}

TEST(HistoryEngine, CorrectServerGivesALinearizableHistory) {
  Kv kv;
  const Recorded r = run_recorded(kv, 600);
  ASSERT_EQ(r.history.ops.size(), 600u);
  EXPECT_EQ(r.check.verdict, Verdict::kOk) << describe_check(r.history, r.check);
  std::array<size_t, kOpKindCount> kinds{};
  for (const HistoryOp& op : r.history.ops) {
    EXPECT_LT(op.client, 6u);
    EXPECT_LE(op.invoke_ns, op.complete_ns);
    EXPECT_GE(op.invoke_ns, 0);
    EXPECT_EQ(op.outcome, Outcome::kOk);
    if (op.kind == OpKind::kList) {
      EXPECT_TRUE(op.id.empty());  // a list is about no one id
      EXPECT_EQ(op.listed.size(), 1u) << "key " << op.key;
      EXPECT_EQ(op.limit, kListLimit);
    } else {
      EXPECT_FALSE(op.id.empty());
    }
    ++kinds[static_cast<size_t>(op.kind)];
  }
  for (size_t k = 0; k < kOpKindCount; ++k) EXPECT_GT(kinds[k], 0u) << k;
  // One worker runs one operation at a time: its operations do not overlap.
  std::map<uint64_t, std::vector<std::pair<int64_t, int64_t>>> by_client;
  for (const HistoryOp& op : r.history.ops) {
    by_client[op.client].emplace_back(op.invoke_ns, op.complete_ns);
  }
  for (auto& [client, spans] : by_client) {
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].second, spans[i].first);
  }
}

TEST(HistoryEngine, StaleReadsAreAViolation) {
  Kv kv;
  kv.stale_reads = true;
  const Recorded r = run_recorded(kv, 600);
  EXPECT_EQ(r.check.verdict, Verdict::kViolation) << describe_check(r.history, r.check);
}

TEST(HistoryEngine, LostEntriesAreAViolation) {
  Kv kv;
  kv.lost_reads = true;
  const Recorded r = run_recorded(kv, 300);
  EXPECT_EQ(r.check.verdict, Verdict::kViolation) << describe_check(r.history, r.check);
  size_t absent = 0;
  for (const HistoryOp& op : r.history.ops) absent += op.read_absent ? 1 : 0;
  EXPECT_GT(absent, 0u);
}

TEST(HistoryEngine, KeyLookupsThatMissEntriesAreAViolation) {
  Kv kv;
  kv.lists_miss = true;
  const Recorded r = run_recorded(kv, 600);
  EXPECT_EQ(r.check.verdict, Verdict::kViolation) << describe_check(r.history, r.check);
  // The engine saw it too: lists that did not return their id.
  EXPECT_GT(r.load.ops[static_cast<size_t>(OpKind::kList)].failed, 0u);
  const std::string text = describe_check(r.history, r.check);
  EXPECT_NE(text.find("this id not listed"), std::string::npos) << text;
}

TEST(HistoryEngine, WritesThatOnlyGet504AreUnknown) {
  Kv kv;
  kv.always_504 = true;
  const Recorded r = run_recorded(kv, 6, 200ms);
  ASSERT_EQ(r.history.ops.size(), 6u);
  for (const HistoryOp& op : r.history.ops) {
    EXPECT_EQ(op.kind, OpKind::kCreate);
    EXPECT_EQ(op.outcome, Outcome::kUnknown);
    EXPECT_TRUE(op.id.empty());
    EXPECT_EQ(op.status, 504);
    EXPECT_GT(op.attempts, 1u);
    EXPECT_NE(op.error.find("504"), std::string::npos) << op.error;
  }
  EXPECT_EQ(r.check.verdict, Verdict::kOk);
  EXPECT_EQ(r.check.ops_checked, 0u);
}

}  // namespace
}  // namespace bombarder
