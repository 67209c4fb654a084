// The seam between the raft thread and the peer transport.
#pragma once

#include <vector>

#include "raft/message.h"

namespace stress_node {

class PeerSender {
 public:
  virtual ~PeerSender() = default;
  // Called on the raft thread after the batch that produced `messages` is durable. Must not
  // block: queue (bounded; Raft tolerates dropped messages, so drop when a peer is slow or down)
  // and return.
  virtual void send(std::vector<raft::Message>&& messages) = 0;
  // A message from `id` just arrived (any thread): the peer is up, so stop backing off from it.
  virtual void peer_alive(raft::NodeId /*id*/) {}
};

}  // namespace stress_node
