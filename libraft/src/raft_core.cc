#include "raft/raft_core.h"

#include <algorithm>

#include "raft/assert.h"

namespace raft {

namespace {

// A Replicate pipeline whose match index has not moved for this many heartbeat answers while
// Appends are outstanding has lost one; fall back to Probe and resend from the match point.
// More than one answer, because a slow network legitimately delays acknowledgements.
constexpr int kStalledHeartbeatsMax = 3;

bool is_vote_request(MessageType t) {
  return t == MessageType::kPreVote || t == MessageType::kVote;
}

bool is_from_leader(MessageType t) {
  return t == MessageType::kAppend || t == MessageType::kHeartbeat || t == MessageType::kSnapshot;
}

}  // namespace

RaftCore::RaftCore(const Config& config, const Storage& storage)
    : id_(config.id),
      config_(config),
      log_(storage),
      tracker_(config.id, config.inflight_appends_max),
      rng_(config.seed ^ (config.id * 0x9e3779b97f4a7c15ull)),
      limits_{config.append_bytes_max, config.entry_bytes_max, config.snapshot_chunk_bytes_max} {
  RAFT_ASSERT(id_ != kNoNode, "node id must be set");
  RAFT_ASSERT(config.election_timeout_ticks > config.heartbeat_interval_ticks &&
                  config.heartbeat_interval_ticks > 0,
              "need 0 < heartbeat interval < election timeout");
  RAFT_ASSERT(config.inflight_appends_max > 0 && config.append_bytes_max > 0 &&
                  config.snapshot_chunk_bytes_max > 0,
              "bounds must be positive");
  const HardState hs = storage.hard_state();
  current_term_ = hs.current_term;
  voted_for_ = hs.voted_for;
  const SnapshotMeta snap = storage.snapshot_meta();
  tracker_.set_conf(snap.index > 0 && !snap.conf.voters.empty() ? snap.conf
                                                                : ConfState{config.voters});
  RAFT_ASSERT(!tracker_.conf().voters.empty(), "a cluster needs at least one voter");
  if (config.applied_index > 0) {
    RAFT_ASSERT(config.applied_index >= snap.index, "applied index older than the snapshot");
    log_.set_applied(config.applied_index);
  }
  become_follower(current_term_, kNoNode);
  prev_hard_ = hard_state();
  prev_soft_ = SoftState{role_, leader_, current_term_};
}

// ---------------------------------------------------------------------------------------------
// Role transitions (§5.2)

void RaftCore::reset(Term term) {
  if (term != current_term_) {
    current_term_ = term;
    voted_for_ = kNoNode;
  }
  if (role_ == Role::kLeader) drop_pending_reads();
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_transfer();
  votes_.clear();
  tracker_.reset_all(log_.last_index());
  uncommitted_bytes_ = 0;
  append_broadcast_wanted_ = false;
  commit_broadcast_wanted_ = false;
  read_round_wanted_ = false;
}

void RaftCore::become_follower(Term term, NodeId leader) {
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void RaftCore::become_pre_candidate() {
  RAFT_ASSERT(role_ != Role::kLeader, "a leader cannot become a pre-candidate");
  // PreVote (thesis §9.6) changes neither term nor vote: a node that cannot win disturbs nobody.
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  votes_.clear();
}

void RaftCore::become_candidate() {
  RAFT_ASSERT(role_ != Role::kLeader, "a leader cannot become a candidate");
  reset(current_term_ + 1);  // §5.2: increment currentTerm, vote for self
  voted_for_ = id_;
  role_ = Role::kCandidate;
}

void RaftCore::become_leader() {
  RAFT_ASSERT(role_ == Role::kCandidate, "only a candidate becomes leader");
  reset(current_term_);
  role_ = Role::kLeader;
  leader_ = id_;
  // §5.4.2 / §8: a no-op entry of the new term lets the leader commit (and learn the commit
  // index of) everything before it, and is what ReadIndex waits for.
  append_entries({Entry{current_term_, log_.last_index() + 1, EntryType::kNoop, Payload()}});
}

void RaftCore::reset_randomized_election_timeout() {
  const auto t = static_cast<uint64_t>(config_.election_timeout_ticks);
  randomized_election_timeout_ = static_cast<int>(t + rng_.below(t));
}

void RaftCore::start_campaign(bool pre_vote, bool leader_transfer) {
  if (!promotable()) return;
  Term vote_term;
  MessageType type;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = current_term_ + 1;
    type = MessageType::kPreVote;
  } else {
    become_candidate();
    vote_term = current_term_;
    type = MessageType::kVote;
    ++counters_.elections_started;
  }
  poll_vote(id_, true);
  if (role_ == Role::kLeader || (pre_vote && role_ != Role::kPreCandidate)) return;
  for (const auto& [peer, pr] : tracker_.peers()) {
    Message m;
    m.type = type;
    m.to = peer;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.leader_transfer = leader_transfer;
    send(std::move(m));
  }
}

void RaftCore::poll_vote(NodeId from, bool granted) {
  votes_.emplace(from, granted);  // the first answer from each voter counts
  const int result = tracker_.tally(votes_);
  if (result > 0) {
    if (role_ == Role::kPreCandidate) {
      start_campaign(false, false);
    } else {
      become_leader();
    }
  } else if (result < 0) {
    become_follower(current_term_, kNoNode);
  }
}

void RaftCore::campaign() {
  if (role_ == Role::kLeader) return;
  start_campaign(config_.pre_vote, false);
}

bool RaftCore::in_lease() const {
  return config_.check_quorum && leader_ != kNoNode &&
         election_elapsed_ < config_.election_timeout_ticks;
}

// ---------------------------------------------------------------------------------------------
// Inputs

void RaftCore::tick() {
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void RaftCore::tick_election() {
  ++election_elapsed_;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    start_campaign(config_.pre_vote, false);  // §5.2: election timeout elapsed
  }
}

void RaftCore::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_timeout_ticks) {
    election_elapsed_ = 0;
    // CheckQuorum (thesis §6.2): without a quorum's contact within an election timeout, a
    // majority may already follow someone else; stop acting (and serving reads) as leader.
    if (config_.check_quorum && !tracker_.quorum_active_and_reset()) {
      become_follower(current_term_, kNoNode);
      return;
    }
  }
  if (transferee_ != kNoNode && ++transfer_elapsed_ >= config_.election_timeout_ticks) {
    abort_transfer();  // the target did not take over in time; accept proposals again
  }
  tick_snapshot_transfers();
  if (heartbeat_elapsed_ >= config_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat(read_round_);
  }
}

