// client/redis_adapter.h and redis_resp.h: commands as Redis reads them, and replies classified
// the way the load engine and the checker need. The replies and INFO texts below were recorded
// from Debian's redis-server 7.0.15 (`redis-cli`, a primary on 25990 and its replica on 25991).
#include "bombarder/client/redis_adapter.h"

#include <gtest/gtest.h>

#include <string>

namespace bombarder {
namespace {

StoreRequest request(OpKind kind, std::string_view key_or_id, std::string_view value = {}) {
  StoreRequest r;
  r.kind = kind;
  r.key = key_or_id;
  r.id = key_or_id;
  r.value = value;
  return r;
}

const RedisAdapter kAdapter;

constexpr const char* kNil = "$-1\r\n";
constexpr const char* kOk = "+OK\r\n";
constexpr const char* kReadonly = "-READONLY You can't write against a read only replica.\r\n";

constexpr const char* kPrimaryInfo =
    "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
    "slave0:ip=127.0.0.1,port=25991,state=online,offset=4711,lag=0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:62aaf4970b9a286c63ead1d25293b19fa4244f27\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:4725\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n";
constexpr const char* kReplicaInfo =
    "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:25990\r\n"
    "master_link_status:up\r\nmaster_last_io_seconds_ago:1\r\nmaster_sync_in_progress:0\r\n"
    "slave_read_repl_offset:4711\r\nslave_repl_offset:4711\r\nslave_priority:100\r\n"
    "slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:62aaf4970b9a286c63ead1d25293b19fa4244f27\r\n"
    "master_repl_offset:4711\r\n";

std::string bulk(const std::string& text) {
  return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
}

TEST(RedisAdapter, CommandsAreRespArraysOfBulkStrings) {
  std::string wire;
  kAdapter.format_request(request(OpKind::kCreate, "rk-1", "val1"), "127.0.0.1:6379", wire);
  EXPECT_EQ(wire, "*5\r\n$3\r\nSET\r\n$4\r\nrk-1\r\n$4\r\nval1\r\n$2\r\nNX\r\n$3\r\nGET\r\n");
  wire.clear();
  kAdapter.format_request(request(OpKind::kUpdate, "rk-1", "val2"), "h", wire);
  EXPECT_EQ(wire, "*4\r\n$3\r\nSET\r\n$4\r\nrk-1\r\n$4\r\nval2\r\n$2\r\nXX\r\n");
  wire.clear();
  kAdapter.format_request(request(OpKind::kDelete, "rk-1"), "h", wire);
  EXPECT_EQ(wire, "*2\r\n$3\r\nDEL\r\n$4\r\nrk-1\r\n");
  wire.clear();
  kAdapter.format_request(request(OpKind::kRead, "rk-1"), "h", wire);
  EXPECT_EQ(wire, "*2\r\n$5\r\nGETEX\r\n$4\r\nrk-1\r\n");
}

// GETEX without options changes nothing but is a write command to Redis, so a replica refuses
// it: a read meant for the primary never gets a replica's possibly stale answer.
TEST(RedisAdapter, ReadsAreForThePrimaryOnlyUnlessReplicasAreAsked) {
  std::string primary;
  std::string replica;
  kAdapter.format_request(request(OpKind::kList, "rk-1"), "h", primary);
  RedisAdapter(RedisOptions{true}).format_request(request(OpKind::kRead, "rk-1"), "h", replica);
  EXPECT_EQ(primary, "*2\r\n$5\r\nGETEX\r\n$4\r\nrk-1\r\n");
  EXPECT_EQ(replica, "*2\r\n$3\r\nGET\r\n$4\r\nrk-1\r\n");
}

TEST(RedisAdapter, CreateOfAnAbsentKeyIsOkWithTheKeyAsId) {
  const StoreAnswer a = kAdapter.classify(request(OpKind::kCreate, "rk-1", "val1"), 200, kNil);
  EXPECT_EQ(a.answer, AnswerClass::kOk);
  EXPECT_EQ(a.id, "rk-1");
}

TEST(RedisAdapter, CreateOfAnExistingKeyIsRefusedUnlessItHoldsThisCreatesOwnRetriedValue) {
  StoreRequest r = request(OpKind::kCreate, "rk-1", "val1");
  EXPECT_EQ(kAdapter.classify(r, 200, bulk("other")).answer, AnswerClass::kExists);
  // The first attempt never answered: its value there means it was applied.
  EXPECT_EQ(kAdapter.classify(r, 200, bulk("val1")).answer, AnswerClass::kExists);
  r.maybe_applied = true;
  const StoreAnswer a = kAdapter.classify(r, 200, bulk("val1"));
  EXPECT_EQ(a.answer, AnswerClass::kOk);
  EXPECT_EQ(a.id, "rk-1");
  EXPECT_EQ(kAdapter.classify(r, 200, bulk("other")).answer, AnswerClass::kExists);
}

TEST(RedisAdapter, UpdateOfAMissingKeyIsAbsent) {
  const StoreRequest r = request(OpKind::kUpdate, "rk-1", "val2");
  EXPECT_EQ(kAdapter.classify(r, 200, kOk).answer, AnswerClass::kOk);
  EXPECT_EQ(kAdapter.classify(r, 200, kNil).answer, AnswerClass::kAbsent);
}

TEST(RedisAdapter, DeleteOfAMissingKeyIsAbsentOrUnknownAfterAMaybeAppliedAttempt) {
  StoreRequest r = request(OpKind::kDelete, "rk-1");
  EXPECT_EQ(kAdapter.classify(r, 200, ":1\r\n").answer, AnswerClass::kOk);
  EXPECT_EQ(kAdapter.classify(r, 200, ":0\r\n").answer, AnswerClass::kAbsent);
  r.maybe_applied = true;
  EXPECT_EQ(kAdapter.classify(r, 200, ":0\r\n").answer, AnswerClass::kOutcomeUnknown);
}

TEST(RedisAdapter, ReadReturnsTheValueOrAbsent) {
  const StoreRequest r = request(OpKind::kRead, "rk-1");
  const StoreAnswer a = kAdapter.classify(r, 200, bulk("val1"));
  EXPECT_EQ(a.answer, AnswerClass::kOk);
  EXPECT_EQ(a.value, "val1");
  EXPECT_EQ(kAdapter.classify(r, 200, kNil).answer, AnswerClass::kAbsent);
}

TEST(RedisAdapter, ListIsAnExactLookupOfTheKey) {
  const StoreRequest r = request(OpKind::kList, "rk-1");
  const StoreAnswer found = kAdapter.classify(r, 200, bulk("val1"));
  ASSERT_EQ(found.answer, AnswerClass::kOk);
  ASSERT_EQ(found.listed.size(), 1u);
  EXPECT_EQ(found.listed[0].id, "rk-1");
  EXPECT_EQ(found.listed[0].value, "val1");
  const StoreAnswer none = kAdapter.classify(r, 200, kNil);
  EXPECT_EQ(none.answer, AnswerClass::kOk);
  EXPECT_TRUE(none.listed.empty());
}

TEST(RedisAdapter, AReplicasReadonlyRefusalIsUnavailableAndNotApplied) {
  const StoreAnswer a = kAdapter.classify(request(OpKind::kCreate, "rk-1", "v"), 200, kReadonly);
  EXPECT_EQ(a.answer, AnswerClass::kUnavailable);
  EXPECT_NE(a.problem.find("READONLY"), std::string::npos) << a.problem;
  EXPECT_EQ(kAdapter.answer_status(200, kReadonly), 503);
  EXPECT_EQ(
      kAdapter.classify(request(OpKind::kRead, "k"), 200, "-LOADING Redis is loading\r\n").answer,
      AnswerClass::kUnavailable);
}

TEST(RedisAdapter, AnErrReplyIsAFinalClientError) {
  const std::string err = "-ERR syntax error\r\n";
  EXPECT_EQ(kAdapter.classify(request(OpKind::kUpdate, "k", "v"), 200, err).answer,
            AnswerClass::kClientError);
  EXPECT_EQ(kAdapter.answer_status(200, err), 400);
  EXPECT_EQ(kAdapter.answer_status(200, kOk), 200);
  EXPECT_EQ(kAdapter
                .classify(request(OpKind::kRead, "k"), 200,
                          "-WRONGTYPE Operation against a key holding the wrong kind\r\n")
                .answer,
            AnswerClass::kClientError);
}

TEST(RedisAdapter, TransportErrorsAreNotAppliedOnlyWhenTheConnectionWasRefused) {
  EXPECT_EQ(classify_transport(true, "connection refused").answer, AnswerClass::kUnavailable);
  EXPECT_EQ(classify_transport(false, "timed out").answer, AnswerClass::kMaybeApplied);
  EXPECT_EQ(classify_transport(false, "connection reset by peer").answer,
            AnswerClass::kMaybeApplied);
}

TEST(RedisAdapter, AnHttpServersAnswerIsABadResponse) {
  const std::string http = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  const StoreAnswer a = kAdapter.classify(request(OpKind::kRead, "k"), 200, http);
  EXPECT_EQ(a.answer, AnswerClass::kBadResponse);
  EXPECT_NE(a.problem.find("not a RESP reply"), std::string::npos) << a.problem;
}

TEST(RedisAdapter, UnexpectedReplyTypesAreBadResponses) {
  EXPECT_EQ(kAdapter.classify(request(OpKind::kDelete, "k"), 200, kOk).answer,
            AnswerClass::kBadResponse);
  EXPECT_EQ(kAdapter.classify(request(OpKind::kRead, "k"), 200, ":3\r\n").answer,
            AnswerClass::kBadResponse);
}

TEST(RedisAdapter, PrimaryStatusLeadsAtItsReplicationOffset) {
  const StatusResponse s =
      RedisAdapter::status_from(common::Endpoint{"127.0.0.1", 25990}, 0, kPrimaryInfo);
  EXPECT_EQ(s.role, "leader");
  EXPECT_EQ(s.leader, "127.0.0.1:25990");
  EXPECT_EQ(s.leader_id, 0u);
  EXPECT_EQ(s.applied_index, 4725u);
}

TEST(RedisAdapter, ReplicaNamesThePrimaryThatSharesItsReplicationId) {
  std::vector<NodeStatusAnswer> statuses(3);
  statuses[0].status =
      RedisAdapter::status_from(common::Endpoint{"127.0.0.1", 25990}, 0, kPrimaryInfo);
  // With --proxied a replica's master_port is its link proxy's, not the primary's.
  std::string proxied = kReplicaInfo;
  proxied.replace(proxied.find("25990"), 5, "25999");
  statuses[1].status = RedisAdapter::status_from(common::Endpoint{"127.0.0.1", 25991}, 1, proxied);
  EXPECT_EQ(statuses[1].status->role, "follower");
  EXPECT_EQ(statuses[1].status->applied_index, 4711u);
  EXPECT_EQ(statuses[1].status->leader, "127.0.0.1:25999");
  statuses[2].error = "no Redis reply: connection refused";
  const std::string replid = "62aaf4970b9a286c63ead1d25293b19fa4244f27";
  RedisAdapter::link_leaders(statuses, {replid, replid, ""});
  EXPECT_EQ(statuses[1].status->leader, "127.0.0.1:25990");
  EXPECT_EQ(statuses[1].status->leader_id, 0u);
}

TEST(RedisAdapter, ReplicaWithItsLinkDownNamesNoLeader) {
  std::string down = kReplicaInfo;
  down.replace(down.find("link_status:up"), 14, "link_status:down");
  const StatusResponse s = RedisAdapter::status_from(common::Endpoint{"127.0.0.1", 25991}, 1, down);
  EXPECT_TRUE(s.leader.empty());
  EXPECT_FALSE(s.leader_id.has_value());
}

TEST(RedisAdapter, InfoWithoutARoleIsNotARedisNode) {
  EXPECT_THROW((void)RedisAdapter::status_from(common::Endpoint{"h", 1}, 0, "# Server\r\n"),
               std::invalid_argument);
}

TEST(RespReader, RepliesSplitAcrossReadsComeOutWhole) {
  RespReader reader;
  RespReply reply;
  std::string error;
  reader.feed("*2\r\n$3\r\nfo");
  EXPECT_EQ(reader.next(&reply, &error), RespReader::Result::kIncomplete);
  reader.feed("o\r\n:42\r\n");
  ASSERT_EQ(reader.next(&reply, &error), RespReader::Result::kReply);
  ASSERT_EQ(reply.type, RespReply::Type::kArray);
  ASSERT_EQ(reply.elements.size(), 2u);
  EXPECT_EQ(reply.elements[0].text, "foo");
  EXPECT_EQ(reply.elements[1].integer, 42);
}

TEST(RespReader, BytesThatAreNotRespAreAProtocolError) {
  RespReader reader;
  RespReply reply;
  std::string error;
  reader.feed("HTTP/1.1 400 Bad Request\r\n");
  EXPECT_EQ(reader.next(&reply, &error), RespReader::Result::kProtocolError);
  EXPECT_FALSE(error.empty());
}

TEST(RespReply, ErrorCodeIsTheFirstWord) {
  std::string error;
  const auto reply = parse_resp(kReadonly, &error);
  ASSERT_TRUE(reply.has_value()) << error;
  EXPECT_EQ(reply->error_code(), "READONLY");
  EXPECT_FALSE(parse_resp("$5\r\nab", &error).has_value());
}

TEST(RedisInfo, FieldsAreReadFromTheirLines) {
  EXPECT_EQ(info_field(kReplicaInfo, "master_link_status"), "up");
  EXPECT_EQ(info_field(kReplicaInfo, "slave_repl_offset"), "4711");
  EXPECT_FALSE(info_field(kReplicaInfo, "Replication").has_value());
}

}  // namespace
}  // namespace bombarder
