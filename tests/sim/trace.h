// The event trace of one run: a hash of every event (two runs of a seed must produce the same
// hash: that is what makes a seed a reproducer) and, with --verbose, one printed line per event.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "raft/message.h"
#include "raft/raft_core.h"
#include "sim/hash.h"

namespace sim {

using Tick = uint64_t;

enum class EventKind : uint8_t {
  kTick,
  kDeliver,
  kDrop,  // dropped at delivery: link cut or recipient down
  kPropose,
  kReadIndex,
  kReadState,
  kTransfer,
  kCampaign,
  kCrash,
  kRestart,
  kPartition,
  kSoftState,
  kSnapshotCreated,
  kSnapshotInstalled,
  kSnapshotForced,
  kPhase,
};
const char* to_string(EventKind kind);

class Trace {
 public:
  // `out` receives one line per event when non-null (--verbose).
  explicit Trace(std::ostream* out) : out_(out) {}

  // Records an event. `describe` (called only when printing) returns the human-readable rest.
  template <typename Describe>
  void event(Tick now, EventKind kind, raft::NodeId node, uint64_t a, uint64_t b,
             Describe&& describe) {
    hash_ = hash_combine(hash_combine(hash_combine(hash_, now), static_cast<uint64_t>(kind)),
                         hash_combine(hash_combine(node, a), b));
    ++events_;
    if (out_ != nullptr) {
      *out_ << "t=" << now << ' ' << to_string(kind);
      if (node != raft::kNoNode) *out_ << " n" << node;
      *out_ << ' ' << describe() << '\n';
    }
  }
  void event(Tick now, EventKind kind, raft::NodeId node, uint64_t a = 0, uint64_t b = 0) {
    event(now, kind, node, a, b, [] { return std::string(); });
  }

  [[nodiscard]] bool verbose() const { return out_ != nullptr; }
  [[nodiscard]] uint64_t hash() const { return hash_; }
  [[nodiscard]] uint64_t events() const { return events_; }

 private:
  std::ostream* out_;
  uint64_t hash_ = 0;
  uint64_t events_ = 0;
};

// One-line descriptions for verbose traces and violation reports.
std::string describe(const raft::Message& m);
std::string describe(const raft::SoftState& soft);

}  // namespace sim
