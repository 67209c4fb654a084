// RaftNode (stress_node/src/raft_node.h) driven for real: three nodes, each with its own
// kv::Store in a temporary directory and its own raft thread, joined by an in-process network
// that can cut nodes off and drop chosen message types. Time is the nodes' own (short ticks);
// every wait polls the nodes' status with a deadline.
#include "raft_node.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kv/store.h"

namespace stress_node {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A fresh directory (under /dev/shm when writable: fsync is free there), removed afterwards.
class TempDir {
 public:
  TempDir() {
    const std::string root = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string pattern = root + "/raft-node-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Delivers each message to its recipient's RaftNode::receive unless a rule drops it.
class Network {
 public:
  class Sender final : public PeerSender {
   public:
    Sender(Network& net) : net_(net) {}
    void send(std::vector<raft::Message>&& messages) override { net_.deliver(messages); }

   private:
    Network& net_;
  };

  void attach(raft::NodeId id, RaftNode* node) {
    std::lock_guard lock(mutex_);
    nodes_[id] = node;
  }
  void detach_all() {
    std::lock_guard lock(mutex_);
    nodes_.clear();
  }
  // Nothing to or from `id` gets through.
  void isolate(raft::NodeId id) {
    std::lock_guard lock(mutex_);
    isolated_.insert(id);
  }
  void heal(raft::NodeId id) {
    std::lock_guard lock(mutex_);
    isolated_.erase(id);
  }
  // `id` cannot campaign: its PreVote and Vote requests are dropped.
  void mute_campaigns(raft::NodeId id) {
    std::lock_guard lock(mutex_);
    muted_.insert(id);
  }

 private:
  void deliver(const std::vector<raft::Message>& messages) {
    std::map<raft::NodeId, std::vector<raft::Message>> by_target;
    std::lock_guard lock(mutex_);
    for (const raft::Message& m : messages) {
      if (isolated_.contains(m.from) || isolated_.contains(m.to)) continue;
      const bool campaign =
          m.type == raft::MessageType::kPreVote || m.type == raft::MessageType::kVote;
      if (campaign && muted_.contains(m.from)) continue;
      by_target[m.to].push_back(m);
    }
    for (auto& [to, batch] : by_target) {
      if (auto it = nodes_.find(to); it != nodes_.end()) it->second->receive(std::move(batch));
    }
  }

  std::mutex mutex_;
  std::map<raft::NodeId, RaftNode*> nodes_;
  std::set<raft::NodeId> isolated_;
  std::set<raft::NodeId> muted_;
};

// Write outcomes, filled on the raft threads.
class Outcomes {
 public:
  // A callback that records the outcome of write number `n` (and counts repeated calls).
  RaftNode::WriteDone slot(size_t n) {
    return [this, n](WriteOutcome outcome) {
      std::lock_guard lock(mutex_);
      ++calls_[n];
      outcomes_[n] = std::move(outcome);
    };
  }
  std::optional<WriteOutcome> get(size_t n) const {
    std::lock_guard lock(mutex_);
    auto it = outcomes_.find(n);
    return it == outcomes_.end() ? std::nullopt : std::optional<WriteOutcome>(it->second);
  }
  int calls(size_t n) const {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(n);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<size_t, WriteOutcome> outcomes_;
  std::map<size_t, int> calls_;
};

kv::Command create(size_t n) {
  char id[64];
  std::snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012zu", n);
  return kv::Command{kv::CreateCommand{id, "key", "value", 1'700'000'000'000'000, 1}, ""};
}

// Polls `done` until it holds or `timeout` passes.
template <typename Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

class ThreeNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    for (raft::NodeId id : kIds) {
      RaftNodeConfig config;
      config.id = id;
      config.voters = {kIds.begin(), kIds.end()};
      config.tick_ms = 10;
      config.election_timeout_ticks = 10;
      // Long enough that no write of the scenario is answered by its deadline.
      config.commit_timeout = 60s;
      kv::Result<std::unique_ptr<kv::Store>> store =
          kv::Store::open(dirs_[id - 1].path(), kv::StoreOptions{});
      ASSERT_TRUE(store.is_ok()) << store.status().to_string();
      nodes_[id] = std::make_unique<RaftNode>(config, std::move(store).value(), sender_);
      net_.attach(id, nodes_[id].get());
    }
    for (auto& [id, node] : nodes_) node->start();
  }
  void TearDown() override {
    // Stop every thread before any node goes away: a running node still sends to the others.
    for (auto& [id, node] : nodes_) node->stop(0ms);
    net_.detach_all();
    nodes_.clear();
  }

  NodeStatus status(raft::NodeId id) const { return nodes_.at(id)->status(); }
  bool leads(raft::NodeId id) const { return status(id).core.soft.role == raft::Role::kLeader; }
  std::optional<raft::NodeId> leader_among(const std::set<raft::NodeId>& ids) const {
    for (raft::NodeId id : ids) {
      if (leads(id)) return id;
    }
    return std::nullopt;
  }

  static constexpr std::array<raft::NodeId, 3> kIds{1, 2, 3};
  TempDir dirs_[3];
  Network net_;
  Network::Sender sender_{net_};
  std::map<raft::NodeId, std::unique_ptr<RaftNode>> nodes_;
  Outcomes outcomes_;
};

// Issue 13 bug 1. A leader's uncommitted writes are truncated from its log by the next leader;
// it then leads again and reuses their indexes for new writes. Each new write that commits is
// answered kOk, and each old one is answered once, never kOk (none of them committed).
TEST_F(ThreeNodes, ALeaderReelectedAfterTruncationAnswersNewWritesAtReusedIndexes) {
  std::optional<raft::NodeId> first;
  ASSERT_TRUE(eventually([&] { return (first = leader_among({1, 2, 3})).has_value(); }));
  const raft::NodeId a = *first;
  std::set<raft::NodeId> others;
  for (raft::NodeId id : kIds) {
    if (id != a) others.insert(id);
  }
  // Everyone holds the same committed log.
  nodes_[a]->propose(create(0), outcomes_.slot(0));
  ASSERT_TRUE(eventually([&] { return outcomes_.get(0).has_value(); }));
  ASSERT_EQ(outcomes_.get(0)->outcome, Outcome::kOk);
  const raft::Index base = status(a).core.last_index;

  // A, cut off, takes five writes it can never commit: indexes base+1 .. base+5.
  net_.isolate(a);
  constexpr size_t kStale = 5;
  for (size_t n = 1; n <= kStale; ++n) nodes_[a]->propose(create(n), outcomes_.slot(n));
  ASSERT_TRUE(eventually([&] { return status(a).core.last_index == base + kStale; }))
      << "A did not take the writes as leader";

  // The others elect a leader whose no-op replaces A's base+1; A rejoins and truncates.
  std::optional<raft::NodeId> second;
  ASSERT_TRUE(eventually([&] { return (second = leader_among(others)).has_value(); }));
  net_.heal(a);
  ASSERT_TRUE(eventually([&] {
    const NodeStatus s = status(a);
    return s.core.soft.role == raft::Role::kFollower && s.core.last_index == base + 1 &&
           s.core.applied_index == base + 1;
  })) << "A did not follow the new leader";

  // A leads again: the second leader is cut off and the third node may only vote.
  const raft::NodeId b = *second;
  const raft::NodeId c = *others.begin() == b ? *others.rbegin() : *others.begin();
  net_.isolate(b);
  net_.mute_campaigns(c);
  ASSERT_TRUE(eventually([&] { return leads(a); })) << "A was not re-elected";
  // Its no-op is at base+2; new writes go to base+3.., where stale records wait.
  constexpr size_t kFresh = 3;
  for (size_t n = kStale + 1; n <= kStale + kFresh; ++n) {
    nodes_[a]->propose(create(n), outcomes_.slot(n));
  }
  ASSERT_TRUE(eventually([&] {
    for (size_t n = 1; n <= kStale + kFresh; ++n) {
      if (!outcomes_.get(n)) return false;
    }
    return true;
  })) << "a write was never answered";

  for (size_t n = 1; n <= kStale; ++n) {
    EXPECT_EQ(outcomes_.get(n)->outcome, Outcome::kLost) << "stale write " << n;
    EXPECT_EQ(outcomes_.calls(n), 1) << "stale write " << n;
  }
  for (size_t n = kStale + 1; n <= kStale + kFresh; ++n) {
    const WriteOutcome w = *outcomes_.get(n);
    ASSERT_EQ(w.outcome, Outcome::kOk) << "new write " << n << ": " << to_string(w.outcome);
    EXPECT_EQ(w.result.status, kv::ApplyStatus::kCreated);
    EXPECT_EQ(w.result.index, base + 2 + (n - kStale)) << "new write " << n;
    EXPECT_EQ(outcomes_.calls(n), 1) << "new write " << n;
  }
}

// The snapshot interval grows with the state (issue 15: at 1M entries, snapshots every 100k
// entries took half the leader's CPU), so that each applied entry pays for a bounded number of
// records written by snapshots.
TEST(SnapshotInterval, IsTheThresholdForASmallStateAndProportionalForALargeOne) {
  EXPECT_EQ(snapshot_interval_entries(100'000, 1.0, 0), 100'000u);
  EXPECT_EQ(snapshot_interval_entries(100'000, 1.0, 99'999), 100'000u);
  EXPECT_EQ(snapshot_interval_entries(100'000, 1.0, 1'000'000), 1'000'000u);
  EXPECT_EQ(snapshot_interval_entries(100'000, 2.5, 1'000'000), 2'500'000u);
  EXPECT_EQ(snapshot_interval_entries(100'000, 0.5, 1'000'000), 500'000u);
}

TEST(SnapshotInterval, RatioZeroKeepsTheFixedThreshold) {
  EXPECT_EQ(snapshot_interval_entries(50, 0.0, 10'000'000), 50u);
}

}  // namespace
}  // namespace stress_node
