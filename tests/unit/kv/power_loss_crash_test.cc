// Power-loss crash test for libkv: a follower's storage (kv::Store over PowerLossFs) is driven
// the way stress_node drives it (LogStorage::persist of Ready batches with entries, hard state,
// snapshot chunks and installs; Store::apply of committed entries; local snapshots captured,
// written and committed with log compaction), and the file system loses power at a random
// mutating operation: unsynced bytes dropped or cut at a random point, unsynced directory
// entries gone. After each power loss the store is reopened and must hold:
//   - it opens;
//   - log, hard state and snapshot exactly as the last acknowledged (synced) persist or
//     snapshot commit left them, or as one of the unsynced persists after it (a commit-index-only
//     hard state is written unsynced: raft_core.h, Ready::must_sync) left them, or as the one in
//     flight at the crash would have: nothing acknowledged is lost, term and vote never go back
//     (the commit index may go back to the last synced one);
//   - the state machine is never ahead of the durable log (applied <= commit index or snapshot
//     index, and <= last log index), not behind the last synced write, and its state is the
//     one recorded when the live store first reached that applied index (a replay);
//   - the current snapshot file has the size and checksum its meta records.
// Then it re-applies what is committed and the next life begins, on the same directory.
//
// Budget: KV_CRASH_POINTS crash points (default 2000) or KV_CRASH_SECONDS seconds (default
// 30), whichever comes first; KV_CRASH_SEED replays a run (RocksDB's background flushes and
// compactions also count as mutations, so a replay reproduces the workload and the crash
// point numbers, and usually, not always, the exact operation hit). See docs/durability.md.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "kv/store.h"
#include "power_loss_fs.h"
#include "test_util.h"

namespace kv {
namespace {

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// What the storage holds durably, as libkv's contract (kv/log_storage.h) says it must.
struct Durable {
  raft::HardState hs;
  raft::Index compacted = 0;  // first_index() - 1
  raft::Index snapshot_index = 0;
  std::map<raft::Index, raft::Term> log;  // (compacted, last_index]

