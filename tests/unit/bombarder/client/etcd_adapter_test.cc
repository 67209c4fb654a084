// client/etcd_adapter.h: requests as etcd 3.4's JSON gateway wants them, and its answers
// classified the way the load engine and the checker need. The answers below were recorded from
// Debian's etcd 3.4.23 (`curl -X POST .../v3/kv/...`), cut to the fields that matter; the error
// bodies have the gateway's {"error","message","code"} shape with the gRPC code's HTTP status.
#include "bombarder/client/etcd_adapter.h"

#include <gtest/gtest.h>

#include <string>

namespace bombarder {
namespace {

// base64("rk-1") = cmstMQ==, base64("val1") = dmFsMQ==, base64("val2") = dmFsMg==
constexpr const char* kHeader =
    R"("header":{"cluster_id":"6001611773266757492","member_id":"13049071153751544597",)"
    R"("revision":"3","raft_term":"2"})";

std::string recorded(const std::string& rest) {
  return "{" + std::string(kHeader) + (rest.empty() ? "" : "," + rest) + "}";
}

StoreRequest request(OpKind kind, std::string_view key_or_id, std::string_view value = {}) {
  StoreRequest r;
  r.kind = kind;
  r.key = key_or_id;
  r.id = key_or_id;
  r.value = value;
  return r;
}

const EtcdAdapter kAdapter;

TEST(EtcdAdapter, Base64RoundTripsWithEveryPadding) {
  for (const std::string text : {"", "r", "rk", "rk-", "rk-1", "storm-20261207-0-17"}) {
    EXPECT_EQ(base64_decode(base64_encode(text)), text);
  }
  EXPECT_EQ(base64_encode("rk-1"), "cmstMQ==");
  EXPECT_FALSE(base64_decode("abc").has_value());
}

TEST(EtcdAdapter, CreateIsATxnThatPutsOnlyIfTheKeyWasNeverCreated) {
  std::string wire;
  kAdapter.format_request(request(OpKind::kCreate, "rk-1", "val1"), "127.0.0.1:2379", wire);
  const std::string body =
      R"({"compare":[{"key":"cmstMQ==","target":"CREATE","result":"EQUAL","create_revision":"0"}],)"
      R"("success":[{"request_put":{"key":"cmstMQ==","value":"dmFsMQ=="}}],)"
      R"("failure":[{"request_range":{"key":"cmstMQ=="}}]})";
  EXPECT_EQ(wire,
            "POST /v3/kv/txn HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nContent-Type: "
            "application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(EtcdAdapter, SerializableReadsAskTheMemberItself) {
  std::string linearizable;
  std::string serializable;
  kAdapter.format_request(request(OpKind::kRead, "rk-1"), "h", linearizable);
  EtcdAdapter(EtcdOptions{true}).format_request(request(OpKind::kRead, "rk-1"), "h", serializable);
  EXPECT_NE(linearizable.find(R"({"key":"cmstMQ=="})"), std::string::npos) << linearizable;
  EXPECT_NE(serializable.find(R"({"key":"cmstMQ==","serializable":true})"), std::string::npos)
      << serializable;
}

TEST(EtcdAdapter, SucceededCreateTxnIsOkWithTheKeyAsId) {
  const StoreAnswer a = kAdapter.classify(
      request(OpKind::kCreate, "rk-2", "val2"), 200,
      recorded(R"("succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}])"));
  EXPECT_EQ(a.answer, AnswerClass::kOk);
  EXPECT_EQ(a.id, "rk-2");
}

const std::string kCreateFoundVal1 = recorded(
    R"("responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"cmstMQ==",)"
    R"("create_revision":"2","mod_revision":"2","version":"1","value":"dmFsMQ=="}],"count":"1"}}])");

TEST(EtcdAdapter, CreateTxnThatFoundTheKeyIsARefusedCreate) {
  const StoreAnswer a =
      kAdapter.classify(request(OpKind::kCreate, "rk-1", "val2"), 200, kCreateFoundVal1);
  EXPECT_EQ(a.answer, AnswerClass::kExists);
  EXPECT_NE(a.problem.find("rk-1"), std::string::npos) << a.problem;
}

TEST(EtcdAdapter, RetriedCreateFindingItsOwnValueIsItsEarlierAttemptsSuccess) {
  StoreRequest r = request(OpKind::kCreate, "rk-1", "val1");
  EXPECT_EQ(kAdapter.classify(r, 200, kCreateFoundVal1).answer, AnswerClass::kExists)
      << "without an earlier ambiguous attempt, an existing key was someone else's";
  r.maybe_applied = true;
  const StoreAnswer a = kAdapter.classify(r, 200, kCreateFoundVal1);
  EXPECT_EQ(a.answer, AnswerClass::kOk);
  EXPECT_EQ(a.id, "rk-1");
}

TEST(EtcdAdapter, UpdateTxnThatDidNotSucceedIsAbsent) {
  EXPECT_EQ(kAdapter.classify(request(OpKind::kUpdate, "rk-3", "val2"), 200, recorded("")).answer,
            AnswerClass::kAbsent);
  EXPECT_EQ(kAdapter
                .classify(request(OpKind::kUpdate, "rk-1", "val2"), 200,
                          recorded(R"("succeeded":true,"responses":[{"response_put":{}}])"))
                .answer,
            AnswerClass::kOk);
}

TEST(EtcdAdapter, RangeReturnsTheDecodedValueOrAbsent) {
  const StoreAnswer found = kAdapter.classify(
      request(OpKind::kRead, "rk-1"), 200,
      recorded(R"("kvs":[{"key":"cmstMQ==","create_revision":"2","mod_revision":"4",)"
               R"("version":"2","value":"dmFsMg=="}],"count":"1")"));
  EXPECT_EQ(found.answer, AnswerClass::kOk);
  EXPECT_EQ(found.value, "val2");
  EXPECT_EQ(kAdapter.classify(request(OpKind::kRead, "rk-3"), 200, recorded("")).answer,
            AnswerClass::kAbsent);
}

TEST(EtcdAdapter, KeyLookupListsTheKeyAsItsOwnId) {
  const StoreAnswer a =
      kAdapter.classify(request(OpKind::kList, "rk-1"), 200,
                        recorded(R"("kvs":[{"key":"cmstMQ==","value":"dmFsMg=="}],"count":"1")"));
  ASSERT_EQ(a.answer, AnswerClass::kOk);
  ASSERT_EQ(a.listed.size(), 1u);
  EXPECT_EQ(a.listed[0], (ListedEntry{"rk-1", "rk-1", "val2"}));
  EXPECT_TRUE(kAdapter.classify(request(OpKind::kList, "rk-3"), 200, recorded("")).listed.empty());
}

TEST(EtcdAdapter, DeleteOfNothingIsAbsentUnlessAnEarlierAttemptMayHaveDeletedIt) {
  StoreRequest r = request(OpKind::kDelete, "rk-1");
  EXPECT_EQ(kAdapter.classify(r, 200, recorded(R"("deleted":"1")")).answer, AnswerClass::kOk);
  EXPECT_EQ(kAdapter.classify(r, 200, recorded("")).answer, AnswerClass::kAbsent);
  r.maybe_applied = true;
  EXPECT_EQ(kAdapter.classify(r, 200, recorded("")).answer, AnswerClass::kOutcomeUnknown);
}

TEST(EtcdAdapter, EtcdErrorBodyOfABadRequestIsAFailure) {
  const StoreAnswer a = kAdapter.classify(
      request(OpKind::kUpdate, "", "val1"), 400,
      R"({"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3})");
  EXPECT_EQ(a.answer, AnswerClass::kClientError);
  EXPECT_EQ(a.problem, "400 etcdserver: key is not provided");
}

