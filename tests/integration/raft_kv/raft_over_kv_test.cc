// The real raft::RaftCore over libkv (LogStorage + StateMachine), executing every batch through
// raft::execute_ready exactly as stress_node does. Deterministic: fixed seeds, logical ticks,
// an in-process FIFO network.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

#include "../../unit/kv/test_util.h"
#include "kv/store.h"
#include "raft/batch.h"
#include "raft/message.h"
#include "raft/raft_core.h"

namespace kv {
namespace {

using test::create_command;
using test::make_id;
using test::update_command;

// The whole BatchIo of a libkv host: persist, then (after send) apply.
class StoreIo : public raft::BatchIo {
 public:
  StoreIo(Store& store, std::deque<raft::Message>* outbox) : store_(store), outbox_(outbox) {}

  void persist(const raft::Ready& ready) override {
    Status s = store_.persist(ready);
    ASSERT_TRUE(s.is_ok()) << s.to_string();  // stress_node aborts here
  }
  void send(std::vector<raft::Message>&& messages) override {
    for (raft::Message& m : messages) outbox_->push_back(std::move(m));
  }
  void apply(const raft::Ready& ready) override {
    Result<std::vector<ApplyResult>> results = store_.apply(ready);
    ASSERT_TRUE(results.is_ok()) << results.status().to_string();
    for (ApplyResult& r : *results) applied.push_back(std::move(r));
  }
  void reads(std::vector<raft::ReadState>&&) override {}
  void soft_state_changed(const raft::SoftState&) override {}

  std::vector<ApplyResult> applied;

 private:
  Store& store_;
  std::deque<raft::Message>* outbox_;
};

raft::Config config_for(raft::NodeId id, std::vector<raft::NodeId> voters, const Store& store) {
  raft::Config c;
  c.id = id;
  c.voters = std::move(voters);
  c.applied_index = store.state_machine().applied_index();
  c.seed = 1000 + id;
  c.snapshot_chunk_bytes_max = 1500;  // several chunks per snapshot
  return c;
}

// One member: its store, core and BatchIo; restartable from its directory.
struct Member {
  Member(raft::NodeId id, std::vector<raft::NodeId> voters, std::deque<raft::Message>* outbox)
      : id(id), voters(std::move(voters)), outbox(outbox) {
    start();
  }
  void start() {
    store = test::open_store(dir.path());
    core = std::make_unique<raft::RaftCore>(config_for(id, voters, *store), store->log());
    io = std::make_unique<StoreIo>(*store, outbox);
  }
  void stop() {
    io.reset();
    core.reset();
    store.reset();
  }
  void run() { (void)raft::execute_ready(*core, *io, 1000); }

  raft::NodeId id;
  std::vector<raft::NodeId> voters;
  std::deque<raft::Message>* outbox;
  test::TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<raft::RaftCore> core;
  std::unique_ptr<StoreIo> io;
};

raft::Payload payload(const Command& c) { return raft::Payload(*encode_command(c)); }

TEST(RaftOverKv, SingleNodeProposesCommitsAppliesAndRestartsIntact) {
  std::deque<raft::Message> outbox;  // a single node sends nothing
  Member node(1, {1}, &outbox);
  node.core->campaign();
  node.run();
  ASSERT_EQ(node.core->role(), raft::Role::kLeader);

  for (uint64_t n = 1; n <= 50; ++n) {
    raft::ProposeResult r = node.core->propose(payload(
        create_command(make_id(n), test::numbered("k", n % 5), "v", test::numbered("req-", n))));
    ASSERT_EQ(r.status, raft::Status::kOk);
    if (n % 10 == 0) node.run();  // several proposals per batch: group commit
  }
  node.run();
  EXPECT_EQ(node.store->state_machine().count(), 50u);
  EXPECT_EQ(node.store->state_machine().applied_index(), node.core->commit_index());
  EXPECT_LT(node.store->log().stats().sync_count, 50u) << "proposals shared fsyncs";
  size_t created = 0;
  for (const ApplyResult& r : node.io->applied) created += r.status == ApplyStatus::kCreated;
  EXPECT_EQ(created, 50u);

  Result<raft::SnapshotMeta> snap = node.store->create_snapshot(node.core->conf(), 5);
  ASSERT_TRUE(snap.is_ok());
  ASSERT_EQ(node.core->propose(payload(update_command(make_id(1), "v2"))).status,
            raft::Status::kOk);
  node.run();
  const StateHash before = node.store->state_machine().state_hash();
  const raft::Index commit_before = node.core->commit_index();

  node.stop();
  node.start();
  EXPECT_EQ(node.store->state_machine().state_hash(), before);
  node.core->campaign();
  node.run();
  ASSERT_EQ(node.core->role(), raft::Role::kLeader);
  EXPECT_GT(node.core->commit_index(), commit_before);  // the new term's no-op committed
  // A retry of an old request (the same key and body, a new id as another node would choose)
  // after the restart is still answered from the idempotency table.
  ASSERT_EQ(node.core->propose(payload(create_command(make_id(99), "k0", "v", "req-50"))).status,
            raft::Status::kOk);
  node.run();
  EXPECT_TRUE(node.io->applied.back().replayed);
  EXPECT_EQ(node.store->state_machine().count(), 50u);
  EXPECT_EQ(node.store->state_machine().get(make_id(1))->value, "v2");
}

// Three members; one is cut off while the others commit and compact their logs, so it can only
// catch up through a chunked snapshot served from the leader's file.
class ThreeMembers : public ::testing::Test {
 protected:
  ThreeMembers() {
    for (raft::NodeId id = 1; id <= 3; ++id) {
      members_.emplace(id,
                       std::make_unique<Member>(id, std::vector<raft::NodeId>{1, 2, 3}, &outbox_));
    }
  }
  Member& m(raft::NodeId id) { return *members_.at(id); }