void RaftCore::tick_snapshot_transfers() {
  // One chunk is in flight per follower; if its answer is lost, resend it after an election
  // timeout rather than waiting forever.
  for (auto& [peer, pr] : tracker_.peers()) {
    if (pr.state != ProgressState::kSnapshot) continue;
    if (++pr.snapshot_idle_ticks >= config_.election_timeout_ticks) {
      send_snapshot_chunk(peer, pr);
    }
  }
}

void RaftCore::step(const Message& m) {
  if (m.to != id_ || m.from == id_ || m.from == kNoNode) {
    ++counters_.messages_ignored;
    return;
  }
  // Before anything, the term included: an impossible message must not even raise our term.
  if (const Violation v = validate_message(m, limits_); v != Violation::kNone) {
    reject(v);
    return;
  }
  if (!check_term(m)) return;
  if (is_vote_request(m.type)) {
    handle_vote_request(m);
    return;
  }
  if (m.type == MessageType::kReadIndexResp) {
    handle_read_index_response(m);
    return;
  }
  switch (role_) {
    case Role::kLeader: step_leader(m); break;
    case Role::kCandidate:
    case Role::kPreCandidate: step_candidate(m); break;
    case Role::kFollower: step_follower(m); break;
  }
}

// §5.1: terms act as a logical clock. Returns whether the message should be processed further.
bool RaftCore::check_term(const Message& m) {
  if (m.term > current_term_) {
    if (is_vote_request(m.type) && !m.leader_transfer && in_lease()) {
      // Thesis §4.2.3: a node that heard from a live leader within the minimum election
      // timeout ignores vote requests, so a disruptive server cannot depose it.
      ++counters_.messages_ignored;
      return false;
    }
    if (m.type == MessageType::kPreVote) return true;  // pre-votes never change our term
    if (m.type == MessageType::kPreVoteResp && !m.reject) return true;  // grant for term+1
    become_follower(m.term, is_from_leader(m.type) ? m.from : kNoNode);
    return true;
  }
  if (m.term < current_term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      // A deposed leader that never hears a higher term (its vote requests are ignored by
      // nodes in lease) would stay stuck; tell it our term so it steps down.
      Message resp;
      resp.type = MessageType::kAppendResp;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResp;
      resp.to = m.from;
      resp.term = current_term_;
      resp.reject = true;
      send(std::move(resp));
    } else {
      ++counters_.messages_ignored;
    }
    return false;
  }
  return true;
}

