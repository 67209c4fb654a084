#include "raft_node.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <random>
#include <string>

namespace stress_node {

using Clock = std::chrono::steady_clock;
// Niceness of the thread that serializes snapshots (0 normal .. 19 lowest priority).
constexpr int kSnapshotThreadNice = 10;

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kNotLeader: return "not_leader";
    case Outcome::kNoLeader: return "no_leader";
    case Outcome::kBusy: return "busy";
    case Outcome::kLost: return "lost";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kShuttingDown: return "shutting_down";
    case Outcome::kStopped: return "stopped";
    case Outcome::kInvalid: return "invalid";
  }
  return "unknown";
}

// Executes Ready batches against the store. The order is raft::execute_ready's, not ours.
class RaftNode::Io final : public raft::BatchIo {
 public:
  explicit Io(RaftNode& node) : node_(node) {}

  void persist(const raft::Ready& ready) override {
    const auto started = Clock::now();
    const kv::Status status = node_.store_->persist(ready);
    const auto took = Clock::now() - started;
    // The histogram is of synced writes (fsync latency); a commit-index-only write is not.
    if (node_.config_.persist_latency != nullptr && ready.must_sync()) {
      node_.config_.persist_latency->observe(took);
    }
    if (ready.snapshot && status.is_ok()) {
      node_.snapshot_timings_.installed.add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    }
    if (!status.is_ok()) {
      // Continuing would send promises (votes, acknowledgements) we did not keep.
      spdlog::critical("persist failed: {}; aborting", status.to_string());
      std::abort();
    }
  }

  void send(std::vector<raft::Message>&& messages) override {
    node_.sender_.send(std::move(messages));
  }

  void apply(const raft::Ready& ready) override {
    if (ready.snapshot) {
      spdlog::info("installed snapshot at index {} (term {}, {} bytes)", ready.snapshot->index,
                   ready.snapshot->term, ready.snapshot->size_bytes);
      node_.on_snapshot_installed(ready.snapshot->index);
    }
    if (ready.committed_entries.empty()) return;
    kv::Result<std::vector<kv::ApplyResult>> results = node_.store_->apply(ready);
    if (!results.is_ok()) {
      spdlog::critical("apply failed: {}; aborting", results.status().to_string());
      std::abort();
    }
    // Refresh first so that a client answered below sees its write in /status at once.
    node_.refresh_status();
    node_.on_applied(results.value(), ready.committed_entries);
  }

  void reads(std::vector<raft::ReadState>&& reads) override { node_.on_read_states(reads); }

  void soft_state_changed(const raft::SoftState& soft) override {
    node_.on_leader_changed(soft.leader);
    if (soft.leader == raft::kNoNode) {
      spdlog::info("term {}: {} (no leader)", soft.term, raft::to_string(soft.role));
    } else {
      spdlog::info("term {}: {}, leader is node {}", soft.term, raft::to_string(soft.role),
                   soft.leader);
    }
  }

 private:
  RaftNode& node_;
};

namespace {

uint64_t random_u64() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

// What a peer batch costs the inbox: its payload bytes, plus a fixed allowance per message and
// entry so that empty ones are not free.
uint64_t inbox_bytes_of(const std::vector<raft::Message>& messages) {
  uint64_t bytes = 0;
  for (const raft::Message& m : messages) {
    bytes += 64 + m.snapshot_data.size();
    for (const raft::Entry& e : m.entries) bytes += raft::entry_size_bytes(e);
  }
  return bytes;
}

}  // namespace

