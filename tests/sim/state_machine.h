// The replicated state machine the simulator runs on every node: a tiny KV map plus a running
// digest of everything applied, so two replicas can be compared in O(1) and a snapshot carries
// exactly the state of the applied prefix it claims.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace sim {

// A client command: proposal_id is unique within a run; key picks the KV slot it overwrites.
struct Command {
  uint64_t proposal_id = 0;
  uint8_t key = 0;
};

inline constexpr size_t kCommandHeaderBytes = 9;  // proposal_id (8) + key (1)

// Encodes a command padded to size_bytes (>= kCommandHeaderBytes) so payload sizes can vary.
std::string encode_command(const Command& command, size_t size_bytes);
// nullopt when the payload is not a well-formed command (a corrupted entry).
std::optional<Command> decode_command(std::string_view payload);

class StateMachine {
 public:
  static constexpr size_t kKeyCount = 32;
  // Serialized size: applied_index, digest, then one value per key. At 272 bytes a snapshot spans
  // several chunks with the simulator's 64..256-byte chunk bound.
  static constexpr size_t kSerializedBytes = 16 + 8 * kKeyCount;

  // Applies the entry at applied_index() + 1. Returns false (and changes nothing) when a normal
  // entry's payload is not a command: the caller reports the corruption.
  [[nodiscard]] bool apply(const raft::Entry& entry);

  [[nodiscard]] std::string serialize() const;
  // nullopt when `body` is not a serialized state machine.
  [[nodiscard]] static std::optional<StateMachine> deserialize(std::string_view body);

  [[nodiscard]] raft::Index applied_index() const { return applied_index_; }
  // Running hash over (index, proposal_id, key) of every applied command: equal digests at equal
  // indexes mean equal applied histories.
  [[nodiscard]] uint64_t digest() const { return digest_; }

 private:
  raft::Index applied_index_ = 0;
  uint64_t digest_ = 0;
  std::array<uint64_t, kKeyCount> values_{};  // proposal_id last written to each key
};

}  // namespace sim