  [[nodiscard]] raft::Index last() const { return log.empty() ? compacted : log.rbegin()->first; }
  [[nodiscard]] std::optional<raft::Term> term(raft::Index i, raft::Term compacted_term) const {
    if (i == compacted) return compacted_term;
    auto it = log.find(i);
    return it == log.end() ? std::nullopt : std::optional<raft::Term>(it->second);
  }
  friend bool operator==(const Durable&, const Durable&) = default;
};

std::string describe(const Durable& d) {
  std::ostringstream out;
  out << "hard state {term " << d.hs.current_term << ", vote "
      << (d.hs.voted_for == raft::kNoNode ? -1 : static_cast<int64_t>(d.hs.voted_for))
      << ", commit " << d.hs.commit_index << "}, snapshot " << d.snapshot_index << ", log ("
      << d.compacted << ", " << d.last() << "]";
  return out.str();
}

Durable read_durable(const Store& store) {
  const LogStorage& log = store.log();
  Durable d;
  d.hs = log.hard_state();
  d.compacted = log.first_index() - 1;
  d.snapshot_index = log.snapshot_meta().index;
  for (raft::Index i = log.first_index(); i <= log.last_index(); ++i) d.log[i] = *log.term(i);
  return d;
}

// libkv's persist() contract applied to the model.
Durable after_persist(Durable d, const raft::Ready& ready) {
  raft::HardState hs = ready.hard_state.value_or(d.hs);
  if (ready.snapshot) {
    const raft::SnapshotMeta& meta = *ready.snapshot;
    auto it = d.log.find(meta.index);
    const bool agrees = it != d.log.end() && it->second == meta.term;
    if (agrees) {
      d.log.erase(d.log.begin(), d.log.upper_bound(meta.index));
    } else {
      d.log.clear();
    }
    d.compacted = meta.index;
    d.snapshot_index = meta.index;
    hs.commit_index = std::max(hs.commit_index, meta.index);
  }
  if (!ready.entries.empty() && ready.entries.back().index > d.compacted) {
    const raft::Index first_new = std::max(ready.entries.front().index, d.compacted + 1);
    d.log.erase(d.log.lower_bound(first_new), d.log.end());
    for (const raft::Entry& e : ready.entries) {
      if (e.index >= first_new) d.log[e.index] = e.term;
    }
  }
  d.hs = hs;
  return d;
}

// LogStorage::commit_snapshot's contract applied to the model.
Durable after_commit_snapshot(Durable d, raft::Index index, uint64_t keep_entries) {
  if (index <= d.snapshot_index) return d;
  d.snapshot_index = index;
  const raft::Index compact_to = index > keep_entries ? index - keep_entries : 0;
  if (compact_to > d.compacted) {
    d.log.erase(d.log.begin(), d.log.upper_bound(compact_to));
    d.compacted = compact_to;
  }
  return d;
}

uint64_t snapshot_body_checksum(const LogStorage& log, std::string* error) {
  const raft::SnapshotMeta meta = log.snapshot_meta();
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  uint64_t offset = 0;
  while (offset < meta.size_bytes) {
    raft::Payload chunk = log.snapshot_chunk(meta.index, offset, 1 << 20);
    if (chunk.size() == 0) {
      *error = "snapshot body shorter than its meta";
      break;
    }
    XXH64_update(state, chunk.view().data(), chunk.size());
    offset += chunk.size();
  }
  const uint64_t digest = XXH64_digest(state);
  XXH64_freeState(state);
  return digest;
}

class CrashRun {
 public:
  CrashRun(uint64_t seed, const std::filesystem::path& dir, const std::filesystem::path& donor_dir)
      : rng_(seed), dir_(dir), fs_(std::make_shared<test::PowerLossFs>()) {
    options_ = test::test_store_options();
    options_.db.file_system = fs_;
    options_.db.write_buffer_bytes =
        env_u64("KV_CRASH_WRITE_BUFFER", 256 << 10);  // memtable flushes (and WAL switches) happen
    StoreOptions donor_options = test::test_store_options();
    donor_options.log.sync = false;  // the donor only produces snapshot bodies
    donor_ = test::open_store(donor_dir, donor_options);
  }

  // One life: (maybe crash while opening), open, check against what was acknowledged, catch
  // up, run operations until the crash point, lose power. Returns an error text, or "".
  std::string life(uint64_t crash_ops_max) {
    const bool crash_in_open = chance(0.15);
    if (crash_in_open) fs_->crash_after(uniform(1, 40));
    Result<std::unique_ptr<Store>> opened = Store::open(dir_, options_);
    if (!opened.is_ok()) return "store does not open: " + opened.status().to_string();
    store_ = std::move(opened).value();
    if (fs_->crashed()) {  // the machine stopped while the store was opening
      ++crash_points_;
      power_loss();
      return "";
    }
    fs_->never_crash();
    if (trace_)
      std::printf("life: opened, mutations so far %llu\n",
                  static_cast<unsigned long long>(fs_->mutations()));
    if (std::string e = check_recovered(); !e.empty()) return e;
    if (std::string e = catch_up(); !e.empty()) return e;
    fs_->crash_after(uniform(1, crash_ops_max));
    for (int op = 0; op < 200 && !fs_->crashed(); ++op) {
      std::string e = step();
      if (!e.empty()) return e;
    }
    ++crash_points_;
    power_loss();
    return "";
  }

  [[nodiscard]] uint64_t crash_points() const { return crash_points_; }
  [[nodiscard]] uint64_t acked_persists() const { return acked_persists_; }
  [[nodiscard]] uint64_t snapshots() const { return snapshots_; }
  [[nodiscard]] uint64_t installs() const { return installs_; }
  [[nodiscard]] uint64_t applied_max() const { return applied_max_; }

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  uint64_t uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  void power_loss() {
    fs_->crash_after(1);  // nothing closing the store does is durable
    store_.reset();
    fs_->lose_power(rng_, chance(0.5));
    // inflight_ stays: a crash while reopening leaves the operation before it undecided.
  }