RaftNode::RaftNode(RaftNodeConfig config, std::unique_ptr<kv::Store> store, PeerSender& sender)
    : config_(std::move(config)),
      store_(std::move(store)),
      sender_(sender),
      next_read_id_(random_u64()) {
  raft::Config rc;
  rc.id = config_.id;
  rc.voters = config_.voters;
  rc.applied_index = store_->state_machine().applied_index();
  rc.election_timeout_ticks = config_.election_timeout_ticks;
  rc.heartbeat_interval_ticks = config_.heartbeat_interval_ticks;
  rc.pending_reads_max = config_.pending_reads_max;
  rc.seed = std::random_device{}();  // election timeouts must differ between nodes
  core_ = std::make_unique<raft::RaftCore>(rc, store_->log());
  io_ = std::make_unique<Io>(*this);
  refresh_status();
}

RaftNode::~RaftNode() { stop(std::chrono::milliseconds(0)); }

void RaftNode::start() {
  spdlog::info("node {} starting: term {}, commit {}, applied {}, last index {}", config_.id,
               core_->term(), core_->commit_index(), core_->applied_index(), core_->last_index());
  thread_ = std::thread([this] { run(); });
}

bool RaftNode::post(std::function<void()> task, uint64_t bytes) {
  {
    std::lock_guard lock(inbox_mutex_);
    if (stopping_) return false;
    if (inbox_.size() >= config_.inbox_max) {
      ++inbox_rejected_tasks_;
      return false;
    }
    if (bytes > 0 && inbox_bytes_ + bytes > config_.inbox_bytes_max) {
      ++inbox_rejected_bytes_;
      return false;
    }
    inbox_.push_back(Task{std::move(task), bytes});
    inbox_bytes_ += bytes;
  }
  inbox_cv_.notify_one();
  return true;
}

// ---------------------------------------------------------------------------------------------
// The raft thread

void RaftNode::run() {
  const auto tick = std::chrono::milliseconds(config_.tick_ms);
  auto next_tick = Clock::now() + tick;
  std::deque<Task> tasks;
  for (;;) {
    {
      std::unique_lock lock(inbox_mutex_);
      inbox_cv_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty(); });
      if (stopping_ && inbox_.empty()) break;
      tasks.swap(inbox_);
      inbox_bytes_ = 0;  // every queued task was taken
    }
    // Everything that arrived during the previous fsync is handled here and persisted by the
    // next one: group commit.
    for (auto& task : tasks) task.run();
    tasks.clear();
    const auto now = Clock::now();
    if (now >= next_tick) {
      core_->tick();
      next_tick = std::max(next_tick + tick, now);
      expire_requests(now);
    }
    while (core_->has_ready()) raft::execute_ready(*core_, *io_);
    serve_reads();
    maybe_snapshot();
    refresh_status();
  }
  fail_all_pending();
  refresh_status();
}

void RaftNode::stop(std::chrono::milliseconds transfer_timeout) {
  if (!thread_.joinable()) return;
  if (transfer_timeout.count() > 0) hand_over_leadership(transfer_timeout);
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
  }
  inbox_cv_.notify_one();
  thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  spdlog::info("node {} stopped at term {}, applied {}", config_.id, core_->term(),
               core_->applied_index());
}

void RaftNode::hand_over_leadership(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // Pick the follower with the highest match index: it catches up soonest (thesis §3.10).
  // 0: undecided, 1: a transfer started, 2: nobody to hand over to (not leader, no live peer).
  auto handover = std::make_shared<std::atomic<int>>(0);
  const bool queued = post([this, handover] {
    const raft::CoreStatus s = core_->status();
    const raft::FollowerStatus* best = nullptr;
    for (const auto& f : s.followers) {
      if (f.recent_active && (best == nullptr || f.match_index > best->match_index)) best = &f;
    }
    if (core_->role() != raft::Role::kLeader || best == nullptr) {
      handover->store(2);
      return;
    }
    spdlog::info("handing leadership to node {} before shutdown", best->id);
    // A refused transfer is fine: we stop regardless once the deadline passes.
    handover->store(core_->transfer_leadership(best->id) == raft::Status::kOk ? 1 : 2);
  });
  if (!queued) return;
  // Wait (bounded) until we no longer lead (when a transfer started) and the writes we accepted
  // have an answer.
  while (Clock::now() < deadline) {
    const NodeStatus s = status();
    const int state = handover->load();
    const bool led_over = state == 2 || (state == 1 && s.core.soft.role != raft::Role::kLeader);
    if (led_over && s.pending_writes == 0) return;
    std::unique_lock lock(status_mutex_);
    status_cv_.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
  }
}