void RaftCore::handle_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  // §5.2: at most one vote per term, first come first served; a pre-vote for a future term
  // commits us to nothing.
  const bool can_vote = voted_for_ == m.from || (voted_for_ == kNoNode && leader_ == kNoNode) ||
                        (pre && m.term > current_term_);
  Message resp;
  resp.type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  resp.to = m.from;
  // §5.4.1: only for a candidate whose log is at least as up to date as ours.
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    resp.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      voted_for_ = m.from;
    }
  } else {
    resp.term = current_term_;
    resp.reject = true;
  }
  send(std::move(resp));
}

void RaftCore::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      leader_ = m.from;
      if (m.type == MessageType::kAppend) handle_append(m);
      if (m.type == MessageType::kHeartbeat) handle_heartbeat(m);
      if (m.type == MessageType::kSnapshot) handle_snapshot_chunk(m);
      break;
    case MessageType::kTimeoutNow:
      // Leadership transfer: skip PreVote, voters in lease will still grant (leader_transfer).
      start_campaign(false, true);
      break;
    case MessageType::kReadIndex:
      answer_read(m.context, m.from, 0, false);  // not the leader (any more)
      break;
    default: ++counters_.messages_ignored;
  }
}

void RaftCore::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      // §5.2: a candidate that hears from a leader of its term returns to follower.
      become_follower(m.term, m.from);
      step_follower(m);
      break;
    case MessageType::kPreVoteResp:
      if (role_ == Role::kPreCandidate) poll_vote(m.from, !m.reject);
      break;
    case MessageType::kVoteResp:
      if (role_ == Role::kCandidate) poll_vote(m.from, !m.reject);
      break;
    case MessageType::kReadIndex: answer_read(m.context, m.from, 0, false); break;
    default: ++counters_.messages_ignored;
  }
}

void RaftCore::step_leader(const Message& m) {
  if (tracker_.find(m.from) == nullptr) {
    ++counters_.messages_ignored;  // not a voter: its answers count for nothing
    return;
  }
  switch (m.type) {
    case MessageType::kAppendResp: handle_append_response(m); break;
    case MessageType::kHeartbeatResp: handle_heartbeat_response(m); break;
    case MessageType::kSnapshotResp: handle_snapshot_response(m); break;
    case MessageType::kReadIndex: handle_read_index_request(m); break;
    default:
      ++counters_.messages_ignored;  // e.g. late vote answers; a same-term Append is
                                     // impossible (Election Safety) and is dropped
  }
}

// ---------------------------------------------------------------------------------------------
// Follower side of replication

void RaftCore::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppendResp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches the leader already (Log Matching). Claim no
    // more than this Append carried: the leader drops an acknowledgement of more than it sent.
    resp.index = std::min(log_.committed(), m.index + m.entries.size());
    send(std::move(resp));
    return;
  }
  if (std::optional<Index> last = log_.maybe_append(m.index, m.log_term, m.commit, m.entries)) {
    resp.index = *last;
    send(std::move(resp));
    return;
  }
  // §5.3 consistency check failed. Hint the leader at the last index that may match: skip our
  // whole conflicting term at once instead of one entry per round trip.
  const Index hint = log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = hint;
  resp.log_term = log_.term(hint).value_or(0);
  send(std::move(resp));
}

void RaftCore::handle_heartbeat(const Message& m) {
  // The leader never sends a commit index past our match index, so these entries are ours.
  log_.commit_to(std::min(m.commit, log_.last_index()));
  Message resp;
  resp.type = MessageType::kHeartbeatResp;
  resp.to = m.from;
  resp.context = m.context;
  send(std::move(resp));
}