  // --- after a reopen -----------------------------------------------------------------------

  std::string check_recovered() {
    const Durable r = read_durable(*store_);
    const bool unsynced_survived =
        std::find(unsynced_.begin(), unsynced_.end(), r) != unsynced_.end();
    if (!(r == acked_) && !(inflight_ && r == *inflight_) && !unsynced_survived) {
      std::string why = "recovered " + describe(r) + "; acknowledged " + describe(acked_);
      if (inflight_) why += "; in flight " + describe(*inflight_);
      if (r.hs.current_term < acked_.hs.current_term) why = "hard state term went back: " + why;
      for (const auto& [i, t] : acked_.log) {
        if (i <= acked_.hs.commit_index && i > r.compacted && r.log.count(i) == 0) {
          why = "acknowledged committed entry " + std::to_string(i) + " lost: " + why;
          break;
        }
      }
      return why;
    }
    acked_ = r;
    written_ = r;
    unsynced_.clear();
    inflight_.reset();
    const raft::Index applied = store_->state_machine().applied_index();
    if (applied < applied_floor_) {
      return "applied index " + std::to_string(applied) + " went back past a synced write (" +
             std::to_string(applied_floor_) + ")";
    }
    if (applied > std::max(r.hs.commit_index, r.snapshot_index) || applied > r.last()) {
      return "state machine ahead of the durable log: applied " + std::to_string(applied) + ", " +
             describe(r);
    }
    auto recorded = hash_at_.find(applied);
    if (applied > 0 && recorded == hash_at_.end()) {
      return "state at applied index " + std::to_string(applied) + " is not a whole apply batch";
    }
    if (applied > 0 && store_->state_machine().state_hash().hash != recorded->second) {
      return "state at applied index " + std::to_string(applied) + " differs from its replay";
    }
    if (r.snapshot_index > 0) {
      std::string error;
      const uint64_t checksum = snapshot_body_checksum(store_->log(), &error);
      if (!error.empty()) return error;
      if (checksum != store_->log().snapshot_meta().checksum) {
        return "snapshot " + std::to_string(r.snapshot_index) + " body differs from its checksum";
      }
    }
    // The part of the victim's log that is the leader's.
    matching_ = r.compacted;
    for (raft::Index i = std::min<raft::Index>(r.last(), leader_log_.size()); i > r.compacted;
         --i) {
      if (r.log.at(i) == leader_log_[i - 1].term) {
        matching_ = i;
        break;
      }
    }
    return "";
  }

  std::string catch_up() {
    const raft::Index commit = store_->log().hard_state().commit_index;
    return apply_to(commit);
  }

  // --- the workload -------------------------------------------------------------------------

  std::string step() {
    const uint64_t roll = uniform(0, 99);
    if (trace_) {
      std::printf("  op %llu applied %llu snapshot %llu %s\n",
                  static_cast<unsigned long long>(roll),
                  static_cast<unsigned long long>(store_->state_machine().applied_index()),
                  static_cast<unsigned long long>(acked_.snapshot_index), describe(acked_).c_str());
    }
    if (roll < 30) return append();
    if (roll < 40) return leader_only_append();
    if (roll < 62) return commit_and_apply();
    if (roll < 70) return new_term();
    if (roll < 75) return divergent_append();
    if (roll < 90) return local_snapshot();
    return install();
  }

  raft::Term log_term() const { return leader_log_.empty() ? 0 : leader_log_.back().term; }

  void grow_leader_log(size_t n) {
    const raft::Index first = leader_log_.size() + 1;
    for (raft::Entry e : test::workload(first, n, rng_())) {
      e.term = term_;
      leader_log_.push_back(std::move(e));
    }
  }