void RaftNode::expire_requests(Clock::time_point now) {
  for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    // The entry may still commit later: the outcome is unknown, not failed.
    it->second.done(WriteOutcome{Outcome::kTimeout, core_->leader(), {}});
    it = pending_writes_.erase(it);
  }
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    it->second.done(ReadOutcome{Outcome::kTimeout, core_->leader()});
    it = pending_reads_.erase(it);
  }
}

void RaftNode::fail_all_pending() {
  for (ForcedResync& r : forced_waiting_) r.done(raft::Status::kBusy);
  forced_waiting_.clear();
  // These writes are in the log: a later leader may still commit them.
  for (auto& [index, w] : pending_writes_) {
    w.done(WriteOutcome{Outcome::kStopped, raft::kNoNode, {}});
  }
  pending_writes_.clear();
  for (auto& [id, r] : pending_reads_) r.done(ReadOutcome{Outcome::kShuttingDown, raft::kNoNode});
  pending_reads_.clear();
}

void RaftNode::on_applied(const std::vector<kv::ApplyResult>& results,
                          const std::vector<raft::Entry>& entries) {
  for (size_t i = 0; i < entries.size() && i < results.size(); ++i) {
    auto [it, end] = pending_writes_.equal_range(entries[i].index);
    while (it != end) {
      // The proposal committed iff the entry applied at its index carries its term.
      if (entries[i].term == it->second.term) {
        it->second.done(WriteOutcome{Outcome::kOk, core_->leader(), results[i]});
      } else {
        it->second.done(WriteOutcome{Outcome::kLost, core_->leader(), {}});
      }
      it = pending_writes_.erase(it);
    }
  }
}

void RaftNode::on_snapshot_installed(raft::Index index) {
  // Writes we proposed at or below the snapshot's index were decided without us seeing the
  // entries: we cannot tell whether ours won, so their outcome is unknown.
  auto end = pending_writes_.upper_bound(index);
  for (auto it = pending_writes_.begin(); it != end; ++it) {
    it->second.done(WriteOutcome{Outcome::kTimeout, core_->leader(), {}});
  }
  pending_writes_.erase(pending_writes_.begin(), end);
}

void RaftNode::on_read_states(const std::vector<raft::ReadState>& reads) {
  for (const raft::ReadState& rs : reads) {
    auto it = pending_reads_.find(rs.request_id);
    if (it == pending_reads_.end()) continue;  // already expired
    if (!rs.ok) {
      it->second.done(ReadOutcome{Outcome::kNoLeader, core_->leader()});
      pending_reads_.erase(it);
      continue;
    }
    it->second.confirmed = true;
    it->second.index = rs.index;
  }
}

void RaftNode::on_leader_changed(raft::NodeId leader) {
  if (leader == known_leader_) return;
  known_leader_ = leader;
  // A follower's unconfirmed read waits for the answer to a ReadIndex it sent to the old
  // leader, which may never come (it crashed, was stopped, or is cut off): fail it now, with the
  // new leader as the hint, instead of after read_timeout. Reads change nothing, so the client
  // can simply retry. (A leader's own queued reads are answered by the core when it steps down.)
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.confirmed) {
      ++it;
      continue;
    }
    it->second.done(ReadOutcome{Outcome::kNoLeader, leader});
    it = pending_reads_.erase(it);
  }
}

void RaftNode::serve_reads() {
  const raft::Index applied = core_->applied_index();
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (!it->second.confirmed || it->second.index > applied) {
      ++it;
      continue;
    }
    it->second.done(ReadOutcome{Outcome::kOk, core_->leader()});
    it = pending_reads_.erase(it);
  }
}