void RaftCore::handle_snapshot_chunk(const Message& m) {
  const SnapshotMeta& meta = m.snapshot;
  Message resp;
  resp.to = m.from;
  if (m.snapshot_force && meta.index <= log_.committed() &&
      !log_.match_term(meta.index, meta.term)) {
    // Forced, but we compacted our log past the snapshot: we could not re-apply the committed
    // entries between it and our commit index. Refuse; the leader resumes appending (a later
    // forced resync sends a newer snapshot).
    resp.type = MessageType::kSnapshotResp;
    resp.index = meta.index;
    resp.reject = true;
    resp.snapshot_last = true;
    ++counters_.snapshots_refused;
    send(std::move(resp));
    return;
  }
  if (!m.snapshot_force && meta.index <= log_.committed()) {
    // We already hold everything the snapshot covers (and claim no more than it: see above).
    resp.type = MessageType::kAppendResp;
    resp.index = meta.index;
    send(std::move(resp));
    return;
  }
  if (!m.snapshot_force && m.snapshot_offset == 0 && log_.match_term(meta.index, meta.term)) {
    // §7: our log contains the snapshot's last entry; it is committed, keep our log.
    log_.commit_to(meta.index);
    resp.type = MessageType::kAppendResp;
    resp.index = meta.index;
    send(std::move(resp));
    return;
  }
  resp.type = MessageType::kSnapshotResp;
  resp.index = meta.index;
  if (receiving_snapshot_ != meta || receiving_from_ != m.from) {
    if (m.snapshot_offset != 0) {
      // Same (index, term) but other bytes or another sender: two transfers must not mix
      // (issue 13 bug 5). Any other transfer is simply one we do not hold (e.g. we restarted).
      if (receiving_snapshot_.index == meta.index && receiving_snapshot_.term == meta.term) {
        reject(Violation::kSnapshotTransferMismatch);
      }
      resp.reject = true;  // start over: we hold nothing of this snapshot
      send(std::move(resp));
      return;
    }
    receiving_snapshot_ = meta;
    receiving_from_ = m.from;
    receiving_offset_ = 0;
  }
  if (m.snapshot_offset != receiving_offset_) {
    // A duplicate (behind us): acknowledge what we hold. A gap (ahead of us): ask for it.
    resp.reject = m.snapshot_offset > receiving_offset_;
    resp.snapshot_offset = receiving_offset_;
    send(std::move(resp));
    return;
  }
  if (m.snapshot_last && receiving_offset_ + m.snapshot_data.size() != meta.size_bytes) {
    // validate_message ties a last chunk's end to the size; kept as a drop, not an assert,
    // because it is remote input.
    reject(Violation::kSnapshotLastChunkSize);
    return;
  }
  snapshot_chunks_.push_back(
      SnapshotChunk{meta, m.snapshot_offset, m.snapshot_data, m.snapshot_last});
  receiving_offset_ += m.snapshot_data.size();
  counters_.snapshot_bytes_received += m.snapshot_data.size();
  resp.snapshot_offset = receiving_offset_;
  if (m.snapshot_last) {
    if (meta.index <= log_.committed()) {
      // Forced (checked above: the log still holds the snapshot's entry, so also everything
      // committed after it): the state machine is replaced, then re-applies (index, commit].
      // Our conf is at least as new as the snapshot's.
      log_.reinstall(meta);
      ++counters_.snapshots_reinstalled;
    } else {
      log_.restore(meta);
      tracker_.set_conf(meta.conf);
    }
    ++counters_.snapshots_installed;
    receiving_snapshot_ = SnapshotMeta{};
    receiving_from_ = kNoNode;
    receiving_offset_ = 0;
    resp.snapshot_last = true;  // sent after the install is persisted (ordering rule)
  }
  send(std::move(resp));
}

bool RaftCore::would_stage_snapshot_chunk(const Message& m) const {
  // The path step() -> step_follower/step_candidate -> handle_snapshot_chunk takes to
  // snapshot_chunks_, without its side effects.
  if (m.type != MessageType::kSnapshot || m.to != id_ || m.from == id_ || m.from == kNoNode ||
      validate_message(m, limits_) != Violation::kNone || m.term < current_term_ ||
      (m.term == current_term_ && role_ == Role::kLeader)) {
    return false;
  }
  const SnapshotMeta& meta = m.snapshot;
  const bool holds_entry = log_.match_term(meta.index, meta.term);
  if (meta.index <= log_.committed()) {
    // Only a forced snapshot whose entry our log still holds is taken (reinstalled).
    if (!m.snapshot_force || !holds_entry) return false;
  } else if (!m.snapshot_force && m.snapshot_offset == 0 && holds_entry) {
    return false;  // §7: we keep our log
  }
  if (receiving_snapshot_ != meta || receiving_from_ != m.from) return m.snapshot_offset == 0;
  if (receiving_offset_ != m.snapshot_offset) return false;
  return !m.snapshot_last || receiving_offset_ + m.snapshot_data.size() == meta.size_bytes;
}

void RaftCore::reject_snapshot_body(const Message& m) {
  reject(Violation::kSnapshotBodyInvalid);
  if (receiving_from_ == m.from && receiving_snapshot_ == m.snapshot) {
    receiving_snapshot_ = SnapshotMeta{};
    receiving_from_ = kNoNode;
    receiving_offset_ = 0;
  }
  Message resp;
  resp.type = MessageType::kSnapshotResp;
  resp.to = m.from;
  resp.index = m.snapshot.index;
  resp.reject = true;  // snapshot_offset 0: send it again from the start
  send(std::move(resp));
}

// ---------------------------------------------------------------------------------------------
// Leader side of replication

