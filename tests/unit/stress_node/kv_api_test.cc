#include "kv_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <thread>
#include <tuple>

#include "../common/test_http.h"
#include "raft_api.h"

namespace stress_node {
namespace {

namespace test = common::test;

namespace asio = boost::asio;
using json = nlohmann::json;
using test::wait_until;

// ---------------------------------------------------------------------------------------------
// Pure helpers

TEST(KvApiParseTest, CreateBodyNeedsKeyAndValueStrings) {
  std::string error;
  auto ok = parse_create_body(R"({"key":"k","value":"v","extra":1})", &error);
  ASSERT_TRUE(ok) << error;
  EXPECT_EQ(ok->key, "k");
  EXPECT_EQ(ok->value, "v");

  const std::pair<const char*, const char*> bad[] = {
      {"", "empty body"},
      {"{", "malformed JSON"},
      {"[1]", "must be a JSON object, not array"},
      {R"({"value":"v"})", "missing field \"key\""},
      {R"({"key":"k"})", "missing field \"value\""},
      {R"({"key":1,"value":"v"})", "\"key\" must be a string, not number"},
      {R"({"key":"k","value":null})", "\"value\" must be a string, not null"},
  };
  for (const auto& [body, expected] : bad) {
    error.clear();
    EXPECT_FALSE(parse_create_body(body, &error)) << body;
    EXPECT_NE(error.find(expected), std::string::npos) << body << " -> " << error;
  }
}

TEST(KvApiParseTest, CreateBodyEnforcesTheKeyBound) {
  std::string error;
  const json body = {{"key", std::string(kv::kKeyBytesMax + 1, 'k')}, {"value", "v"}};
  EXPECT_FALSE(parse_create_body(body.dump(), &error));
  EXPECT_NE(error.find("at most 4096"), std::string::npos) << error;
}

TEST(KvApiParseTest, UpdateBodyNeedsValueAndMayMoveKey) {
  std::string error;
  auto plain = parse_update_body(R"({"value":"v2"})", &error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(plain->value, "v2");
  EXPECT_FALSE(plain->key);
  auto moved = parse_update_body(R"({"value":"v2","key":"k2"})", &error);
  ASSERT_TRUE(moved) << error;
  EXPECT_EQ(moved->key, "k2");
  EXPECT_FALSE(parse_update_body(R"({"key":"k2"})", &error));
  EXPECT_FALSE(parse_update_body(R"({"value":"v","key":5})", &error));
  EXPECT_NE(error.find("\"key\" must be a string"), std::string::npos) << error;
}

TEST(KvApiParseTest, IdsAreCanonicalizedToLowercase) {
  EXPECT_EQ(normalize_id("0F8FAD5B-D9CB-469F-A165-70867728950E"),
            "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(normalize_id("0f8fad5b-d9cb-469f-a165-70867728950e"),
            "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_FALSE(normalize_id("not-a-uuid"));
  EXPECT_FALSE(normalize_id("0f8fad5bd9cb469fa16570867728950e"));
  EXPECT_FALSE(normalize_id("0f8fad5b-d9cb-469f-a165-70867728950g"));
}

TEST(KvApiParseTest, GeneratedUuidsAreVersion4CanonicalAndDistinct) {
  std::mt19937_64 rng(7);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_uuid_v4(rng);
    ASSERT_TRUE(kv::is_canonical_uuid(id)) << id;
    ASSERT_EQ(id[14], '4') << id;
    ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(KvApiParseTest, TimestampsAreRfc3339UtcWithMicroseconds) {
  EXPECT_EQ(format_rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339_us(1'795'319'701'123'456), "2026-11-22T03:55:01.123456Z");
  EXPECT_EQ(format_rfc3339_us(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(KvApiParseTest, EntryJsonHasTheReferenceFieldsInOrder) {
  const kv::KvEntry entry{"0f8fad5b-d9cb-469f-a165-70867728950e", "k", "v", 12, 2, 0};
  EXPECT_EQ(entry_to_json(entry).dump(),
            R"({"id":"0f8fad5b-d9cb-469f-a165-70867728950e","key":"k","value":"v","seq":12,)"
            R"("source_node":2,"created_at":"1970-01-01T00:00:00.000000Z"})");
}

Request with_query(std::map<std::string, std::string> query) {
  Request request;
  request.query = std::move(query);
  return request;
}

TEST(KvApiParseTest, ListQueryDefaultsAndBounds) {
  std::string error;
  auto defaults = parse_list_query(with_query({}), &error);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->limit, 100u);
  EXPECT_EQ(defaults->after, "");
  EXPECT_FALSE(defaults->key);
  auto full = parse_list_query(
      with_query(
          {{"limit", "10000"}, {"after", "0F8FAD5B-D9CB-469F-A165-70867728950E"}, {"key", "k"}}),
      &error);
  ASSERT_TRUE(full) << error;
  EXPECT_EQ(full->limit, 10000u);
  EXPECT_EQ(full->after, "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(full->key, "k");
  for (const char* limit : {"0", "10001", "-1", "ten", "5x", ""}) {
    EXPECT_FALSE(parse_list_query(with_query({{"limit", limit}}), &error)) << limit;
  }
  EXPECT_FALSE(parse_list_query(with_query({{"after", "nope"}}), &error));
}

TEST(KvApiParseTest, ConsistencyIsLocalOrLinearizable) {
  std::string error;
  EXPECT_EQ(parse_local_read(with_query({}), &error), false);
  EXPECT_EQ(parse_local_read(with_query({{"consistency", "local"}}), &error), true);
  EXPECT_EQ(parse_local_read(with_query({{"consistency", "linearizable"}}), &error), false);
  EXPECT_FALSE(parse_local_read(with_query({{"consistency", "eventual"}}), &error));
}

// ---------------------------------------------------------------------------------------------
// A real single-member node behind the real server: the API end to end, without peers.

class NullSender : public PeerSender {
 public:
  void send(std::vector<raft::Message>&&) override {}
};

std::filesystem::path make_temp_dir() {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(root != nullptr ? root : "/tmp") + "/kv_api_test.XXXXXX";
  const char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  return made;
}

class SingleNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    auto store = kv::Store::open(dir_, {});
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    RaftNodeConfig config;
    config.id = 0;
    config.voters = {0};
    config.tick_ms = 5;  // elects itself within ~100 ms
    node_ = std::make_unique<RaftNode>(config, std::move(store).value(), sender_);
    pool_ = std::make_unique<common::HttpClientPool>(io_);
    const std::map<raft::NodeId, common::Endpoint> members = {{0, {"127.0.0.1", 1}}};
    kv_api_ = std::make_unique<KvApi>(io_, *node_, *pool_, metrics_, KvApiOptions{0, members});
    raft_api_ = std::make_unique<RaftApi>(io_, *node_, nullptr, metrics_,
                                          RaftApiOptions{.self_id = 0, .members = members});
    kv_api_->register_routes(router_);
    raft_api_->register_routes(router_);
    server_ = std::make_unique<HttpServer>(io_, router_, HttpServerOptions{});
    ASSERT_FALSE(server_->listen());
    server_->start();
    node_->start();
    thread_ = std::thread([this] { io_.run(); });
    ASSERT_TRUE(wait_until([&] { return node_->status().core.soft.role == raft::Role::kLeader; }));
  }

  void TearDown() override {
    if (node_) node_->stop(std::chrono::milliseconds(0));
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
    }
    server_.reset();
    raft_api_.reset();
    kv_api_.reset();
    pool_.reset();
    node_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  http::response<http::string_body> call(http::verb method, const std::string& target,
                                         std::string body = "",
                                         std::map<std::string, std::string> headers = {}) {
    test::Client client(server_->port());
    http::request<http::string_body> request{method, target, 11};
    request.body() = std::move(body);
    for (const auto& [name, value] : headers) request.set(name, value);
    return client.send(std::move(request));
  }

  static json parse(const http::response<http::string_body>& response) {
    return json::parse(response.body());
  }

  std::filesystem::path dir_;
  asio::io_context io_;
  Registry metrics_;
  Router router_;
  NullSender sender_;
  std::unique_ptr<RaftNode> node_;
  std::unique_ptr<common::HttpClientPool> pool_;
  std::unique_ptr<KvApi> kv_api_;
  std::unique_ptr<RaftApi> raft_api_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::mt19937_64 rng_{13};  // ids for writes proposed directly
};

// A write the node refuses because it is stopping was never proposed: 503 (retry elsewhere),
// not the 504 "outcome unknown" of a write that was in the log when the node stopped.
TEST_F(SingleNodeTest, AWriteArrivingAfterStopIsRefusedWith503NotUnknown) {
  node_->stop(std::chrono::milliseconds(0));
  const auto refused = call(http::verb::post, "/api/kv", R"({"key":"k","value":"v"})");
  EXPECT_EQ(refused.result_int(), 503) << refused.body();
  EXPECT_EQ(parse(refused)["error"], "shutting_down");
  EXPECT_EQ(refused["Retry-After"], "1");
  const auto read = call(http::verb::get, "/api/kv");
  EXPECT_EQ(read.result_int(), 503) << read.body();
}

TEST_F(SingleNodeTest, CreateReadUpdateDeleteRoundTrip) {
  auto created = call(http::verb::post, "/api/kv", R"({"key":"k1","value":"hello"})");
  ASSERT_EQ(created.result_int(), 201) << created.body();
  const json entry = parse(created);
  const std::string id = entry["id"];
  EXPECT_TRUE(kv::is_canonical_uuid(id));
  EXPECT_EQ(entry["key"], "k1");
  EXPECT_EQ(entry["value"], "hello");
  EXPECT_EQ(entry["source_node"], 0);
  EXPECT_GT(entry["seq"].get<uint64_t>(), 0u);
  EXPECT_TRUE(entry["created_at"].get<std::string>().ends_with("Z"));

  EXPECT_EQ(parse(call(http::verb::get, "/api/kv/" + id)), entry);
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv/" + id + "?consistency=local")), entry);
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv?key=k1")), json::array({entry}));

  auto updated = call(http::verb::put, "/api/kv/" + id, R"({"value":"bye","key":"k2"})");
  ASSERT_EQ(updated.result_int(), 200) << updated.body();
  EXPECT_EQ(parse(updated)["value"], "bye");
  EXPECT_EQ(parse(updated)["key"], "k2");
  EXPECT_EQ(parse(updated)["seq"], entry["seq"]);

  EXPECT_EQ(call(http::verb::delete_, "/api/kv/" + id).result_int(), 204);
  auto gone = call(http::verb::get, "/api/kv/" + id);
  EXPECT_EQ(gone.result_int(), 404);
  EXPECT_EQ(parse(gone)["error"], "not_found");
  EXPECT_EQ(call(http::verb::delete_, "/api/kv/" + id).result_int(), 404);
}

TEST_F(SingleNodeTest, IdempotencyKeyReplaysTheOriginalAnswer) {
  const std::map<std::string, std::string> headers = {{"Idempotency-Key", "retry-1"}};
  auto first = call(http::verb::post, "/api/kv", R"({"key":"k","value":"v"})", headers);
  auto again = call(http::verb::post, "/api/kv", R"({"key":"k","value":"v"})", headers);
  ASSERT_EQ(first.result_int(), 201);
  ASSERT_EQ(again.result_int(), 201);
  EXPECT_EQ(parse(first), parse(again));
  EXPECT_EQ(again["Idempotent-Replayed"], "true");
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv")).size(), 1u);

  const std::map<std::string, std::string> long_key = {
      {"Idempotency-Key", std::string(kv::kIdempotencyKeyBytesMax + 1, 'i')}};
  EXPECT_EQ(call(http::verb::post, "/api/kv", R"({"key":"k","value":"v"})", long_key).result_int(),
            400);
}

// Issue 13: the state machine compares request fingerprints, so every reuse of a key for another
// request is 422, including after a 404 (which carries no entry to compare with: the old
// API-layer check answered any update or delete there with the replayed 404).
TEST_F(SingleNodeTest, KeyReusedForADifferentRequestIs422EvenAfterA404) {
  const std::string absent = "0f8fad5b-d9cb-469f-a165-70867728950e";
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "once"}};
  auto first = call(http::verb::delete_, "/api/kv/" + absent, "", key);
  ASSERT_EQ(first.result_int(), 404) << first.body();
  auto same = call(http::verb::delete_, "/api/kv/" + absent, "", key);
  EXPECT_EQ(same.result_int(), 404);
  EXPECT_EQ(same.body(), first.body());
  EXPECT_EQ(same["Idempotent-Replayed"], "true");

  auto created = call(http::verb::post, "/api/kv", R"({"key":"k","value":"v"})");
  ASSERT_EQ(created.result_int(), 201);
  const std::string id = parse(created)["id"];
  const std::vector<std::tuple<http::verb, std::string, std::string>> others = {
      {http::verb::put, "/api/kv/" + absent, R"({"value":"v"})"},  // same id, other operation
      {http::verb::delete_, "/api/kv/" + id, ""},                  // same operation, other id
      {http::verb::post, "/api/kv", R"({"key":"k","value":"v"})"},
  };
  for (const auto& [method, target, body] : others) {
    auto reused = call(method, target, body, key);
    EXPECT_EQ(reused.result_int(), 422) << target << " " << reused.body();
    EXPECT_EQ(parse(reused)["error"], "idempotency_key_reused") << reused.body();
    EXPECT_TRUE(parse(reused).contains("message"));
  }
  EXPECT_EQ(call(http::verb::get, "/api/kv/" + id).result_int(), 200) << "nothing was deleted";
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv")).size(), 1u) << "nothing was created";

  // A retried PUT replays its first answer (status and body) even after a later change.
  const std::map<std::string, std::string> put_key = {{"Idempotency-Key", "put-1"}};
  auto put = call(http::verb::put, "/api/kv/" + id, R"({"value":"v2"})", put_key);
  ASSERT_EQ(put.result_int(), 200);
  ASSERT_EQ(call(http::verb::put, "/api/kv/" + id, R"({"value":"v3"})").result_int(), 200);
  auto put_again = call(http::verb::put, "/api/kv/" + id, R"({"value":"v2"})", put_key);
  EXPECT_EQ(put_again.result_int(), 200);
  EXPECT_EQ(put_again.body(), put.body());
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv/" + id))["value"], "v3") << "not applied twice";

  const std::string metrics = call(http::verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("\nkv_idempotency_keys 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kv_idempotency_evictions_total{reason=\"ttl\"} 0"), std::string::npos);
  EXPECT_NE(metrics.find("kv_idempotency_evictions_total{reason=\"bytes\"} 0"), std::string::npos);
}

TEST_F(SingleNodeTest, BadInputGetsTheDocumentedCodes) {
  const auto code = [&](http::verb method, const std::string& target, std::string body = "") {
    auto response = call(method, target, std::move(body));
    const json error = parse(response);
    EXPECT_TRUE(error.contains("error") && error.contains("message")) << response.body();
    return std::make_pair(response.result_int(), error.value("error", ""));
  };
  using R = std::pair<unsigned, std::string>;
  EXPECT_EQ(code(http::verb::post, "/api/kv", "{oops"), (R{400, "bad_request"}));
  EXPECT_EQ(code(http::verb::post, "/api/kv", R"({"key":true,"value":"v"})"),
            (R{400, "bad_request"}));
  EXPECT_EQ(code(http::verb::get, "/api/kv/xyz"), (R{400, "invalid_id"}));
  EXPECT_EQ(code(http::verb::put, "/api/kv/xyz", R"({"value":"v"})"), (R{400, "invalid_id"}));
  EXPECT_EQ(code(http::verb::delete_, "/api/kv/xyz"), (R{400, "invalid_id"}));
  EXPECT_EQ(
      code(http::verb::put, "/api/kv/0f8fad5b-d9cb-469f-a165-70867728950e", R"({"value":"v"})"),
      (R{404, "not_found"}));
  EXPECT_EQ(code(http::verb::get, "/api/kv?limit=0"), (R{400, "bad_request"}));
  EXPECT_EQ(code(http::verb::get, "/api/kv?consistency=maybe"), (R{400, "bad_request"}));
  EXPECT_EQ(code(http::verb::patch, "/api/kv"), (R{405, "method_not_allowed"}));
  EXPECT_EQ(code(http::verb::get, "/api/nothing"), (R{404, "not_found"}));
  // Issue 14: a peer frame that does not name its parties is refused before it is decoded.
  EXPECT_EQ(code(http::verb::post, "/_raft/append", "garbage"), (R{403, "missing_parties"}));
  EXPECT_EQ(call(http::verb::get, "/_raft/sync-status").result_int(), 200) << "a single node leads";
  // Still serving after all of that.
  EXPECT_EQ(call(http::verb::get, "/status").result_int(), 200);
}

TEST_F(SingleNodeTest, ListPagesInIdOrder) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        call(http::verb::post, "/api/kv", json({{"key", "k"}, {"value", std::to_string(i)}}).dump())
            .result_int(),
        201);
  }
  auto first = call(http::verb::get, "/api/kv?limit=3");
  EXPECT_EQ(first["X-Total-Count"], "5");
  const json page1 = parse(first);
  ASSERT_EQ(page1.size(), 3u);
  const json page2 =
      parse(call(http::verb::get, "/api/kv?limit=3&after=" + page1[2]["id"].get<std::string>()));
  ASSERT_EQ(page2.size(), 2u);
  EXPECT_LT(page1[2]["id"], page2[0]["id"]);
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv?key=k&limit=10")).size(), 5u);
  EXPECT_EQ(parse(call(http::verb::get, "/api/kv?key=other")).size(), 0u);
}

// Bug 4 of issue 13: paging by key fetched the first 10,000 ids of the key and filtered them by
// `after`, so a key with more entries ended after 10,000. Writes go straight to the node (many in
// flight, group-committed) to keep the test fast; paging goes through HTTP.
TEST_F(SingleNodeTest, PagingByKeyReachesEveryEntryPastTenThousand) {
  constexpr size_t n = 10'050;
  std::atomic<size_t> done{0};
  std::atomic<size_t> failed{0};
  for (size_t i = 0; i < n; ++i) {
    kv::Command command;
    command.op = kv::CreateCommand{new_uuid_v4(rng_), "many", "v", 0, 0};
    node_->propose(std::move(command), [&](WriteOutcome outcome) {
      if (outcome.outcome != Outcome::kOk) failed.fetch_add(1);
      done.fetch_add(1);
    });
  }
  ASSERT_TRUE(wait_until([&] { return done.load() == n; }, std::chrono::seconds(60)));
  ASSERT_EQ(failed.load(), 0u);
  ASSERT_EQ(call(http::verb::post, "/api/kv", R"({"key":"other","value":"v"})").result_int(), 201);

  std::vector<std::string> ids;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const std::string target =
        "/api/kv?key=many&limit=3000" + (after.empty() ? "" : "&after=" + after);
    const json entries = parse(call(http::verb::get, target));
    if (entries.empty()) break;
    for (const json& e : entries) {
      ASSERT_EQ(e["key"], "many");
      ids.push_back(e["id"]);
    }
    after = ids.back();
  }
  EXPECT_EQ(ids.size(), n);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), n);
}