uint64_t snapshot_interval_entries(uint64_t threshold_entries, double state_ratio,
                                   uint64_t live_records) {
  // Past 2^53 records the double loses units; no store gets near it.
  const auto proportional = static_cast<uint64_t>(state_ratio * static_cast<double>(live_records));
  return std::max(threshold_entries, proportional);
}

void RaftNode::maybe_snapshot() {
  if (snapshot_in_progress_) return;
  if (!forced_waiting_.empty()) {
    // Forced resyncs that arrived while the previous snapshot was being written want the
    // state as of now, not as of that capture.
    start_snapshot(std::exchange(forced_waiting_, {}));
    return;
  }
  const raft::Index applied = core_->applied_index();
  const kv::StateMachine& state = store_->state_machine();
  const uint64_t interval =
      snapshot_interval_entries(config_.snapshot_threshold_entries, config_.snapshot_state_ratio,
                                state.count() + state.idempotency_key_count());
  if (applied < store_->log().snapshot_meta().index + interval) return;
  start_snapshot({});
}

void RaftNode::start_snapshot(std::vector<ForcedResync> forced) {
  // Capture here (cheap, consistent at `applied`), serialize on another thread so applies,
  // heartbeats and elections go on, and make it current back on this thread.
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  snapshot_in_progress_ = true;
  auto capture = std::make_shared<kv::SnapshotCapture>(store_->capture_snapshot());
  auto requests = std::make_shared<std::vector<ForcedResync>>(std::move(forced));
  snapshot_thread_ = std::thread([this, capture, requests] {
    // Writing the state competes with the raft and HTTP threads for the cores; the client
    // latency matters more than how soon the snapshot is done. (Linux: nice is per thread.)
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kSnapshotThreadNice);
    const auto started = Clock::now();
    kv::Result<kv::SnapshotFile> file = store_->write_snapshot(*capture);
    const auto took_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    auto commit = [this, file = std::move(file), took_ms, requests]() mutable {
      snapshot_in_progress_ = false;
      const bool committed = commit_snapshot(file, took_ms);
      for (ForcedResync& r : *requests) send_forced_snapshot(r, committed);
    };
    if (!post(std::move(commit))) {
      // The node is stopping (or its inbox is full): nothing will commit this file, and the
      // raft thread may be gone, so answer the waiting resyncs here.
      snapshot_in_progress_ = false;
      for (ForcedResync& r : *requests) r.done(raft::Status::kBusy);
    }
  });
}

bool RaftNode::commit_snapshot(const kv::Result<kv::SnapshotFile>& file, int64_t took_ms) {
  if (!file.is_ok()) {
    spdlog::error("snapshot write failed: {}", file.status().to_string());
    return false;
  }
  const kv::Status st =
      store_->commit_snapshot(file.value(), core_->conf(), config_.snapshot_keep_entries);
  if (!st.is_ok()) {
    spdlog::error("snapshot commit failed: {}", st.to_string());
    return false;
  }
  snapshot_timings_.created.add(static_cast<uint64_t>(took_ms));
  spdlog::info("snapshot at index {} written in {} ms; log compacted",
               store_->log().snapshot_meta().index, took_ms);
  return true;
}

void RaftNode::send_forced_snapshot(ForcedResync& request, bool snapshot_committed) {
  if (!snapshot_committed) {
    request.done(raft::Status::kBusy);
    return;
  }
  // Leadership may have changed while the snapshot was written: send_snapshot says so.
  const raft::Status st = core_->send_snapshot(request.target);
  spdlog::info("forced resync of node {} with snapshot at index {}: {}", request.target,
               store_->log().snapshot_meta().index, raft::to_string(st));
  request.done(st);
}

