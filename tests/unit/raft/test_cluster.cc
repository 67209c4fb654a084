#include "test_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

namespace raft {

void PrintTo(const Entry& e, std::ostream* os) {
  *os << e.index << ":" << e.term << (e.type == EntryType::kNoop ? " noop" : "") << " \""
      << e.data.view() << "\"";
}

void PrintTo(const Message& m, std::ostream* os) {
  *os << to_string(m.type) << " " << m.from << "->" << m.to << " term " << m.term << " index "
      << m.index << " log_term " << m.log_term << " commit " << m.commit << " entries "
      << m.entries.size() << (m.reject ? " reject" : "") << " hint " << m.reject_hint;
}

}  // namespace raft

namespace raft::test {

namespace {
// Bounds that turn a livelock or a runaway loop into a test failure instead of a hang.
constexpr int kRunBatchesMax = 10'000;
constexpr size_t kDeliveriesMax = 200'000;
}  // namespace

uint64_t test_seed(NodeId id) { return 0x5eed0000 + id * 7919; }

Config test_config(NodeId id, std::vector<NodeId> voters) {
  Config c;
  c.id = id;
  c.voters = std::move(voters);
  c.election_timeout_ticks = kElectionTicks;
  c.heartbeat_interval_ticks = 1;
  c.pre_vote = false;
  c.check_quorum = false;
  c.seed = test_seed(id);
  return c;
}

std::vector<NodeId> voter_ids(size_t n) {
  std::vector<NodeId> ids;
  for (NodeId id = 1; id <= n; ++id) ids.push_back(id);
  return ids;
}

std::string numbered(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

std::vector<Entry> make_entries(Index first, const std::vector<Term>& terms) {
  std::vector<Entry> out;
  for (size_t k = 0; k < terms.size(); ++k) {
    const Index index = first + k;
    out.push_back(Entry{terms[k], index, EntryType::kNormal, Payload(numbered("e", index))});
  }
  return out;
}

Message make_msg(MessageType type, NodeId from, NodeId to, Term term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

Message make_append(NodeId from, NodeId to, Term term, Index prev_index, Term prev_term,
                    std::vector<Entry> entries, Index commit) {
  Message m = make_msg(MessageType::kAppend, from, to, term);
  m.index = prev_index;
  m.log_term = prev_term;
  m.entries = std::move(entries);
  m.commit = commit;
  return m;
}

Message make_vote(MessageType type, NodeId from, NodeId to, Term term, Index last_index,
                  Term last_term) {
  Message m = make_msg(type, from, to, term);
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

Message accept_append(const Message& append) {
  Message r = make_msg(MessageType::kAppendResp, append.to, append.from, append.term);
  r.index = append.index + append.entries.size();
  return r;
}

std::vector<Message> of_type(const std::vector<Message>& messages, MessageType type) {
  std::vector<Message> out;
  for (const Message& m : messages) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

std::vector<Message> of_type_to(const std::vector<Message>& messages, MessageType type, NodeId to) {
  std::vector<Message> out;
  for (const Message& m : messages) {
    if (m.type == type && m.to == to) out.push_back(m);
  }
  return out;
}

std::vector<Entry> stored_log(const MemoryStorage& storage) {
  std::vector<Entry> out;
  if (storage.last_index() >= storage.first_index()) {
    storage.entries(storage.first_index(), storage.last_index() + 1, UINT64_MAX, &out);
  }
  return out;
}

std::vector<Term> stored_terms(const MemoryStorage& storage) {
  std::vector<Term> out;
  for (const Entry& e : stored_log(storage)) out.push_back(e.term);
  return out;
}

std::string encode_state(const std::vector<std::string>& state) {
  std::string body;
  for (const std::string& s : state) {
    body += std::to_string(s.size());
    body += ':';
    body += s;
  }
  return body;
}

std::vector<std::string> decode_state(const std::string& body) {
  std::vector<std::string> state;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t colon = body.find(':', pos);
    if (colon == std::string::npos) {
      ADD_FAILURE() << "malformed snapshot body";
      break;
    }
    const size_t len = std::stoul(body.substr(pos, colon - pos));
    state.push_back(body.substr(colon + 1, len));
    pos = colon + 1 + len;
  }
  return state;
}

// --- TestNode ---

TestNode::TestNode(Config config)
    : config_(std::move(config)), storage_(std::make_unique<MemoryStorage>()) {
  start_core();
}

void TestNode::start_core() { core_ = std::make_unique<RaftCore>(config_, *storage_); }

void TestNode::load(const std::vector<Entry>& log, const HardState& hard_state) {
  core_.reset();
  storage_ = std::make_unique<MemoryStorage>();
  if (!log.empty()) storage_->append(log);
  storage_->set_hard_state(hard_state);
  outbox_.clear();
  staging_.clear();
  state_.clear();
  applied_entries_.clear();
  applied_ = 0;
  config_.applied_index = 0;
  start_core();
}

void TestNode::restart(bool keep_state_machine) {
  core_.reset();
  outbox_.clear();
  staging_.clear();
  if (!keep_state_machine) {
    const SnapshotMeta snap = storage_->snapshot_meta();
    state_ = snap.index == 0 ? std::vector<std::string>{} : decode_state(storage_->snapshot_body());
    applied_ = snap.index;
  }
  config_.applied_index = applied_;
  start_core();
}

int TestNode::run() {
  int batches = 0;
  while (core_->has_ready()) {
    batches += execute_ready(*core_, *this);
    if (batches > kRunBatchesMax) {
      ADD_FAILURE() << "node " << id() << " keeps producing batches";
      break;
    }
  }
  return batches;
}

void TestNode::step(const Message& m) {
  core_->step(m);
  run();
}

void TestNode::tick(int ticks) {
  for (int i = 0; i < ticks; ++i) {
    core_->tick();
    run();
  }
}

std::vector<Message> TestNode::take_sent() { return std::exchange(outbox_, {}); }

Index TestNode::take_snapshot(uint64_t keep_entries) {
  storage_->create_snapshot(applied_, core_->conf(), encode_state(state_), keep_entries);
  return applied_;
}

void TestNode::persist(const Ready& ready) {
  io_calls.emplace_back("persist");
  for (const SnapshotChunk& chunk : ready.snapshot_chunks) {
    if (chunk.offset == 0) staging_.clear();
    EXPECT_EQ(chunk.offset, staging_.size())
        << "node " << id() << ": the core asked to stage a chunk that leaves a gap";
    staging_.append(chunk.data.view());
  }
  if (ready.snapshot) {
    EXPECT_EQ(staging_.size(), ready.snapshot->size_bytes)
        << "node " << id() << ": install requested before the whole body was staged";
    EXPECT_EQ(MemoryStorage::checksum(staging_), ready.snapshot->checksum)
        << "node " << id() << ": staged snapshot body is corrupt";
    storage_->install_snapshot(*ready.snapshot, std::move(staging_));
    staging_.clear();
  }
  if (!ready.entries.empty()) storage_->append(ready.entries);
  if (ready.hard_state) storage_->set_hard_state(*ready.hard_state);
}

void TestNode::check_send_ordering(const Message& m) const {
  const HardState hs = storage_->hard_state();
  EXPECT_EQ(m.from, id()) << "message with a foreign sender";
  EXPECT_NE(m.to, id()) << "message to self: " << to_string(m.type);
  const bool term_is_local = m.type == MessageType::kPreVote ||
                             m.type == MessageType::kPreVoteResp ||
                             m.type == MessageType::kReadIndex;
  if (!term_is_local) {
    EXPECT_LE(m.term, hs.current_term)
        << "node " << id() << " sent " << to_string(m.type) << " at term " << m.term
        << " before persisting that term (§5.1: persist before responding)";
  }
  if (m.type == MessageType::kVote && hs.current_term == m.term) {
    EXPECT_EQ(hs.voted_for, id()) << "node " << id() << " requested votes before persisting "
                                  << "its vote for itself (§5.2)";
  }
  if (m.type == MessageType::kVoteResp && !m.reject && hs.current_term == m.term) {
    EXPECT_EQ(hs.voted_for, m.to) << "node " << id() << " granted a vote before persisting it";
  }
  if (m.type == MessageType::kAppendResp && !m.reject) {
    EXPECT_GE(storage_->last_index(), m.index)
        << "node " << id() << " acknowledged entries up to " << m.index
        << " before persisting them (stored up to " << storage_->last_index() << ")";
  }
}

void TestNode::send(std::vector<Message>&& messages) {
  io_calls.emplace_back("send");
  for (Message& m : messages) {
    check_send_ordering(m);
    outbox_.push_back(std::move(m));
  }
}

void TestNode::apply(const Ready& ready) {
  io_calls.emplace_back("apply");
  if (ready.snapshot) {
    state_ = decode_state(storage_->snapshot_body());
    applied_ = ready.snapshot->index;
  }
  for (const Entry& e : ready.committed_entries) {
    EXPECT_EQ(e.index, applied_ + 1) << "node " << id() << ": entries applied out of order";
    EXPECT_LE(e.index, storage_->last_index()) << "applied an entry that is not persisted";
    applied_ = e.index;
    applied_entries_[e.index] = e;
    if (e.type == EntryType::kNormal) state_.emplace_back(e.data.view());
  }
}

void TestNode::reads(std::vector<ReadState>&& reads) {
  io_calls.emplace_back("reads");
  for (ReadState& r : reads) read_states.push_back(r);
}

void TestNode::soft_state_changed(const SoftState& /*soft*/) { io_calls.emplace_back("soft"); }

TestNode node_of(NodeId id, size_t voters) { return TestNode(test_config(id, voter_ids(voters))); }

bool win_election(TestNode& node) {
  node.core().campaign();
  node.run();
  for (int round = 0; round < 2 && node.core().role() != Role::kLeader; ++round) {
    const bool pre = node.core().role() == Role::kPreCandidate;
    if (!pre && node.core().role() != Role::kCandidate) break;
    const Term term = pre ? node.core().term() + 1 : node.core().term();
    const MessageType type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
    for (NodeId voter : node.core().conf().voters) {
      if (voter != node.id()) node.step(make_msg(type, voter, node.id(), term));
    }
  }
  return node.core().role() == Role::kLeader;
}

void make_follower(TestNode& node, NodeId leader, Term term) {
  node.step(make_msg(MessageType::kHeartbeat, leader, node.id(), term));
}

std::vector<Message> ack_all_appends(TestNode& leader) {
  std::vector<Message> others;
  for (int round = 0; round < 100; ++round) {
    bool acked = false;
    for (const Message& m : leader.take_sent()) {
      if (m.type == MessageType::kAppend) {
        leader.step(accept_append(m));
        acked = true;
      } else {
        others.push_back(m);
      }
    }
    if (!acked) return others;
  }
  ADD_FAILURE() << "leader keeps sending Appends";
  return others;
}

// --- Cluster ---

Cluster::Cluster(size_t size, const Tweak& tweak) : ids_(voter_ids(size)) {
  for (NodeId id : ids_) {
    Config c = test_config(id, ids_);
    if (tweak) tweak(c);
    nodes_[id] = std::make_unique<TestNode>(c);
    up_[id] = true;
    isolated_[id] = false;
  }
}

TestNode& Cluster::node(NodeId id) {
  auto it = nodes_.find(id);
  EXPECT_NE(it, nodes_.end()) << "no node " << id;
  return *it->second;
}

void Cluster::isolate(NodeId id) { isolated_[id] = true; }

void Cluster::cut(NodeId a, NodeId b) { cuts_.emplace_back(a, b); }

void Cluster::heal() {
  for (auto& [id, isolated] : isolated_) isolated = false;
  cuts_.clear();
}

void Cluster::set_filter(Filter filter) { filter_ = std::move(filter); }

void Cluster::stop(NodeId id) {
  up_[id] = false;
  node(id).take_sent();
}

void Cluster::start(NodeId id, bool keep_state_machine) {
  node(id).restart(keep_state_machine);
  up_[id] = true;
  stabilize();
}

bool Cluster::deliverable(Message& m) {
  if (nodes_.count(m.to) == 0 || nodes_.count(m.from) == 0) {
    ADD_FAILURE() << "message between unknown nodes " << m.from << " -> " << m.to;
    return false;
  }
  if (!up_[m.to] || !up_[m.from]) return false;
  if (isolated_[m.to] || isolated_[m.from]) return false;
  for (const auto& [a, b] : cuts_) {
    if ((m.from == a && m.to == b) || (m.from == b && m.to == a)) return false;
  }
  return !filter_ || filter_(m);
}

void Cluster::collect(TestNode& n) {
  for (Message& m : n.take_sent()) queue_.push_back(std::move(m));
}

void Cluster::stabilize() {
  size_t deliveries = 0;
  for (;;) {
    for (NodeId id : ids_) {
      if (!up_[id]) continue;
      node(id).run();
      collect(node(id));
    }
    if (queue_head_ == queue_.size()) break;
    while (queue_head_ < queue_.size()) {
      Message m = std::move(queue_[queue_head_++]);
      if (++deliveries > kDeliveriesMax) {
        ADD_FAILURE() << "the network does not settle";
        queue_.clear();
        queue_head_ = 0;
        return;
      }
      if (!deliverable(m)) continue;
      trace.push_back(m);
      TestNode& to = node(m.to);
      to.step(m);
      collect(to);
    }
    queue_.clear();
    queue_head_ = 0;
  }
}

void Cluster::tick(NodeId id, int ticks) {
  for (int i = 0; i < ticks; ++i) {
    if (up_[id]) node(id).core().tick();
    stabilize();
  }
}

void Cluster::tick_all(int ticks) {
  for (int i = 0; i < ticks; ++i) {
    for (NodeId id : ids_) {
      if (up_[id]) node(id).core().tick();
    }
    stabilize();
  }
}

bool Cluster::tick_until(const std::function<bool()>& pred, int max_ticks) {
  for (int i = 0; i < max_ticks; ++i) {
    if (pred()) return true;
    tick_all();
  }
  return pred();
}

void Cluster::inject(Message m) {
  queue_.push_back(std::move(m));
  stabilize();
}

void Cluster::campaign(NodeId id) {
  node(id).core().campaign();
  stabilize();
}

NodeId Cluster::leader() {
  NodeId best = kNoNode;
  Term best_term = 0;
  for (NodeId id : ids_) {
    if (!up_[id]) continue;
    const RaftCore& c = node(id).core();
    if (c.role() == Role::kLeader && (best == kNoNode || c.term() > best_term)) {
      best = id;
      best_term = c.term();
    }
  }
  return best;
}

ProposeResult Cluster::propose(NodeId id, const std::string& data) {
  const ProposeResult r = node(id).core().propose(Payload(data));
  stabilize();
  return r;
}

size_t Cluster::count(MessageType type, NodeId from, NodeId to) const {
  return static_cast<size_t>(std::count_if(trace.begin(), trace.end(), [&](const Message& m) {
    return m.type == type && (from == kNoNode || m.from == from) && (to == kNoNode || m.to == to);
  }));
}

size_t Cluster::count_rejects(MessageType type, NodeId from, NodeId to) const {
  return static_cast<size_t>(std::count_if(trace.begin(), trace.end(), [&](const Message& m) {
    return m.type == type && m.reject && (from == kNoNode || m.from == from) &&
           (to == kNoNode || m.to == to);
  }));
}

}  // namespace raft::test
