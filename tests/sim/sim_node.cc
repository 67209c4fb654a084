#include "sim/sim_node.h"

#include <sstream>
#include <utility>

#include "raft/assert.h"
#include "sim/str.h"

namespace sim {

const char* to_string(CrashPoint point) {
  switch (point) {
    case CrashPoint::kNone: return "none";
    case CrashPoint::kDuringPersist: return "during persist";
    case CrashPoint::kAfterPersist: return "after persist";
    case CrashPoint::kAfterSend: return "after send";
  }
  return "?";
}

SimNode::SimNode(raft::NodeId id, NodeContext context, Rng disk_rng)
    : id_(id), context_(context), disk_rng_(disk_rng) {}

NodeView SimNode::view() const {
  return NodeView{id_, core_->role(), core_->term(), core_->commit_index()};
}

void SimNode::report(const char* property, std::string description) {
  // Without a checker (benchmarks) there is nobody to report to: a broken host is fatal.
  RAFT_ASSERT(context_.checker != nullptr, "simulated host detected a violation");
  context_.checker->fail(property, std::move(description));
}

// --- lifecycle -----------------------------------------------------------------------------

void SimNode::boot(raft::Config config, uint64_t core_seed) {
  RAFT_ASSERT(!alive(), "boot of a running node");
  // The state machine is volatile: rebuild it from the durable snapshot (or start empty).
  const raft::SnapshotMeta meta = storage_.snapshot_meta();
  state_machine_ = StateMachine{};
  if (meta.index > 0) {
    std::optional<StateMachine> restored = StateMachine::deserialize(storage_.snapshot_body());
    if (!restored || restored->applied_index() != meta.index) {
      report("SnapshotStaging", str("n", id_, " holds an unreadable snapshot"));
      return;
    }
    state_machine_ = *restored;
  }
  config.id = id_;
  config.applied_index = state_machine_.applied_index();
  config.seed = core_seed;
  ++incarnation_;
  crash_point_ = CrashPoint::kNone;
  dying_ = false;
  if (context_.checker != nullptr) {
    context_.checker->on_boot(id_, storage_.hard_state());
    context_.checker->on_state_restored(id_, meta.index, state_machine_.digest());
  }
  context_.trace->event(*context_.now, EventKind::kRestart, id_, incarnation_, meta.index, [&] {
    const raft::HardState hs = storage_.hard_state();
    std::ostringstream s;
    s << "incarnation=" << incarnation_ << " term=" << hs.current_term
      << " commit=" << hs.commit_index << " snapshot=" << meta.index
      << " last=" << storage_.last_index();
    return s.str();
  });
  core_.emplace(config, storage_);
  run_ready();
}

void SimNode::crash() {
  RAFT_ASSERT(alive(), "crash of a node that is down");
  core_.reset();
  lose_unsynced_writes();
  ++stats_.crashes;
  context_.trace->event(*context_.now, EventKind::kCrash, id_, 0, 0,
                        [] { return std::string("between events"); });
}

// --- inputs --------------------------------------------------------------------------------

void SimNode::tick() {
  core_->tick();
  run_ready();
}

void SimNode::step(const raft::Message& message) {
  core_->step(message);
  run_ready();
}

std::vector<raft::ProposeResult> SimNode::propose_many(std::vector<raft::Payload> data) {
  std::vector<raft::ProposeResult> results;
  results.reserve(data.size());
  for (raft::Payload& d : data) results.push_back(core_->propose(std::move(d)));
  run_ready();
  return results;
}

raft::Status SimNode::read_index(uint64_t request_id) {
  raft::Status status = core_->read_index(request_id);
  run_ready();
  return status;
}

raft::Status SimNode::transfer_leadership(raft::NodeId to) {
  raft::Status status = core_->transfer_leadership(to);
  run_ready();
  return status;
}

void SimNode::campaign() {
  core_->campaign();
  run_ready();
}

// One batch per execute_ready call, so that a crash inside a batch stops right there: the dead
// core must not be asked for another batch that assumes the lost writes were made.
void SimNode::run_ready() {
  int batches = 0;
  while (core_ && core_->has_ready()) {
    if (batches >= kBatchesPerInputMax) {
      report("Bound",
             str("n", id_, " produced more than ", kBatchesPerInputMax, " batches for one input"));
      return;
    }
    post_persist_delay_.reset();
    batches += raft::execute_ready(*core_, *this, 1);
    ++stats_.batches;
    if (dying_) {
      core_.reset();
      dying_ = false;
      lose_unsynced_writes();
      ++stats_.crashes;
      context_.trace->event(*context_.now, EventKind::kCrash, id_,
                            static_cast<uint64_t>(crash_point_), 0,
                            [&] { return std::string(to_string(crash_point_)); });
    }
  }
}

void SimNode::maybe_snapshot(uint64_t threshold_entries, uint64_t keep_entries) {
  if (!alive()) return;
  const raft::Index applied = state_machine_.applied_index();
  if (applied <= storage_.snapshot_meta().index + threshold_entries) return;
  storage_.create_snapshot(applied, core_->conf(), state_machine_.serialize(), keep_entries);
  mark_synced();
  ++stats_.snapshots_created;
  context_.trace->event(*context_.now, EventKind::kSnapshotCreated, id_, applied, keep_entries,
                        [&] { return str("index=", applied); });
}

void SimNode::force_snapshot(raft::NodeId to, uint64_t keep_entries) {
  if (!alive() || core_->role() != raft::Role::kLeader) return;
  const raft::Index applied = state_machine_.applied_index();
  if (applied > storage_.snapshot_meta().index) {
    storage_.create_snapshot(applied, core_->conf(), state_machine_.serialize(), keep_entries);
    mark_synced();
    ++stats_.snapshots_created;
  }
  const raft::Status status = core_->send_snapshot(to);
  if (status == raft::Status::kOk) ++stats_.snapshots_forced;
  context_.trace->event(*context_.now, EventKind::kSnapshotForced, id_, to,
                        storage_.snapshot_meta().index, [&] {
                          return str("to=n", to, " index=", storage_.snapshot_meta().index, " ",
                                     raft::to_string(status));
                        });
  run_ready();
}

// --- raft::BatchIo -------------------------------------------------------------------------

void SimNode::pick_crash_point(const raft::Ready& ready) {
  crash_point_ = CrashPoint::kNone;
  if (!ready.must_sync()) return;
  if (forced_crash_point_ != CrashPoint::kNone) {
    crash_point_ = std::exchange(forced_crash_point_, CrashPoint::kNone);
  } else if (disk_rng_.chance(crash_in_batch_probability_)) {
    crash_point_ = static_cast<CrashPoint>(1 + disk_rng_.below(3));
  }
}

void SimNode::lose_unsynced_writes() {
  if (storage_.hard_state() == synced_hard_state_ ||
      !disk_rng_.chance(unsynced_loss_probability_)) {
    return;
  }
  const raft::HardState lost = storage_.hard_state();
  storage_.set_hard_state(synced_hard_state_);
  context_.trace->event(*context_.now, EventKind::kCrash, id_, lost.commit_index,
                        synced_hard_state_.commit_index, [&] {
                          return str("unsynced hard state lost: term=", lost.current_term,
                                     " commit=", lost.commit_index,
                                     " back to term=", synced_hard_state_.current_term,
                                     " commit=", synced_hard_state_.commit_index);
                        });
}

void SimNode::write_hard_state(const raft::HardState& written) {
  const raft::HardState before = storage_.hard_state();
  raft::HardState hs = written;
  if (context_.bug == InjectedBug::kForgetVote) hs.voted_for = raft::kNoNode;
  storage_.set_hard_state(hs);
  if (context_.checker != nullptr) {
    context_.checker->on_hard_state_persisted(id_, before, hs, storage_);
  }
}

void SimNode::persist(const raft::Ready& ready) {
  if (dying_) return;
  if (!ready.must_sync() || (context_.bug == InjectedBug::kVoteUnsynced && ready.entries.empty() &&
                             ready.snapshot_chunks.empty() && !ready.snapshot)) {
    // Written, not synced: a crash may take it (lose_unsynced_writes).
    if (ready.hard_state) write_hard_state(*ready.hard_state);
    post_persist_delay_ = 0;
    return;
  }
  pick_crash_point(ready);
  if (crash_point_ == CrashPoint::kDuringPersist) {
    dying_ = true;  // nothing of this batch reaches the disk
    return;
  }
  const raft::HardState before = storage_.hard_state();
  for (const raft::SnapshotChunk& chunk : ready.snapshot_chunks) {
    if (!stage_chunk(chunk)) return;
  }
  if (ready.snapshot && ready.snapshot->index <= before.commit_index) {
    ++stats_.snapshots_reinstalled;  // forced: the state is replaced, the log stays
  }
  if (ready.snapshot && !install_staged(*ready.snapshot)) return;
  append_entries(ready.entries);
  if (ready.hard_state) write_hard_state(*ready.hard_state);
  mark_synced();
  post_persist_delay_ =
      persist_delay_ticks_max_ > 0 ? disk_rng_.range(0, persist_delay_ticks_max_) : 0;
  if (crash_point_ == CrashPoint::kAfterPersist) dying_ = true;
}

bool SimNode::stage_chunk(const raft::SnapshotChunk& chunk) {
  if (chunk.offset == 0) {
    staging_.clear();
    staging_index_ = chunk.meta.index;
  } else if (chunk.meta.index != staging_index_ || chunk.offset != staging_.size()) {
    std::ostringstream s;
    s << "n" << id_ << " got chunk of snapshot " << chunk.meta.index << " at offset "
      << chunk.offset << " but holds " << staging_.size() << " bytes of snapshot "
      << staging_index_;
    report("SnapshotStaging", s.str());
    return false;
  }
  staging_.append(chunk.data.view());
  if (staging_.size() > chunk.meta.size_bytes) {
    report("SnapshotStaging",
           str("n", id_, " staged more bytes than snapshot ", chunk.meta.index, " has"));
    return false;
  }
  return true;
}

bool SimNode::install_staged(const raft::SnapshotMeta& meta) {
  if (staging_index_ != meta.index || staging_.size() != meta.size_bytes ||
      raft::MemoryStorage::checksum(staging_) != meta.checksum) {
    std::ostringstream s;
    s << "n" << id_ << " asked to install snapshot " << meta.index << " (" << meta.size_bytes
      << " bytes) but staged " << staging_.size() << " bytes of snapshot " << staging_index_
      << (raft::MemoryStorage::checksum(staging_) != meta.checksum ? " (bad checksum)" : "");
    report("SnapshotStaging", s.str());
    return false;
  }
  storage_.install_snapshot(meta, std::move(staging_));
  staging_.clear();
  staging_index_ = 0;
  ++stats_.snapshots_installed;
  if (context_.checker != nullptr) context_.checker->on_snapshot_installed(id_, meta);
  context_.trace->event(*context_.now, EventKind::kSnapshotInstalled, id_, meta.index, meta.term,
                        [&] { return str("index=", meta.index); });
  return true;
}

void SimNode::append_entries(const std::vector<raft::Entry>& entries) {
  if (entries.empty()) return;
  for (size_t k = 0; k < entries.size(); ++k) {
    if (entries[k].index == 0 || (k > 0 && entries[k].index != entries[k - 1].index + 1)) {
      report("ReadyContract",
             str("n", id_, " was asked to persist non-consecutive entries: ",
                 entries[k > 0 ? k - 1 : 0].index, " then ", entries[k].index, " (", entries.size(),
                 " entries from ", entries.front().index, ")"));
      return;
    }
  }
  if (context_.bug == InjectedBug::kCorruptPersistedEntry && id_ == 0) {
    std::vector<raft::Entry> corrupted = entries;
    for (raft::Entry& e : corrupted) {
      if (e.type != raft::EntryType::kNormal || e.data.empty()) continue;
      std::string bytes(e.data.view());
      bytes.back() = static_cast<char>(bytes.back() ^ 1);
      e.data = raft::Payload(std::move(bytes));
    }
    write_entries(corrupted);
  } else {
    write_entries(entries);
  }
}

void SimNode::write_entries(const std::vector<raft::Entry>& entries) {
  storage_.append(entries);
  if (context_.checker != nullptr) context_.checker->on_entries_persisted(id_, storage_, entries);
}

void SimNode::send(std::vector<raft::Message>&& messages) {
  if (dying_) return;
  // After a synced write the messages leave once the write is done (persist time); before it
  // (the leader's replication messages) they leave now.
  const Tick leave = *context_.now + post_persist_delay_.value_or(0);
  for (raft::Message& m : messages) {
    if (context_.checker != nullptr) context_.checker->on_message_sent(m);
    context_.network->send(std::move(m), leave);
  }
  if (crash_point_ == CrashPoint::kAfterSend) dying_ = true;
}

void SimNode::apply(const raft::Ready& ready) {
  if (dying_) return;
  if (crash_point_ == CrashPoint::kAfterSend) {
    dying_ = true;  // the batch had nothing to send: crash before applying
    return;
  }
  if (ready.snapshot) {
    std::optional<StateMachine> restored = StateMachine::deserialize(storage_.snapshot_body());
    if (!restored || restored->applied_index() != ready.snapshot->index) {
      report("SnapshotStaging", str("n", id_, " installed an unreadable snapshot"));
      return;
    }
    state_machine_ = *restored;
    if (context_.checker != nullptr) {
      context_.checker->on_state_restored(id_, ready.snapshot->index, state_machine_.digest());
    }
  }
  for (const raft::Entry& e : ready.committed_entries) {
    if (e.index != state_machine_.applied_index() + 1) {
      report("StateMachineSafety", str("n", id_, " was handed entry ", e.index, " to apply after ",
                                       state_machine_.applied_index()));
      return;
    }
    if (!state_machine_.apply(e)) {
      report("StateMachineSafety",
             str("n", id_, " was handed a malformed entry ", e.index, " to apply"));
      return;
    }
    if (context_.checker != nullptr) {
      context_.checker->on_applied(id_, e, state_machine_.digest());
    }
  }
}

void SimNode::reads(std::vector<raft::ReadState>&& reads) {
  if (dying_) return;
  for (const raft::ReadState& read : reads) {
    if (context_.checker != nullptr) context_.checker->on_read_state(id_, read);
    if (read.ok) ++stats_.reads_ok;
    context_.trace->event(
        *context_.now, EventKind::kReadState, id_, read.request_id, read.index, [&] {
          return str("req=", read.request_id, " index=", read.index, read.ok ? " ok" : " failed");
        });
  }
}

void SimNode::soft_state_changed(const raft::SoftState& soft) {
  if (dying_) return;
  context_.trace->event(*context_.now, EventKind::kSoftState, id_, soft.term,
                        static_cast<uint64_t>(soft.role), [&] { return describe(soft); });
}

}  // namespace sim