void RaftNode::track_snapshot_sends(const raft::CoreStatus& core, Clock::time_point now) {
  const auto ms = [now](Clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
  };
  std::map<raft::NodeId, std::pair<Clock::time_point, raft::Index>> still;
  snapshot_timings_.sending_for_ms.clear();
  if (core.soft.role == raft::Role::kLeader) {
    for (const raft::FollowerStatus& f : core.followers) {
      auto it = snapshot_sends_.find(f.id);
      if (f.state == raft::ProgressState::kSnapshot) {
        const auto entry =
            it != snapshot_sends_.end() ? it->second : std::make_pair(now, f.snapshot_index);
        still.emplace(f.id, entry);
        snapshot_timings_.sending_for_ms[f.id] = ms(entry.first);
      } else if (it != snapshot_sends_.end()) {
        if (f.match_index >= it->second.second) {
          snapshot_timings_.sent.add(static_cast<uint64_t>(ms(it->second.first)));
        } else {
          ++snapshot_timings_.sends_abandoned;
        }
      }
    }
  }
  // Transfers to followers we no longer track (we stopped leading) count as abandoned.
  for (const auto& [id, entry] : snapshot_sends_) {
    if (!still.contains(id) && core.soft.role != raft::Role::kLeader) {
      ++snapshot_timings_.sends_abandoned;
    }
  }
  snapshot_sends_ = std::move(still);
}

void RaftNode::refresh_status() {
  NodeStatus s;
  s.core = core_->status();
  // Io::apply refreshes right after the apply batch, before the core's advance() moves its own
  // applied index: the state machine's is the one a client answered from that batch must see.
  s.core.applied_index = std::max(s.core.applied_index, store_->state_machine().applied_index());
  s.counters = core_->counters();
  s.log = store_->log().stats();
  s.snapshot = store_->log().snapshot_meta();
  s.entry_count = store_->state_machine().count();
  s.pending_writes = pending_writes_.size();
  s.pending_reads = pending_reads_.size();
  {
    std::lock_guard lock(inbox_mutex_);
    s.inbox_bytes = inbox_bytes_;
    s.inbox_rejected_full_tasks = inbox_rejected_tasks_;
    s.inbox_rejected_full_bytes = inbox_rejected_bytes_;
  }
  const auto now = Clock::now();
  track_snapshot_sends(s.core, now);
  s.snapshot_timings = snapshot_timings_;
  for (const auto& [peer, at] : last_contact_) {
    s.last_contact_ms[peer] =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - at).count();
  }
  {
    std::lock_guard lock(status_mutex_);
    s.batches = status_.batches + 1;
    status_ = std::move(s);
  }
  status_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Thread-safe entry points

void RaftNode::propose(kv::Command command, WriteDone done) {
  auto task = [this, command = std::move(command), done]() mutable {
    if (core_->role() != raft::Role::kLeader) {
      const raft::NodeId leader = core_->leader();
      done(WriteOutcome{
          leader == raft::kNoNode ? Outcome::kNoLeader : Outcome::kNotLeader, leader, {}});
      return;
    }
    if (pending_writes_.size() >= config_.pending_writes_max) {
      done(WriteOutcome{Outcome::kBusy, core_->leader(), {}});
      return;
    }
    kv::Result<std::string> payload = kv::encode_command(command);
    if (!payload.is_ok()) {
      done(WriteOutcome{Outcome::kInvalid, core_->leader(), {}});
      return;
    }
    const raft::ProposeResult r = core_->propose(raft::Payload(std::move(payload).value()));
    switch (r.status) {
      case raft::Status::kOk:
        // Never emplace-or-keep: a record left at this index by an earlier term (see
        // pending_writes_) stays beside the new one, and the apply decides both.
        pending_writes_.emplace(
            r.index, PendingWrite{r.term, std::move(done), Clock::now() + config_.commit_timeout});
        return;
      case raft::Status::kBusy: done(WriteOutcome{Outcome::kBusy, core_->leader(), {}}); return;
      default:
        // Not leader any more, or a leadership transfer is under way: retry shortly.
        done(WriteOutcome{Outcome::kNoLeader, core_->leader(), {}});
    }
  };
  if (!post(std::move(task))) {
    done(WriteOutcome{stopping() ? Outcome::kShuttingDown : Outcome::kBusy, raft::kNoNode, {}});
  }
}