  // Delivers messages (dropping those to or from isolated members) until none are left.
  void deliver() {
    for (int steps = 0; steps < 100'000 && !outbox_.empty(); ++steps) {
      raft::Message msg = std::move(outbox_.front());
      outbox_.pop_front();
      if (isolated_.contains(msg.to) || isolated_.contains(msg.from)) continue;
      m(msg.to).core->step(msg);
      m(msg.to).run();
    }
    ASSERT_TRUE(outbox_.empty()) << "the network never went quiet";
  }
  void tick_all(int ticks) {
    for (int t = 0; t < ticks; ++t) {
      for (auto& [id, member] : members_) {
        member->core->tick();
        member->run();
      }
      deliver();
    }
  }

  std::deque<raft::Message> outbox_;
  std::map<raft::NodeId, std::unique_ptr<Member>> members_;
  std::set<raft::NodeId> isolated_;
};

TEST_F(ThreeMembers, ACutOffFollowerCatchesUpBySnapshotAndEndsIdentical) {
  m(1).core->campaign();
  m(1).run();
  deliver();
  ASSERT_EQ(m(1).core->role(), raft::Role::kLeader);

  isolated_.insert(3);
  for (uint64_t n = 1; n <= 120; ++n) {
    ASSERT_EQ(
        m(1).core->propose(payload(create_command(make_id(n), "k", std::string(40, 'v')))).status,
        raft::Status::kOk);
    if (n % 8 == 0) {
      m(1).run();
      deliver();
    }
  }
  m(1).run();
  deliver();
  Result<raft::SnapshotMeta> snap = m(1).store->create_snapshot(m(1).core->conf(), 3);
  ASSERT_TRUE(snap.is_ok());
  ASSERT_GT(snap->size_bytes, 3 * 1500u);
  ASSERT_GT(m(1).store->log().first_index(), m(3).store->log().last_index() + 1);

  isolated_.clear();
  tick_all(30);
  const StateHash leader = m(1).store->state_machine().state_hash();
  EXPECT_EQ(leader.entry_count, 120u);
  for (raft::NodeId id : {2, 3}) {
    EXPECT_EQ(m(id).store->state_machine().state_hash(), leader) << "member " << id;
  }
  EXPECT_EQ(m(3).store->log().snapshot_meta().index, snap->index);
  EXPECT_EQ(m(3).store->log().stats().snapshots_installed, 1u);

  // Writes continue; the snapshotted member restarts and stays in step.
  m(3).stop();
  m(3).start();
  for (uint64_t n = 121; n <= 130; ++n) {
    ASSERT_EQ(m(1).core->propose(payload(create_command(make_id(n), "k", "v"))).status,
              raft::Status::kOk);
  }
  m(1).run();
  deliver();
  tick_all(5);
  EXPECT_EQ(m(3).store->state_machine().state_hash(), m(1).store->state_machine().state_hash());
  EXPECT_EQ(m(3).store->state_machine().count(), 130u);
}

}  // namespace
}  // namespace kv