ProposeResult RaftCore::propose(Payload data) {
  if (role_ != Role::kLeader) {
    ++counters_.proposals_dropped;
    return {leader_ == kNoNode ? Status::kNoLeader : Status::kNotLeader, 0, 0};
  }
  if (transferee_ != kNoNode) {
    ++counters_.proposals_dropped;
    return {Status::kTransferInProgress, 0, 0};
  }
  Entry e{current_term_, log_.last_index() + 1, EntryType::kNormal, std::move(data)};
  if (uncommitted_bytes_ > 0 &&
      uncommitted_bytes_ + entry_size_bytes(e) > config_.uncommitted_bytes_max) {
    ++counters_.proposals_dropped;
    return {Status::kBusy, 0, 0};
  }
  const ProposeResult result{Status::kOk, e.index, e.term};
  std::vector<Entry> entries;
  entries.push_back(std::move(e));
  append_entries(std::move(entries));
  ++counters_.proposals_accepted;
  return result;
}

void RaftCore::append_entries(std::vector<Entry>&& entries) {
  for (const Entry& e : entries) uncommitted_bytes_ += entry_size_bytes(e);
  log_.append(std::move(entries));
  // Not counted towards a commit yet: our own match index is the last entry we have made
  // durable (advance()), since the Appends carrying these entries may leave before they are
  // persisted here (thesis §10.2.1).
  append_broadcast_wanted_ = true;
}

bool RaftCore::maybe_commit() {
  const Index candidate = tracker_.quorum_match(log_.stable_last_index());
  // §5.4.2: only entries of the current term are committed by counting replicas; earlier ones
  // are committed indirectly (Figure 8).
  if (candidate <= log_.committed() || log_.term(candidate) != current_term_) return false;
  log_.commit_to(candidate);
  if (!reads_before_commit_.empty()) {
    auto waiting = std::move(reads_before_commit_);
    reads_before_commit_.clear();
    for (const auto& [request_id, from] : waiting) queue_read(request_id, from);
  }
  return true;
}