void RaftNode::read_barrier(ReadDone done) {
  auto task = [this, done]() mutable {
    if (pending_reads_.size() >= config_.pending_reads_max) {
      done(ReadOutcome{Outcome::kBusy, core_->leader()});
      return;
    }
    const uint64_t id = next_read_id_++;  // wraps around: ids only need to differ
    const raft::Status st = core_->read_index(id);
    if (st != raft::Status::kOk) {
      done(ReadOutcome{st == raft::Status::kBusy ? Outcome::kBusy : Outcome::kNoLeader,
                       core_->leader()});
      return;
    }
    pending_reads_.emplace(id, PendingRead{std::move(done), Clock::now() + config_.read_timeout});
  };
  if (!post(std::move(task))) {
    done(ReadOutcome{stopping() ? Outcome::kShuttingDown : Outcome::kBusy, raft::kNoNode});
  }
}

void RaftNode::receive(std::vector<raft::Message> messages) {
  if (!messages.empty()) sender_.peer_alive(messages.front().from);
  const uint64_t bytes = inbox_bytes_of(messages);
  // Dropped when the inbox is full (tasks or bytes): Raft retransmits whatever matters.
  (void)post(
      [this, messages = std::move(messages)] {
        const auto now = Clock::now();
        for (const raft::Message& m : messages) {
          last_contact_[m.from] = now;
          step_peer_message(m);
        }
      },
      bytes);
}

void RaftNode::step_peer_message(const raft::Message& m) {
  if (m.type == raft::MessageType::kSnapshot && m.snapshot_last &&
      core_->would_stage_snapshot_chunk(m)) {
    // The last chunk installs the snapshot in the next persist, where a bad body would be a
    // failed persist (an abort). Check the whole body first; the earlier chunks the core took
    // must be staged for that, so run their batches now.
    while (core_->has_ready()) raft::execute_ready(*core_, *io_);
    const kv::Status st = store_->log().stage_and_verify_last_chunk(
        raft::SnapshotChunk{m.snapshot, m.snapshot_offset, m.snapshot_data, true});
    if (!st.is_ok()) {
      snapshot_reject_log_.warn("snapshot " + std::to_string(m.snapshot.index) + " from node " +
                                std::to_string(m.from) + " rejected: " + st.to_string());
      core_->reject_snapshot_body(m);
      return;
    }
  }
  core_->step(m);
}

void RaftNode::force_resync(raft::NodeId target, std::function<void(raft::Status)> done) {
  auto task = [this, target, done] {
    if (core_->role() != raft::Role::kLeader) {
      done(raft::Status::kNotLeader);
      return;
    }
    if (target == config_.id ||
        std::find(config_.voters.begin(), config_.voters.end(), target) == config_.voters.end()) {
      done(raft::Status::kInvalidArgument);
      return;
    }
    if (core_->applied_index() == 0) {
      done(raft::Status::kBusy);  // nothing applied yet: no state to snapshot
      return;
    }
    // A forced resync sends the state as of now, so it takes a fresh snapshot first, through
    // the same off-thread path as the background snapshots (this thread keeps beating hearts
    // meanwhile). One snapshot at a time: while one is being written, wait for the next.
    if (forced_waiting_.size() >= kForcedResyncsWaitingMax) {
      done(raft::Status::kBusy);
      return;
    }
    forced_waiting_.push_back(ForcedResync{target, done});
    maybe_snapshot();
  };
  if (!post(std::move(task))) done(raft::Status::kBusy);
}

NodeStatus RaftNode::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

bool RaftNode::stopping() const {
  std::lock_guard lock(inbox_mutex_);
  return stopping_;
}

}  // namespace stress_node