  raft::HardState hard_state_with(raft::Index commit) const {
    raft::HardState hs = store_->log().hard_state();
    hs.current_term = std::max(hs.current_term, term_);
    if (hs.current_term != store_->log().hard_state().current_term) hs.voted_for = raft::kNoNode;
    hs.commit_index = std::max(hs.commit_index, commit);
    return hs;
  }

  // persist() of `ready`; on success the acknowledged state moves on and must match the store.
  // Once the machine has stopped nothing more is acknowledged: the operation in flight when it
  // stopped stays undecided, and later ones had no effect.
  // A batch that need not sync (only the commit index changed) is written unsynced: it is not
  // acknowledged, and after a power loss it may or may not be there, until the next synced
  // write makes it durable.
  std::string persist(raft::Ready ready) {
    if (fs_->crashed()) return "";
    if (ready.hard_state) {
      const raft::HardState& before = store_->log().hard_state();
      ready.hard_state_must_sync = ready.hard_state->current_term != before.current_term ||
                                   ready.hard_state->voted_for != before.voted_for;
    }
    const bool writes = ready.hard_state || ready.snapshot || !ready.entries.empty();
    const Durable expected = writes ? after_persist(written_, ready) : written_;
    if (!writes) {
      // Snapshot chunks only: staged in a file of their own, nothing in the WAL, so nothing
      // unsynced before them becomes durable.
      if (Status s = store_->persist(ready); !s.is_ok()) return "persist failed: " + s.to_string();
      return fs_->crashed() ? "" : check_live("persist");
    }
    if (!ready.must_sync()) {
      unsynced_.push_back(expected);
      if (Status s = store_->persist(ready); !s.is_ok()) return "persist failed: " + s.to_string();
      if (fs_->crashed()) return "";
      written_ = expected;
      return check_live("persist");
    }
    inflight_ = expected;
    if (Status s = store_->persist(ready); !s.is_ok()) return "persist failed: " + s.to_string();
    if (fs_->crashed()) return "";
    inflight_.reset();
    acked_ = expected;
    written_ = expected;
    unsynced_.clear();
    if (ready.hard_state) {
      ++acked_persists_;
      applied_floor_ = store_->state_machine().applied_index();
    }
    return check_live("persist");
  }

  std::string check_live(const char* after) const {
    const Durable live = read_durable(*store_);
    if (!(live == written_)) {
      return std::string("the model and the store disagree after ") + after + ": store " +
             describe(live) + ", model " + describe(written_);
    }
    return "";
  }

  // The leader sends the victim up to 8 entries after the part of its log that matches.
  std::string append() {
    if (matching_ == leader_log_.size()) grow_leader_log(uniform(1, 8));
    const raft::Index last = std::min<raft::Index>(leader_log_.size(), matching_ + uniform(1, 8));
    raft::Ready ready;
    ready.entries.assign(leader_log_.begin() + static_cast<std::ptrdiff_t>(matching_),
                         leader_log_.begin() + static_cast<std::ptrdiff_t>(last));
    ready.hard_state = hard_state_with(std::min(cluster_commit_, last));
    if (std::string e = persist(ready); !e.empty() || fs_->crashed()) return e;
    matching_ = last;
    return "";
  }

  // The leader appends and commits with the other followers: the victim lags.
  std::string leader_only_append() {
    grow_leader_log(uniform(1, 20));
    if (chance(0.7)) cluster_commit_ = leader_log_.size();
    return "";
  }

  // The victim's entries that match the leader's commit (leader + victim = a majority of 3);
  // then the committed entries are applied, in one or two batches.
  std::string commit_and_apply() {
    if (matching_ > cluster_commit_) cluster_commit_ = uniform(cluster_commit_, matching_);
    const raft::Index commit = std::min(cluster_commit_, matching_);
    if (commit > store_->log().hard_state().commit_index) {
      raft::Ready ready;
      ready.hard_state = hard_state_with(commit);
      if (std::string e = persist(ready); !e.empty() || fs_->crashed()) return e;
    }
    const raft::Index target = store_->log().hard_state().commit_index;
    const raft::Index applied = store_->state_machine().applied_index();
    if (target > applied + 1 && chance(0.5)) {
      if (std::string e = apply_to(uniform(applied + 1, target - 1)); !e.empty()) return e;
      if (fs_->crashed()) return "";
    }
    return apply_to(target);
  }