bool RaftCore::send_append(NodeId to, bool send_if_empty) {
  Progress* pr = tracker_.find(to);
  if (pr == nullptr || pr->is_paused()) return false;
  const Index prev_index = pr->next_index - 1;
  const std::optional<Term> prev_term = log_.term(prev_index);
  if (!prev_term.has_value() || pr->next_index < log_.first_index()) {
    start_snapshot(to, *pr);  // §7: the entries it needs were compacted away
    return false;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev_index;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  if (pr->next_index <= log_.last_index()) {
    log_.slice(pr->next_index, log_.last_index() + 1, config_.append_bytes_max, &m.entries);
  }
  if (m.entries.empty() && !send_if_empty) return false;
  if (pr->state == ProgressState::kReplicate) {
    if (!m.entries.empty()) {
      const Index last = m.entries.back().index;
      pr->next_index = last + 1;  // pipelining: don't wait for the answer
      pr->inflights.add(last);
    }
  } else {
    pr->probe_sent = true;  // probing: one Append until the follower answers
  }
  pr->sent_index = std::max(pr->sent_index, m.index + m.entries.size());
  const bool carried_entries = !m.entries.empty();
  send(std::move(m));
  return carried_entries;
}

void RaftCore::broadcast_append(bool send_if_empty) {
  for (auto& [peer, pr] : tracker_.peers()) {
    bool sent = send_append(peer, send_if_empty);
    // Drain the backlog in byte-bounded messages, up to the pipelining bound.
    while (sent && pr.state == ProgressState::kReplicate) sent = send_append(peer, false);
  }
}

void RaftCore::handle_append_response(const Message& m) {
  Progress* pr = tracker_.find(m.from);
  if (pr == nullptr) return;
  if (m.index > pr->sent_index) {
    // Acknowledges (or rejects) entries we never sent it: a forged or corrupt answer. Taking
    // it would move match_index past our log's end (issue 14).
    reject(Violation::kAppendRespPastSent);
    return;
  }
  pr->recent_active = true;
  if (m.reject) {
    // Fast back-off: jump over the follower's whole conflicting term (§5.3, last paragraph).
    Index next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term);
    if (pr->maybe_decrease_to(m.index, next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->become_probe();
      send_append(m.from, true);
    }
    return;
  }
  const bool was_paused = pr->is_paused();
  if (pr->state == ProgressState::kProbe) pr->probe_sent = false;
  const bool updated = pr->maybe_update(m.index);
  if (pr->state == ProgressState::kSnapshot && !pr->snapshot_forced &&
      pr->match_index + 1 >= log_.first_index()) {
    // The follower caught up without (the rest of) the snapshot. (A forced transfer is not
    // about catching up: only the follower's answer to it ends it.)
    pr->become_probe();
  }
  if (!updated) {
    if (was_paused && !pr->is_paused()) send_append(m.from, false);
    return;
  }
  if (pr->state == ProgressState::kProbe) {
    pr->become_replicate();
  } else if (pr->state == ProgressState::kReplicate) {
    pr->inflights.free_le(m.index);
  }
  if (maybe_commit()) commit_broadcast_wanted_ = true;
  while (send_append(m.from, false)) {
  }
  if (m.from == transferee_ && pr->match_index == log_.last_index()) {
    Message timeout_now;
    timeout_now.type = MessageType::kTimeoutNow;
    timeout_now.to = m.from;
    send(std::move(timeout_now));
  }
}

void RaftCore::handle_heartbeat_response(const Message& m) {
  Progress* pr = tracker_.find(m.from);
  if (pr == nullptr) return;
  if (m.context > read_round_) {
    reject(Violation::kHeartbeatRespRoundPastSent);  // would confirm reads nobody confirmed
    return;
  }
  pr->recent_active = true;
  pr->probe_sent = false;  // a lost probe is retried once per heartbeat
  if (m.context > pr->read_round_acked) {
    pr->read_round_acked = m.context;
    release_reads();
  }
  if (pr->match_index >= log_.last_index()) {
    pr->match_at_last_heartbeat = pr->match_index;
    return;
  }
  if (pr->state == ProgressState::kReplicate && pr->inflights.count() > 0 &&
      pr->match_index == pr->match_at_last_heartbeat) {
    if (++pr->stalled_heartbeats >= kStalledHeartbeatsMax) {
      pr->become_probe();  // an Append of the pipeline was lost; resend from the match point
      pr->stalled_heartbeats = 0;
    }
  } else {
    pr->stalled_heartbeats = 0;
  }
  pr->match_at_last_heartbeat = pr->match_index;
  send_append(m.from, false);
}

void RaftCore::start_snapshot(NodeId to, Progress& pr, bool forced) {
  const SnapshotMeta meta = log_.storage().snapshot_meta();
  RAFT_ASSERT(meta.index > 0, "log compacted without a snapshot");
  pr.become_snapshot(meta.index);
  pr.snapshot_forced = forced;
  ++counters_.snapshots_sent;
  send_snapshot_chunk(to, pr);
}

void RaftCore::send_snapshot_chunk(NodeId to, Progress& pr) {
  const Storage& storage = log_.storage();
  SnapshotMeta meta = storage.snapshot_meta();
  if (meta.index != pr.snapshot_index) {  // a newer one replaced it
    const bool forced = pr.snapshot_forced;
    pr.become_snapshot(meta.index);
    pr.snapshot_forced = forced;
  }
  const Payload data =
      storage.snapshot_chunk(meta.index, pr.snapshot_offset, config_.snapshot_chunk_bytes_max);
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot_offset = pr.snapshot_offset;
  m.snapshot_last = pr.snapshot_offset + data.size() >= meta.size_bytes;
  m.snapshot_force = pr.snapshot_forced;
  pr.sent_index = std::max(pr.sent_index, meta.index);
  m.snapshot = std::move(meta);
  m.snapshot_data = data;
  pr.snapshot_idle_ticks = 0;
  counters_.snapshot_bytes_sent += data.size();
  send(std::move(m));
}

void RaftCore::handle_snapshot_response(const Message& m) {
  Progress* pr = tracker_.find(m.from);
  if (pr == nullptr) return;
  pr->recent_active = true;
  if (pr->state != ProgressState::kSnapshot || m.index != pr->snapshot_index) return;  // stale
  const SnapshotMeta sending = log_.storage().snapshot_meta();
  if (sending.index == m.index && m.snapshot_offset > sending.size_bytes) {
    reject(Violation::kSnapshotRespPastSize);  // claims to hold more than the body has
    return;
  }
  if (m.snapshot_last && m.reject) {
    // A forced snapshot refused: the follower's log is intact, replicate as before.
    pr->become_probe();
    send_append(m.from, false);
    return;
  }
  if (m.snapshot_last && !m.reject) {
    // Installed: the follower's log now matches ours at the snapshot index.
    pr->maybe_update(m.index);
    pr->become_probe();
    send_append(m.from, false);
    return;
  }
  if (!m.reject && m.snapshot_offset <= pr->snapshot_offset) return;  // duplicate answer
  pr->snapshot_offset = m.snapshot_offset;
  send_snapshot_chunk(m.from, *pr);
}

Status RaftCore::send_snapshot(NodeId to) {
  if (role_ != Role::kLeader) return Status::kNotLeader;
  Progress* pr = tracker_.find(to);
  if (pr == nullptr || log_.storage().snapshot_meta().index == 0) return Status::kInvalidArgument;
  start_snapshot(to, *pr, /*forced=*/true);
  return Status::kOk;
}

// ---------------------------------------------------------------------------------------------
// Leadership transfer (thesis §3.10)

Status RaftCore::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return Status::kNotLeader;
  if (to == id_) return Status::kOk;
  if (!tracker_.is_voter(to)) return Status::kInvalidArgument;
  if (transferee_ == to) return Status::kOk;
  abort_transfer();
  transferee_ = to;
  transfer_elapsed_ = 0;
  Progress* pr = tracker_.find(to);
  if (pr->match_index == log_.last_index()) {
    Message m;
    m.type = MessageType::kTimeoutNow;
    m.to = to;
    send(std::move(m));
  } else {
    send_append(to, false);  // catch it up first; TimeoutNow follows its answer
  }
  return Status::kOk;
}