TEST(EtcdAdapter, TimedOutWriteMayHaveBeenAppliedButATimedOutReadWasNot) {
  const std::string timed_out =
      R"({"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14})";
  for (OpKind write : {OpKind::kCreate, OpKind::kUpdate, OpKind::kDelete}) {
    EXPECT_EQ(kAdapter.classify(request(write, "rk-1", "v"), 503, timed_out).answer,
              AnswerClass::kMaybeApplied)
        << to_string(write);
  }
  EXPECT_EQ(kAdapter.classify(request(OpKind::kRead, "rk-1"), 503, timed_out).answer,
            AnswerClass::kUnavailable);
  const std::string too_many =
      R"({"error":"etcdserver: too many requests","message":"etcdserver: too many requests","code":8})";
  EXPECT_EQ(kAdapter.classify(request(OpKind::kCreate, "rk-1", "v"), 429, too_many).answer,
            AnswerClass::kUnavailable)
      << "refused before the proposal: nothing applied";
}

TEST(EtcdAdapter, TransportTimeoutIsMaybeAppliedAndRefusalIsNot) {
  EXPECT_EQ(classify_transport(false, "Connection timed out").answer, AnswerClass::kMaybeApplied);
  EXPECT_EQ(classify_transport(true, "Connection refused").answer, AnswerClass::kUnavailable);
}