  std::string apply_to(raft::Index target) {
    const raft::Index applied = store_->state_machine().applied_index();
    if (target <= applied) return "";
    raft::Ready ready;
    store_->log().entries(applied + 1, target + 1, UINT64_MAX, &ready.committed_entries);
    Result<std::vector<ApplyResult>> results = store_->apply(ready);
    if (!results.is_ok()) return "apply failed: " + results.status().to_string();
    return record_hash(target, store_->state_machine().state_hash().hash);
  }

  std::string record_hash(raft::Index index, uint64_t hash) {
    applied_max_ = std::max(applied_max_, index);
    auto [it, inserted] = hash_at_.emplace(index, hash);
    if (!inserted && it->second != hash) {
      return "state at applied index " + std::to_string(index) + " differs between two applies";
    }
    return "";
  }

  // An election: a new term, maybe with a vote.
  std::string new_term() {
    ++term_;
    raft::Ready ready;
    raft::HardState hs = hard_state_with(0);
    hs.voted_for = chance(0.6) ? uniform(0, 2) : raft::kNoNode;
    ready.hard_state = hs;
    return persist(ready);
  }

  // The victim, as a leader of the current term, appends entries nobody else gets; a new leader
  // (next term) will overwrite them (§5.3).
  std::string divergent_append() {
    if (matching_ != leader_log_.size() || matching_ != written_.last()) return "";
    raft::Ready ready;
    for (raft::Entry e : test::workload(matching_ + 1, uniform(1, 5), rng_())) {
      e.term = term_;
      ready.entries.push_back(std::move(e));
    }
    ready.hard_state = hard_state_with(0);
    std::string e = persist(ready);
    ++term_;  // whatever happened: the leader's next entries at these indexes are newer
    return e;
  }

  // Capture, maybe apply more meanwhile (stress_node writes the file on another thread), write,
  // commit with compaction.
  std::string local_snapshot() {
    if (store_->state_machine().applied_index() == 0) return "";
    SnapshotCapture capture = store_->capture_snapshot();
    if (chance(0.3)) {
      if (std::string e = apply_to(store_->log().hard_state().commit_index); !e.empty()) return e;
      if (fs_->crashed()) return "";
    }
    Result<SnapshotFile> file = store_->write_snapshot(capture);
    if (!file.is_ok()) return "snapshot write failed: " + file.status().to_string();
    if (fs_->crashed()) return "";
    const uint64_t keep = std::array<uint64_t, 3>{0, 5, 40}[uniform(0, 2)];
    const Durable expected = after_commit_snapshot(written_, file->index, keep);
    inflight_ = expected;
    if (Status s = store_->commit_snapshot(*file, raft::ConfState{{0, 1, 2}}, keep); !s.is_ok()) {
      return "snapshot commit failed: " + s.to_string();
    }
    if (fs_->crashed()) return "";
    inflight_.reset();
    if (!(expected == written_)) {  // (else a newer snapshot was there: nothing written)
      ++snapshots_;
      applied_floor_ = store_->state_machine().applied_index();
      acked_ = expected;  // synced: the unsynced writes before it are durable with it
      written_ = expected;
      unsynced_.clear();
    }
    return check_live("a snapshot commit");
  }

