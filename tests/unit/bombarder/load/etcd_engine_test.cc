// The load engine driving etcd's JSON gateway through the etcd adapter (client/etcd_adapter.h),
// against an in-process fake of the three KV calls the adapter makes, end to end through the
// history and the checker: a linearizable fake gives a linearizable history with the keys as
// ids; a fake that applies every write and drops the connection without answering gives "outcome
// unknown" writes, never failed ones.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "../../common/test_http_server.h"
#include "bombarder/client/etcd_adapter.h"
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

// etcd's KV as the gateway shows it, base64 keys to base64 values (one server thread, so
// linearizable). `silent_writes`: writes are applied, then never answered.
struct FakeEtcd {
  std::map<std::string, std::string> kv;
  bool silent_writes = false;

  static Json range_of(const std::map<std::string, std::string>& kv, const std::string& key) {
    Json r = {{"header", {{"revision", "1"}}}};
    if (auto it = kv.find(key); it != kv.end()) {
      r["kvs"] = Json::array({{{"key", key}, {"value", it->second}}});
      r["count"] = "1";
    }
    return r;
  }

  Json txn(const Json& body) {
    const Json& compare = body.at("compare")[0];
    const std::string key = compare.at("key");
    const bool exists = kv.count(key) > 0;
    const bool holds = compare.at("result") == "EQUAL" ? !exists : exists;
    Json r = {{"header", {{"revision", "1"}}}};
    if (holds) {
      kv[key] = body.at("success")[0].at("request_put").at("value");
      r["succeeded"] = true;
    } else if (body.contains("failure")) {
      r["responses"] = Json::array({{{"response_range", range_of(kv, key)}}});
    }
    return r;
  }

  std::optional<Response> handle(const Request& request) {
    const Json body = Json::parse(request.body());
    const std::string target(request.target());
    if (target == "/v3/kv/range") return json_response(http::status::ok, range_of(kv, body["key"]));
    Json answer;
    if (target == "/v3/kv/txn") {
      answer = txn(body);
    } else if (target == "/v3/kv/deleterange") {
      answer = {{"header", {{"revision", "1"}}}};
      if (kv.erase(body.at("key").get<std::string>()) > 0) answer["deleted"] = "1";
    } else {
      return json_response(http::status::not_found, nullptr);
    }
    if (silent_writes) return std::nullopt;
    return json_response(http::status::ok, answer);
  }
};

struct Recorded {
  LoadResult load;
  History history;
  CheckResult check;
};

Recorded run_against(FakeEtcd& etcd, uint64_t count, std::chrono::milliseconds deadline) {
  TestHttpServer server{[&etcd](const Request& r) { return etcd.handle(r); }};
  const auto path = std::filesystem::temp_directory_path() /
                    ("etcd_engine_test_" + std::to_string(::getpid()) + ".jsonl");
  Recorded out;
  {
    HistoryWriter writer(path);
    LoadSpec spec;
    spec.store = std::make_shared<EtcdAdapter>();
    spec.nodes = {server.endpoint()};
    spec.count = count;
    spec.concurrency = 6;
    spec.threads = 2;
    spec.mix = OpMix::mixed().with_lists(10);
    spec.key_prefix = "mixed-run1";
    spec.attempt_timeout = 100ms;
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

TEST(EtcdEngine, LinearizableEtcdGivesALinearizableHistoryKeyedByEtcdKeys) {
  FakeEtcd etcd;
  const Recorded r = run_against(etcd, 600, 5s);
  EXPECT_EQ(r.load.failed, 0u) << r.load.failure_examples[0];
  ASSERT_EQ(r.history.ops.size(), 600u);
  EXPECT_EQ(r.check.verdict, Verdict::kOk) << describe_check(r.history, r.check);
  size_t creates = 0;
  for (const HistoryOp& op : r.history.ops) {
    if (op.kind != OpKind::kCreate) continue;
    ++creates;
    EXPECT_EQ(op.id, op.key) << "etcd has no ids: the key is the id";
    EXPECT_EQ(etcd.kv.count(base64_encode(op.key)) + r.load.acked.at(op.id).deleted, 1u) << op.key;
  }
  EXPECT_GT(creates, 100u);
}

TEST(EtcdEngine, WritesWhoseAnswerNeverCameAreUnknownNotFailed) {
  FakeEtcd etcd;
  etcd.silent_writes = true;
  const Recorded r = run_against(etcd, 6, 300ms);
  ASSERT_EQ(r.history.ops.size(), 6u);
  for (const HistoryOp& op : r.history.ops) {
    EXPECT_EQ(op.kind, OpKind::kCreate);
    EXPECT_EQ(op.outcome, Outcome::kUnknown);
    EXPECT_NE(op.error.find("timed out"), std::string::npos) << op.error;
  }
  EXPECT_EQ(r.load.failures[static_cast<size_t>(FailureKind::kOutcomeUnknown)], 6u);
  EXPECT_EQ(etcd.kv.size(), 6u) << "each create was applied by its first attempt";
}

}  // namespace
}  // namespace bombarder
