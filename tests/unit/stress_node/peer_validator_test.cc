// The node's boundary for peer input (issue 14): what it drops, how it counts, and the inbox's
// byte bound behind it.
#include "peer_validator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../common/test_http.h"
#include "kv/store.h"
#include "raft_node.h"

namespace stress_node {
namespace {

namespace test = common::test;

raft::Message append_from(raft::NodeId from, raft::NodeId to, raft::Index prev, size_t n) {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = from;
  m.to = to;
  m.term = 2;
  m.index = prev;
  m.log_term = prev == 0 ? 0 : 2;
  for (size_t k = 0; k < n; ++k) {
    m.entries.push_back(
        raft::Entry{2, prev + 1 + k, raft::EntryType::kNormal, raft::Payload(std::string("x"))});
  }
  return m;
}

PeerValidator validator_of_three() {
  return PeerValidator(PeerValidatorOptions{.self = 0, .members = {0, 1, 2}});
}

TEST(PeerValidator, NamesTheNodesOwnRulesAndTheProtocols) {
  const PeerValidator v = validator_of_three();
  EXPECT_EQ(v.check(append_from(1, 0, 3, 2)), "");
  EXPECT_EQ(v.check(append_from(1, 2, 3, 2)), kRejectWrongRecipient);
  EXPECT_EQ(v.check(append_from(7, 0, 3, 2)), kRejectUnknownSender);
  EXPECT_EQ(v.check(append_from(0, 0, 3, 2)), kRejectUnknownSender) << "from ourselves";
  raft::Message gap = append_from(1, 0, 3, 2);
  gap.entries[1].index = 10;
  EXPECT_EQ(v.check(gap), "entries_not_contiguous");

  raft::Message snap;
  snap.type = raft::MessageType::kSnapshot;
  snap.from = 1;
  snap.to = 0;
  snap.term = 2;
  snap.snapshot = raft::SnapshotMeta{10, 2, raft::ConfState{{0, 1, 2}}, 4, 9};
  snap.snapshot_data = raft::Payload(std::string("body"));
  snap.snapshot_last = true;
  EXPECT_EQ(v.check(snap), "");
  snap.snapshot.conf.voters = {0, 1, 9};
  EXPECT_EQ(v.check(snap), kRejectSnapshotVoterUnknown);
}

TEST(PeerValidator, FilterKeepsTheValidMessagesAndCountsEachDrop) {
  PeerValidator v = validator_of_three();
  std::vector<raft::Message> batch = {append_from(1, 0, 3, 1), append_from(7, 0, 3, 1),
                                      append_from(1, 0, 3, 1)};
  batch[2].entries[0].index = 9;
  EXPECT_EQ(v.filter(&batch), 2u);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].from, 1u);
  v.reject(kRejectDecode, "bad magic");
  const auto counts = v.counts();
  EXPECT_EQ(counts.at(std::string(kRejectUnknownSender)), 1u);
  EXPECT_EQ(counts.at("entries_not_contiguous"), 1u);
  EXPECT_EQ(counts.at(std::string(kRejectDecode)), 1u);
  EXPECT_EQ(counts.at("read_index_resp_unknown"), 0u) << "every reason present from the start";
}

// --- The raft thread's inbox is bounded in bytes, not only in tasks ---

class NullSender : public PeerSender {
 public:
  void send(std::vector<raft::Message>&&) override {}
};

TEST(RaftNodeInbox, PeerBatchesPastTheByteBoundAreDroppedAndCounted) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(root != nullptr ? root : "/tmp") + "/inbox_test.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path dir = pattern;
  {
    auto store = kv::Store::open(dir, {});
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    RaftNodeConfig config;
    config.id = 0;
    config.voters = {0, 1};
    config.election_timeout_ticks = 1000;  // stays a follower of node 1
    config.inbox_bytes_max = 4000;
    NullSender sender;
    RaftNode node(config, std::move(store).value(), sender);
    // Not started: nothing drains the inbox while we fill it.
    const auto batch = [](raft::Index prev, size_t n) {
      return std::vector<raft::Message>{append_from(1, 0, prev, n)};
    };
    node.receive(batch(0, 60));   // 60 * (1 + 24) + 64 = 1564 bytes
    node.receive(batch(60, 60));  // 3128
    node.receive(batch(0, 60));   // would be 4692: dropped
    node.start();
    ASSERT_TRUE(test::wait_until([&] { return node.status().core.last_index == 120; }));
    const NodeStatus s = node.status();
    EXPECT_EQ(s.inbox_rejected_full_bytes, 1u);
    EXPECT_EQ(s.inbox_rejected_full_tasks, 0u);
    // Drained: the bound is on what is queued, so the next batch gets in.
    node.receive(batch(120, 60));
    ASSERT_TRUE(test::wait_until([&] { return node.status().core.last_index == 180; }));
    EXPECT_EQ(node.status().inbox_bytes, 0u);
    node.stop(std::chrono::milliseconds(0));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace stress_node