void RaftCore::abort_transfer() {
  transferee_ = kNoNode;
  transfer_elapsed_ = 0;
}

// ---------------------------------------------------------------------------------------------
// ReadIndex (thesis §6.4)

Status RaftCore::read_index(uint64_t request_id) {
  if (role_ == Role::kLeader) {
    if (pending_reads_.size() + reads_before_commit_.size() >= config_.pending_reads_max) {
      return Status::kBusy;
    }
    queue_read(request_id, id_);
    return Status::kOk;
  }
  if (leader_ == kNoNode) return Status::kNoLeader;
  if (reads_outstanding_.size() >= config_.pending_reads_max) {
    reads_outstanding_.pop_front();  // its answer was lost; the host times that read out
  }
  reads_outstanding_.emplace_back(request_id, current_term_);
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = leader_;
  m.context = request_id;
  send(std::move(m));
  return Status::kOk;
}

void RaftCore::handle_read_index_response(const Message& m) {
  // Valid whatever our role now, if it answers a request we sent in this term: the leader of
  // that term confirmed its leadership after we asked.
  const auto it = std::find_if(reads_outstanding_.begin(), reads_outstanding_.end(),
                               [&](const auto& r) { return r.first == m.context; });
  if (it == reads_outstanding_.end()) {
    reject(Violation::kReadIndexRespUnknown);  // guessed, duplicated or from before a restart
    return;
  }
  const Term sent_term = it->second;
  reads_outstanding_.erase(it);
  if (m.term != sent_term && !m.reject) {
    // Only the leader of the term we asked in can confirm the read: a grant from another term
    // proves nothing about the leadership our read depended on.
    reject(Violation::kReadIndexRespTermChanged);
    read_states_.push_back(ReadState{m.context, 0, false});
    return;
  }
  read_states_.push_back(ReadState{m.context, m.index, !m.reject});
}

void RaftCore::handle_read_index_request(const Message& m) {
  if (pending_reads_.size() + reads_before_commit_.size() >= config_.pending_reads_max) {
    answer_read(m.context, m.from, 0, false);
    return;
  }
  queue_read(m.context, m.from);
}

bool RaftCore::committed_in_current_term() const {
  return log_.term(log_.committed()) == current_term_;
}

void RaftCore::queue_read(uint64_t request_id, NodeId from) {
  if (!committed_in_current_term()) {
    // Until its no-op commits, a new leader does not know the commit index (thesis §6.4 step 1).
    reads_before_commit_.emplace_back(request_id, from);
    return;
  }
  if (tracker_.peers().empty()) {
    answer_read(request_id, from, log_.committed(), true);  // a single voter is its own quorum
    return;
  }
  // Step 2-3: remember the commit index, then confirm leadership with a fresh heartbeat round.
  pending_reads_.push_back(PendingRead{request_id, from, log_.committed(), read_round_ + 1});
  read_round_wanted_ = true;
}

void RaftCore::release_reads() {
  const uint64_t confirmed = tracker_.quorum_read_round(read_round_);
  while (!pending_reads_.empty() && pending_reads_.front().round <= confirmed) {
    const PendingRead& r = pending_reads_.front();
    answer_read(r.request_id, r.from, r.index, true);
    pending_reads_.pop_front();
  }
}

void RaftCore::answer_read(uint64_t request_id, NodeId from, Index index, bool ok) {
  if (from == id_) {
    read_states_.push_back(ReadState{request_id, index, ok});
    return;
  }
  Message m;
  m.type = MessageType::kReadIndexResp;
  m.to = from;
  m.context = request_id;
  m.index = index;
  m.reject = !ok;
  send(std::move(m));
}

void RaftCore::drop_pending_reads() {
  for (const PendingRead& r : pending_reads_) answer_read(r.request_id, r.from, 0, false);
  for (const auto& [request_id, from] : reads_before_commit_) {
    answer_read(request_id, from, 0, false);
  }
  pending_reads_.clear();
  reads_before_commit_.clear();
}