TEST(EtcdAdapter, AnswerThatIsNotEtcdsIsABadResponse) {
  EXPECT_EQ(kAdapter.classify(request(OpKind::kRead, "rk-1"), 200, R"([1,2])").answer,
            AnswerClass::kBadResponse);
  EXPECT_EQ(
      kAdapter.classify(request(OpKind::kRead, "rk-1"), 200, R"({"kvs":[{"key":"%%"}]})").answer,
      AnswerClass::kBadResponse);
  EXPECT_EQ(kAdapter.classify(request(OpKind::kRead, "rk-1"), 404, "404 page not found").answer,
            AnswerClass::kClientError);
}

const Json kMembers =
    Json::parse(R"({"header":{"member_id":"11"},"members":[)"
                R"({"ID":"11","name":"node-0","clientURLs":["http://127.0.0.1:2379"]},)"
                R"({"ID":"12","name":"node-1","clientURLs":["http://127.0.0.1:2380"]},)"
                R"({"ID":"13","name":"node-2","clientURLs":["http://127.0.0.1:2381"]}]})");

TEST(EtcdAdapter, MaintenanceStatusGivesRoleTermAppliedIndexAndLeaderAddress) {
  const Json status = Json::parse(
      R"({"header":{"member_id":"12","revision":"5","raft_term":"2"},"version":"3.4.23",)"
      R"("leader":"11","raftIndex":"11","raftTerm":"2","raftAppliedIndex":"10"})");
  const StatusResponse s = EtcdAdapter::status_from({"127.0.0.1", 2380}, status, kMembers);
  EXPECT_EQ(s.node_id, 1u);
  EXPECT_EQ(s.role, "follower");
  EXPECT_EQ(s.term, 2u);
  EXPECT_EQ(s.commit_index, 11u);
  EXPECT_EQ(s.applied_index, 10u);
  EXPECT_EQ(s.leader_id, 0u) << "the leader's node id, not its etcd member id";
  EXPECT_EQ(s.leader, "127.0.0.1:2379");
  EXPECT_EQ(s.members.size(), 3u);
}

TEST(EtcdAdapter, MemberThatNamesItselfLeaderLeads) {
  const Json status =
      Json::parse(R"({"header":{"member_id":"11"},"leader":"11","raftIndex":"3","raftTerm":"4",)"
                  R"("raftAppliedIndex":"3"})");
  const StatusResponse s = EtcdAdapter::status_from({"127.0.0.1", 2379}, status, kMembers);
  EXPECT_EQ(s.role, "leader");
  EXPECT_EQ(s.node_id, 0u);
  EXPECT_THROW(
      (void)EtcdAdapter::status_from({"127.0.0.1", 2379}, Json::parse(R"({"error":1})"), kMembers),
      std::exception)
      << "a stress_node or anything else is not an etcd member";
}

}  // namespace
}  // namespace bombarder
