// Plain value types shared by the consensus core, its storage and its callers.
//
// Names follow the Raft paper (Ongaro & Ousterhout 2014): current_term, voted_for,
// commit_index, match_index, next_index. Units come last in names.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace raft {

using NodeId = uint64_t;
using Term = uint64_t;
using Index = uint64_t;

// Node ids are chosen by the operator and 0 is a valid one (`stress_node --node-id 0`), so "no
// node" is the largest value instead.
inline constexpr NodeId kNoNode = ~NodeId{0};

// An immutable, cheaply copyable byte string. Log entries travel through the unstable log, the
// batch handed to the caller, several outgoing messages and the apply queue; sharing one buffer
// keeps a 128-byte proposal from being copied a dozen times. Thread-safety: like shared_ptr.
class Payload {
 public:
  Payload() = default;
  explicit Payload(std::string bytes)
      : bytes_(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}
  explicit Payload(std::string_view bytes) : Payload(std::string(bytes)) {}

  [[nodiscard]] std::string_view view() const {
    return bytes_ ? std::string_view(*bytes_) : std::string_view();
  }
  [[nodiscard]] size_t size() const { return bytes_ ? bytes_->size() : 0; }
  [[nodiscard]] bool empty() const { return size() == 0; }
  friend bool operator==(const Payload& a, const Payload& b) { return a.view() == b.view(); }

 private:
  std::shared_ptr<const std::string> bytes_;
};

enum class EntryType : uint8_t {
  kNormal = 0,  // a client command for the state machine
  kNoop = 1,    // appended by a new leader (§5.4.2, §8); the state machine skips it
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  Payload data;

  friend bool operator==(const Entry&, const Entry&) = default;
};

// Size of an entry for byte budgets (message size, uncommitted bytes): payload plus a fixed
// header allowance so that empty entries still cost something.
inline uint64_t entry_size_bytes(const Entry& e) { return e.data.size() + 24; }

// State that must be on stable storage before messages that depend on it are sent (§5.1, Fig. 2
// "Persistent state on all servers"). commit_index is persisted too so that a restarted node can
// apply what it knows to be committed without waiting for a leader.
struct HardState {
  Term current_term = 0;
  NodeId voted_for = kNoNode;
  Index commit_index = 0;

  friend bool operator==(const HardState&, const HardState&) = default;
};

// The voter set. Kept in exactly one place (ProgressTracker) so that membership changes can be
// added later without hunting for copies. Sorted ascending, no duplicates.
struct ConfState {
  std::vector<NodeId> voters;

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

// Identity of a snapshot: the state machine after applying every entry up to and including
// `index` (whose term is `term`), taken under voter set `conf`. `size_bytes` is the length of the
// opaque snapshot body and `checksum` the caller's checksum of it; the core passes both through
// untouched so the receiver can verify what it staged before installing it.
struct SnapshotMeta {
  Index index = 0;
  Term term = 0;
  ConfState conf;
  uint64_t size_bytes = 0;
  uint64_t checksum = 0;

  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

// One piece of a snapshot body received from the leader, to be written at `offset` into the
// staging area for snapshot `meta.index`. offset == 0 starts a new staging area (discarding any
// other). Chunks arrive in order without gaps.
struct SnapshotChunk {
  SnapshotMeta meta;
  uint64_t offset = 0;
  Payload data;
  bool last = false;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* to_string(Role role);

}  // namespace raft