TEST_F(SingleNodeTest, StatusHealthAndMetricsDescribeTheNode) {
  ASSERT_EQ(call(http::verb::post, "/api/kv", R"({"key":"k","value":"v"})").result_int(), 201);
  // The state hash is computed off the request path; null until its first scan is done.
  json status;
  ASSERT_TRUE(wait_until([&] {
    status = parse(call(http::verb::get, "/status"));
    return !status["state_hash"].is_null();
  }));
  EXPECT_EQ(status["node_id"], 0);
  EXPECT_EQ(status["role"], "leader");
  EXPECT_EQ(status["leader_id"], 0);
  EXPECT_EQ(status["entry_count"], 1);
  EXPECT_EQ(status["state_hash"].get<std::string>().size(), 16u);
  EXPECT_GE(status["applied_index"].get<uint64_t>(), 2u);
  for (const char* field :
       {"address", "term", "leader", "commit_index", "last_index", "uptime_s", "version"}) {
    EXPECT_TRUE(status.contains(field)) << field;
  }
  const json health = parse(call(http::verb::get, "/_raft/health"));
  EXPECT_EQ(health["role"], "leader");
  auto metrics = call(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  EXPECT_TRUE(metrics[http::field::content_type].starts_with("text/plain; version=0.0.4"));
  EXPECT_NE(metrics.body().find("\nraft_role 3\n"), std::string::npos);
  EXPECT_NE(metrics.body().find("raft_append_latency_seconds_count 1"), std::string::npos);
}

}  // namespace
}  // namespace stress_node
