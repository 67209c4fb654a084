// cluster/verify.h: `bombarder verify` against fake replicas on loopback that serve /status and
// their local entries (paged two at a time, so the paging is exercised). What passes: settled
// replicas with one state hash and entry count, identical entries (--deep), every acknowledged
// write of a run in place. What fails, and what the text and the JSON say about it.
#include "bombarder/cluster/verify.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "../../common/test_http_server.h"
#include "base/temp_data_root.h"

namespace bombarder {
namespace {

namespace http = boost::beast::http;
using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
using Json = nlohmann::json;
using namespace std::chrono_literals;

// One replica: /status with its indexes and hash; GET /api/kv?consistency=local&limit=N
// [&after=ID] with its entries in id order, at most two per page.
class FakeReplica {
 public:
  explicit FakeReplica(uint64_t id) : id_(id) {}

  void set_entries(std::map<std::string, std::string> entries) {
    std::lock_guard lock(mutex_);
    entries_ = std::move(entries);
  }
  void set_applied(uint64_t applied) {
    std::lock_guard lock(mutex_);
    applied_ = applied;
  }
  void set_hash(std::string hash) {
    std::lock_guard lock(mutex_);
    hash_ = std::move(hash);
  }
  void fail_listing() { fail_listing_ = true; }
  [[nodiscard]] common::Endpoint endpoint() const { return server_.endpoint(); }
  [[nodiscard]] std::string address() const { return endpoint().to_string(); }

 private:
  std::optional<Response> handle(const Request& r) {
    std::lock_guard lock(mutex_);
    const std::string target(r.target());
    if (target == "/status") {
      return json_response(http::status::ok, {{"node_id", id_},
                                              {"role", id_ == 0 ? "leader" : "follower"},
                                              {"term", 2},
                                              {"commit_index", applied_},
                                              {"applied_index", applied_},
                                              {"state_hash_index", applied_},
                                              {"entry_count", entries_.size()},
                                              {"state_hash", hash_}});
    }
    if (!target.starts_with("/api/kv?consistency=local&limit=")) {
      return json_response(http::status::not_found, {{"error", "not_found"}});
    }
    if (fail_listing_) {
      return json_response(http::status::internal_server_error,
                           {{"error", "internal"}, {"message", "disk on fire"}});
    }
    const size_t after_at = target.find("&after=");
    auto it = after_at == std::string::npos ? entries_.begin()
                                            : entries_.upper_bound(target.substr(after_at + 7));
    Json page = Json::array();
    for (; it != entries_.end() && page.size() < 2; ++it) {
      page.push_back({{"id", it->first}, {"key", "k-" + it->first}, {"value", it->second}});
    }
    return json_response(http::status::ok, page);
  }

  const uint64_t id_;
  std::mutex mutex_;
  std::map<std::string, std::string> entries_;
  uint64_t applied_ = 10;
  std::string hash_ = "h-1";
  std::atomic<bool> fail_listing_{false};
  TestHttpServer server_{[this](const Request& r) { return handle(r); }};
};

const std::map<std::string, std::string> kEntries = {
    {"id-1", "v1"}, {"id-2", "v2"}, {"id-3", "v3"}, {"id-4", "v4"}, {"id-5", "v5"}};

class VerifyTest : public test::TempDataRootTest {
 protected:
  void SetUp() override {
    test::TempDataRootTest::SetUp();
    for (FakeReplica* r : {&a_, &b_, &c_}) r->set_entries(kEntries);
  }