void RaftCore::broadcast_heartbeat(uint64_t read_round) {
  for (const auto& [peer, pr] : tracker_.peers()) send_heartbeat(peer, read_round);
}

void RaftCore::send_heartbeat(NodeId to, uint64_t read_round) {
  const Progress* pr = tracker_.find(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // Never past the follower's match: it may not hold our entries up to our commit index yet.
  m.commit = std::min(pr->match_index, log_.committed());
  m.context = read_round;
  send(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Output

void RaftCore::send(Message m) {
  m.from = id_;
  if (m.type != MessageType::kPreVote && m.type != MessageType::kPreVoteResp &&
      m.type != MessageType::kVoteResp) {
    m.term = current_term_;
  }
  messages_.push_back(std::move(m));
}

HardState RaftCore::hard_state() const {
  return HardState{current_term_, voted_for_, log_.committed()};
}

void RaftCore::flush_broadcasts() {
  if (role_ != Role::kLeader) return;
  if (read_round_wanted_) {
    ++read_round_;
    read_round_wanted_ = false;
    broadcast_heartbeat(read_round_);
  }
  if (append_broadcast_wanted_ || commit_broadcast_wanted_) {
    broadcast_append(commit_broadcast_wanted_);
    append_broadcast_wanted_ = false;
    commit_broadcast_wanted_ = false;
  }
}

bool RaftCore::has_ready() const {
  return SoftState{role_, leader_, current_term_} != prev_soft_ || hard_state() != prev_hard_ ||
         !log_.unstable_entries().empty() || log_.unstable_snapshot().has_value() ||
         !snapshot_chunks_.empty() || !messages_.empty() || !read_states_.empty() ||
         log_.has_next_committed_entries() || read_round_wanted_ || append_broadcast_wanted_ ||
         commit_broadcast_wanted_;
}

Ready RaftCore::ready() {
  flush_broadcasts();
  Ready rd;
  const SoftState soft{role_, leader_, current_term_};
  if (soft != prev_soft_) {
    if (soft.leader != kNoNode && soft.leader != prev_soft_.leader) ++counters_.leader_changes;
    rd.soft_state = soft;
    prev_soft_ = soft;
  }
  const HardState hs = hard_state();
  if (hs != prev_hard_) {
    rd.hard_state = hs;
    rd.hard_state_must_sync =
        hs.current_term != prev_hard_.current_term || hs.voted_for != prev_hard_.voted_for;
  }
  rd.entries = log_.unstable_entries();
  rd.snapshot = log_.unstable_snapshot();
  rd.snapshot_chunks = std::move(snapshot_chunks_);
  snapshot_chunks_.clear();
  log_.next_committed_entries(config_.apply_batch_bytes_max, &rd.committed_entries);
  rd.messages = std::move(messages_);
  messages_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  return rd;
}

void RaftCore::advance(const Ready& rd) {
  if (rd.hard_state) prev_hard_ = *rd.hard_state;
  if (rd.snapshot) {
    log_.stable_snapshot_to(rd.snapshot->index);
    log_.set_applied(rd.snapshot->index);
  }
  if (!rd.entries.empty()) {
    log_.stable_to(rd.entries.back().index, rd.entries.back().term);
    // Our entries are durable now: they count towards the commit quorum (single-node clusters
    // commit here; larger ones when the followers' answers are already in).
    if (role_ == Role::kLeader && maybe_commit()) commit_broadcast_wanted_ = true;
  }
  if (!rd.committed_entries.empty()) {
    log_.applied_to(rd.committed_entries.back().index);
    if (role_ == Role::kLeader) {
      uint64_t applied_bytes = 0;
      for (const Entry& e : rd.committed_entries) applied_bytes += entry_size_bytes(e);
      uncommitted_bytes_ -= std::min(uncommitted_bytes_, applied_bytes);
    }
  }
}

CoreStatus RaftCore::status() const {
  CoreStatus s;
  s.id = id_;
  s.soft = SoftState{role_, leader_, current_term_};
  s.hard = hard_state();
  s.applied_index = log_.applied();
  s.first_index = log_.first_index();
  s.last_index = log_.last_index();
  s.transferee = transferee_;
  if (role_ == Role::kLeader) {
    for (const auto& [peer, pr] : tracker_.peers()) {
      s.followers.push_back(FollowerStatus{peer, pr.match_index, pr.next_index, pr.state,
                                           pr.recent_active, pr.inflights.count(),
                                           pr.snapshot_index, pr.snapshot_offset});
    }
  }
  return s;
}

}  // namespace raft