  // The leader sends a snapshot at the cluster's commit index, in chunks.
  std::string install() {
    const raft::Index index = cluster_commit_;
    if (index == 0 || index <= store_->state_machine().applied_index() ||
        index <= written_.snapshot_index || index <= written_.compacted) {
      return "";
    }
    Result<raft::SnapshotMeta> meta = donor_snapshot(index);
    if (!meta.is_ok()) return "donor: " + meta.status().to_string();
    uint64_t offset = 0;
    while (offset < meta->size_bytes) {
      raft::Ready chunks;
      const uint64_t n = std::min<uint64_t>(meta->size_bytes - offset, uniform(1, 4096));
      raft::SnapshotChunk chunk{*meta, offset, donor_->log().snapshot_chunk(index, offset, n),
                                offset + n == meta->size_bytes};
      chunks.snapshot_chunks.push_back(std::move(chunk));
      if (std::string e = persist(chunks); !e.empty() || fs_->crashed()) return e;
      offset += n;
    }
    raft::Ready ready;
    ready.snapshot = *meta;
    ready.hard_state = hard_state_with(0);
    if (std::string e = persist(ready); !e.empty() || fs_->crashed()) return e;
    ++installs_;
    applied_floor_ = index;
    const bool agrees = matching_ >= index;
    if (!agrees) matching_ = index;
    return record_hash(index, store_->state_machine().state_hash().hash);
  }

  // The donor follows the leader's committed log (on the real file system) and snapshots it.
  Result<raft::SnapshotMeta> donor_snapshot(raft::Index index) {
    LogStorage& log = donor_->log();
    if (log.last_index() < index) {
      raft::Ready ready;
      ready.entries.assign(leader_log_.begin() + static_cast<std::ptrdiff_t>(log.last_index()),
                           leader_log_.begin() + static_cast<std::ptrdiff_t>(index));
      ready.hard_state = raft::HardState{term_, raft::kNoNode, index};
      if (Status s = donor_->persist(ready); !s.is_ok()) return s;
    }
    raft::Ready apply;
    const raft::Index applied = donor_->state_machine().applied_index();
    log.entries(applied + 1, index + 1, UINT64_MAX, &apply.committed_entries);
    if (Result<std::vector<ApplyResult>> r = donor_->apply(apply); !r.is_ok()) return r.status();
    if (std::string e = record_hash(index, donor_->state_machine().state_hash().hash); !e.empty()) {
      return Status::corruption(e);
    }
    return donor_->create_snapshot(raft::ConfState{{0, 1, 2}}, /*keep_entries=*/1'000'000);
  }

  const bool trace_ = env_u64("KV_CRASH_TRACE", 0) != 0;  // prints each operation
  std::mt19937_64 rng_;
  std::filesystem::path dir_;
  std::shared_ptr<test::PowerLossFs> fs_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Store> donor_;

  // The cluster as the victim's leader sees it.
  raft::Term term_ = 1;
  std::vector<raft::Entry> leader_log_;  // index i at [i - 1]
  raft::Index cluster_commit_ = 0;
  raft::Index matching_ = 0;  // the victim's log equals the leader's on [1, matching_]

  // What the victim acknowledged (synced), what it wrote since (written_, with each unsynced
  // state on the way in unsynced_), and what the operation in flight at the crash would leave.
  Durable acked_;
  Durable written_;
  std::vector<Durable> unsynced_;
  std::optional<Durable> inflight_;
  raft::Index applied_floor_ = 0;  // applied index at the last synced write: durable with it
  std::map<raft::Index, uint64_t> hash_at_;  // state hash by applied index, first seen live