  VerifyOptions options() const {
    VerifyOptions o;
    o.nodes = {a_.endpoint(), b_.endpoint(), c_.endpoint()};
    o.timeout = 300ms;
    return o;
  }

  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  FakeReplica a_{0}, b_{1}, c_{2};
};

TEST_F(VerifyTest, SettledIdenticalReplicasPass) {
  VerifyOptions o = options();
  o.deep = true;
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_TRUE(out.passed) << out.text;
  EXPECT_TRUE(out.report.at("converged").get<bool>());
  EXPECT_TRUE(out.report.at("hashes_match").get<bool>());
  EXPECT_EQ(out.report.at("deep").at("differences"), 0);
  EXPECT_EQ(out.report.at("nodes").size(), 3u);
  EXPECT_TRUE(contains(out.text, "state hashes and entry counts: identical on every reachable"))
      << out.text;
  EXPECT_TRUE(contains(out.text, "deep comparison: every entry identical on every node"));
  EXPECT_TRUE(out.text.ends_with("verify: PASS\n")) << out.text;
}

TEST_F(VerifyTest, ADifferentStateHashFails) {
  c_.set_hash("h-other");
  const VerifyOutcome out = verify_cluster(options());
  EXPECT_FALSE(out.passed);
  EXPECT_FALSE(out.report.at("hashes_match").get<bool>());
  EXPECT_TRUE(contains(out.text, "DIFFERS")) << out.text;
  EXPECT_TRUE(contains(out.text, "state hashes and entry counts: DIFFER\n")) << out.text;
  EXPECT_TRUE(out.text.ends_with("verify: FAIL\n")) << out.text;
}

TEST_F(VerifyTest, ReplicasThatNeverSettleFailAfterTheTimeoutWithTheReason) {
  b_.set_applied(7);
  const auto started = std::chrono::steady_clock::now();
  const VerifyOutcome out = verify_cluster(options());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_FALSE(out.passed);
  EXPECT_FALSE(out.report.at("converged").get<bool>());
  EXPECT_EQ(out.report.at("not_converged_because"), "applied indexes differ (7 .. 10)");
  EXPECT_TRUE(contains(out.text, "not converged after 0.3 s: applied indexes differ (7 .. 10)"))
      << out.text;
}

TEST_F(VerifyTest, AnUnreachableReplicaFailsTheCheck) {
  VerifyOptions o = options();
  o.nodes.push_back({"127.0.0.1", common::test::unused_port()});
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.report.at("unreachable"), 1);
  EXPECT_TRUE(contains(out.text, "1 node(s) unreachable")) << out.text;
  // The node table's row: the address (padded to its column), then why.
  const size_t row = out.text.find(o.nodes.back().to_string());
  ASSERT_NE(row, std::string::npos) << out.text;
  EXPECT_TRUE(out.text.substr(row).find(" unreachable: no answer") <
              out.text.substr(row).find('\n'))
      << out.text;
}

TEST_F(VerifyTest, NoReplicaAnsweringIsAnErrorNotAVerdict) {
  VerifyOptions o;
  o.nodes = {{"127.0.0.1", common::test::unused_port()}};
  o.timeout = 200ms;
  try {
    (void)verify_cluster(o);
    FAIL() << "verify without any node must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("no node answers /status (")) << e.what();
    EXPECT_TRUE(std::string(e.what()).ends_with("is a cluster running?")) << e.what();
  }
}

TEST_F(VerifyTest, DeepComparisonNamesEntriesMissingOrDifferentOnAReplica) {
  std::map<std::string, std::string> other = kEntries;
  other.erase("id-4");
  other["id-2"] = "changed";
  other["id-9"] = "extra";
  c_.set_entries(other);
  VerifyOptions o = options();
  o.deep = true;
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.report.at("deep").at("differences"), 3);
  EXPECT_TRUE(contains(out.text, "deep comparison: 3 differences")) << out.text;
  EXPECT_TRUE(contains(out.text, "id-4: on " + a_.address() + ", not on " + c_.address()))
      << out.text;
  EXPECT_TRUE(contains(out.text, "id-9: on " + c_.address() + ", not on " + a_.address()))
      << out.text;
  EXPECT_TRUE(contains(out.text, "\"value\":\"changed\"")) << out.text;
}

TEST_F(VerifyTest, AReplicaWhoseEntriesCannotBeListedFailsTheCheck) {
  b_.fail_listing();
  VerifyOptions o = options();
  o.deep = true;
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_FALSE(out.passed);
  ASSERT_TRUE(out.report.contains("fetch_errors")) << out.report.dump();
  EXPECT_TRUE(contains(out.text, "cannot list the entries of " + b_.address() +
                                     ": GET /api/kv?consistency=local&limit=10000: 500"))
      << out.text;
}

RunRecord run_with(std::map<std::string, AckedWrite> acked) {
  RunRecord run;
  run.id = "20261207T120000-storm-1";
  for (auto& [id, write] : acked) run.acked.emplace(id, std::move(write));
  return run;
}

AckedWrite acked_value(std::string value) {
  AckedWrite w;
  w.key = "k";
  w.value = std::move(value);
  return w;
}

TEST_F(VerifyTest, EveryAcknowledgedWriteInPlacePasses) {
  AckedWrite deleted = acked_value("v0");
  deleted.deleted = true;
  AckedWrite unknown_update = acked_value("v3-old");
  unknown_update.uncertain = true;
  unknown_update.uncertain_value = "v3";  // the update whose answer was lost did land
  VerifyOptions o = options();
  o.run = run_with({{"id-1", acked_value("v1")}, {"id-gone", deleted}, {"id-3", unknown_update}});
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_TRUE(out.passed) << out.text;
  const Json& node = out.report.at("acked").at("nodes").at(a_.address());
  EXPECT_EQ(node.at("checked"), 3);
  EXPECT_EQ(node.at("uncertain"), 1);
  EXPECT_TRUE(node.at("ok").get<bool>());
  EXPECT_TRUE(contains(out.text, "acknowledged writes of run 20261207T120000-storm-1 (3 ids):"))
      << out.text;
}

TEST_F(VerifyTest, ALostResurrectedOrChangedAcknowledgedWriteFails) {
  AckedWrite deleted = acked_value("v2");
  deleted.deleted = true;  // acknowledged deleted, yet id-2 is there
  VerifyOptions o = options();
  o.run =
      run_with({{"id-1", acked_value("not v1")}, {"id-2", deleted}, {"id-lost", acked_value("v")}});
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_FALSE(out.passed);
  const Json& node = out.report.at("acked").at("nodes").at(b_.address());
  EXPECT_EQ(node.at("missing"), 1);
  EXPECT_EQ(node.at("wrong_value"), 1);
  EXPECT_EQ(node.at("resurrected"), 1);
  EXPECT_TRUE(contains(out.text, "LOST")) << out.text;
  EXPECT_TRUE(contains(out.text, "id-lost (key k): acknowledged, absent")) << out.text;
  EXPECT_TRUE(contains(out.text, "id-2: acknowledged deleted, present with value 'v2'"))
      << out.text;
  EXPECT_TRUE(contains(out.text, "id-1: value 'v1', acknowledged 'not v1'")) << out.text;
}

TEST_F(VerifyTest, AWantedRunThatIsNotRecordedIsSaidAndSkipped) {
  VerifyOptions o = options();
  o.run_wanted = true;
  const VerifyOutcome out = verify_cluster(o);
  EXPECT_TRUE(out.passed) << out.text;
  EXPECT_TRUE(contains(out.text, "no load run recorded under " + (root_ / "runs").string() +
                                     ": acknowledged-writes check skipped"))
      << out.text;
}

}  // namespace
}  // namespace bombarder
