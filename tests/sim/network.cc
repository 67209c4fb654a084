#include "sim/network.h"

#include <algorithm>

#include "raft/assert.h"

namespace sim {

Network::Network(size_t node_count, Rng rng, size_t in_flight_max)
    : node_count_(node_count),
      rng_(rng),
      in_flight_max_(in_flight_max),
      cut_(node_count * node_count, 0) {}

void Network::send(raft::Message&& message, Tick now) {
  ++stats_.sent;
  if (rng_.chance(faults_.drop_probability)) {
    ++stats_.dropped;
    return;
  }
  if (rng_.chance(faults_.duplicate_probability)) {
    ++stats_.duplicated;
    raft::Message copy = message;
    enqueue(std::move(copy), now);
  }
  enqueue(std::move(message), now);
}

void Network::enqueue(raft::Message&& message, Tick now) {
  if (queue_.size() >= in_flight_max_) {
    ++stats_.dropped_overflow;
    return;
  }
  const Tick delay_ticks = faults_.delay_ticks_max > 0 ? rng_.range(0, faults_.delay_ticks_max) : 0;
  queue_.push_back(InFlight{now + delay_ticks, next_seq_++, std::move(message)});
  std::push_heap(queue_.begin(), queue_.end(), later);
}

std::optional<raft::Message> Network::next_due(Tick now) {
  while (!queue_.empty() && queue_.front().deliver_tick <= now) {
    std::pop_heap(queue_.begin(), queue_.end(), later);
    raft::Message message = std::move(queue_.back().message);
    queue_.pop_back();
    if (message.from < node_count_ && message.to < node_count_ &&
        is_cut(message.from, message.to)) {
      ++stats_.dropped_partition;
      continue;
    }
    ++stats_.delivered;
    return message;
  }
  return std::nullopt;
}

void Network::cut(raft::NodeId from, raft::NodeId to) {
  RAFT_ASSERT(from < node_count_ && to < node_count_, "cut of a link outside the cluster");
  cut_[from * node_count_ + to] = 1;
}

void Network::cut_both(raft::NodeId a, raft::NodeId b) {
  cut(a, b);
  cut(b, a);
}

void Network::heal_all() { std::fill(cut_.begin(), cut_.end(), 0); }

bool Network::is_cut(raft::NodeId from, raft::NodeId to) const {
  return cut_[from * node_count_ + to] != 0;
}

bool Network::any_cut() const {
  return std::any_of(cut_.begin(), cut_.end(), [](uint8_t c) { return c != 0; });
}

}  // namespace sim
