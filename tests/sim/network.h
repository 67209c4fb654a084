// The simulated network: every message sent by a core waits in one bounded queue until its
// delivery tick. Faults: drop, duplicate, delay (which also reorders: two messages on the same
// link with different delays swap places) and partitions (per directed link, so one-way cuts
// are expressible). Deterministic: ties at one tick are broken by send order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "raft/message.h"
#include "sim/rng.h"
#include "sim/trace.h"

namespace sim {

struct NetworkFaults {
  double drop_probability = 0;       // per message copy, decided at send
  double duplicate_probability = 0;  // a second, independently delayed copy
  Tick delay_ticks_max = 0;          // each copy is delayed uniformly in [0, max] ticks
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;  // by drop_probability
  uint64_t duplicated = 0;
  uint64_t dropped_partition = 0;  // link cut when the message was due
  uint64_t dropped_overflow = 0;   // queue at in_flight_max
};

class Network {
 public:
  // `in_flight_max` bounds the queue: a full queue drops new messages, like a full socket buffer.
  Network(size_t node_count, Rng rng, size_t in_flight_max);

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  [[nodiscard]] const NetworkFaults& faults() const { return faults_; }

  void send(raft::Message&& message, Tick now);
  // The next message due at or before `now` over a link that is up; messages due over a cut
  // link are dropped on the way. nullopt when nothing more is due.
  [[nodiscard]] std::optional<raft::Message> next_due(Tick now);

  // Partitions act on directed links: cut(a, b) stops a's messages to b, not b's to a.
  void cut(raft::NodeId from, raft::NodeId to);
  void cut_both(raft::NodeId a, raft::NodeId b);
  void heal_all();
  [[nodiscard]] bool is_cut(raft::NodeId from, raft::NodeId to) const;
  [[nodiscard]] bool any_cut() const;

  [[nodiscard]] size_t in_flight() const { return queue_.size(); }
  [[nodiscard]] const NetworkStats& stats() const { return stats_; }

 private:
  struct InFlight {
    Tick deliver_tick;
    uint64_t seq;  // send order: breaks ties deterministically
    raft::Message message;
  };
  // std::push_heap builds a max-heap: "later" compares less so the earliest is on top.
  static bool later(const InFlight& a, const InFlight& b) {
    return a.deliver_tick != b.deliver_tick ? a.deliver_tick > b.deliver_tick : a.seq > b.seq;
  }
  void enqueue(raft::Message&& message, Tick now);

  size_t node_count_;
  Rng rng_;
  size_t in_flight_max_;
  NetworkFaults faults_;
  std::vector<InFlight> queue_;  // a heap ordered by later()
  uint64_t next_seq_ = 0;
  std::vector<uint8_t> cut_;  // cut_[from * node_count_ + to]
  NetworkStats stats_;
};

}  // namespace sim