  uint64_t crash_points_ = 0;
  uint64_t acked_persists_ = 0;
  uint64_t snapshots_ = 0;
  uint64_t installs_ = 0;
  uint64_t applied_max_ = 0;
};

TEST(PowerLoss,
     AcknowledgedStateSurvivesRandomPowerLossesAcrossAppendsAppliesSnapshotsAndInstalls) {
  const uint64_t seed = env_u64("KV_CRASH_SEED", std::random_device{}());
  const uint64_t points_max = env_u64("KV_CRASH_POINTS", 2000);
  const uint64_t seconds_max = env_u64("KV_CRASH_SECONDS", 30);
  const uint64_t crash_ops_max = env_u64("KV_CRASH_OPS_MAX", 60);
  std::printf(
      "power-loss crash test: seed %llu; replay: KV_CRASH_SEED=%llu KV_CRASH_POINTS=%llu "
      "build/tests/unit/kv/kv_unit_tests --gtest_filter='PowerLoss.*'\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(points_max));
  std::fflush(stdout);  // the seed must be seen even if the run aborts
  test::TempDir dir;
  CrashRun run(seed, dir.path() / "node", dir.path() / "donor");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  uint64_t life = 0;
  std::string error;
  while (run.crash_points() < points_max && std::chrono::steady_clock::now() < deadline) {
    error = run.life(crash_ops_max);
    if (!error.empty()) break;
    ++life;
  }
  std::printf(
      "power-loss crash test: seed %llu, %llu crash points, %llu acknowledged persists, "
      "%llu snapshots committed, %llu installed, applied up to %llu\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(run.crash_points()),
      static_cast<unsigned long long>(run.acked_persists()),
      static_cast<unsigned long long>(run.snapshots()),
      static_cast<unsigned long long>(run.installs()),
      static_cast<unsigned long long>(run.applied_max()));
  ASSERT_TRUE(error.empty()) << "after crash point " << run.crash_points() << " (life " << life
                             << ", seed " << seed << "): " << error;
  // A run too short to cover the operations would prove little.
  EXPECT_GE(run.crash_points(), std::min<uint64_t>(points_max, 100));
  EXPECT_GT(run.snapshots(), 0u);
  EXPECT_GT(run.installs(), 0u);
}

}  // namespace
}  // namespace kv

namespace kv {
namespace {

// One persist() is one synced write: its batch survives a power loss right after it returns,
// while the apply after it (not synced, by design: it is replayed from the log) is lost. Both
// halves fail if the file system did not drop unsynced data or persist() did not sync.
TEST(PowerLoss, SyncedLogBatchSurvivesPowerLossWhileTheUnsyncedApplyAfterItIsLost) {
  test::TempDir dir;
  auto fs = std::make_shared<test::PowerLossFs>();
  StoreOptions options = test::test_store_options();
  options.db.file_system = fs;
  std::mt19937_64 rng(7);
  {
    std::unique_ptr<Store> store = test::open_store(dir.path(), options);
    ASSERT_NE(store, nullptr);
    const std::vector<raft::Entry> entries = test::workload(1, 100, 1);
    test::persist_entries(store->log(), entries, 1);
    test::apply_all(store->state_machine(), entries);
    ASSERT_EQ(store->state_machine().applied_index(), 100u);
    fs->crash_after(1);
  }
  fs->lose_power(rng, /*keep_unsynced_prefix=*/false);
  std::unique_ptr<Store> store = test::open_store(dir.path(), options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->log().last_index(), 100u);
  EXPECT_EQ(store->log().hard_state().commit_index, 100u);
  EXPECT_EQ(store->state_machine().applied_index(), 0u);
}

}  // namespace
}  // namespace kv

namespace kv {
namespace {

// stress_node creates the data directory itself (for its log file) before opening the store:
// Store::open must still make that directory's entry durable, or a power loss takes the whole
// directory, synced log included.
TEST(PowerLoss, DataDirectoryCreatedByTheCallerSurvivesPowerLoss) {
  test::TempDir dir;
  auto fs = std::make_shared<test::PowerLossFs>();
  StoreOptions options = test::test_store_options();
  options.db.file_system = fs;
  const std::filesystem::path data_dir = dir.path() / "node";
  ASSERT_TRUE(fs->CreateDir(data_dir.string(), rocksdb::IOOptions(), nullptr).ok());
  std::mt19937_64 rng(9);
  {
    std::unique_ptr<Store> store = test::open_store(data_dir, options);
    ASSERT_NE(store, nullptr);
    test::persist_entries(store->log(), test::workload(1, 10, 1), 1);
    fs->crash_after(1);
  }
  fs->lose_power(rng, /*keep_unsynced_prefix=*/false);
  std::unique_ptr<Store> store = test::open_store(data_dir, options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->log().last_index(), 10u);
}

}  // namespace
}  // namespace kv
