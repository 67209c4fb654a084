#include "sim/state_machine.h"

#include <cstring>

#include "raft/assert.h"
#include "sim/hash.h"

namespace sim {
namespace {

void put_u64(std::string* out, uint64_t v) {
  char bytes[8];
  std::memcpy(bytes, &v, 8);
  out->append(bytes, 8);
}

uint64_t get_u64(std::string_view in, size_t offset) {
  uint64_t v;
  std::memcpy(&v, in.data() + offset, 8);
  return v;
}

}  // namespace

std::string encode_command(const Command& command, size_t size_bytes) {
  RAFT_ASSERT(size_bytes >= kCommandHeaderBytes, "payload too small for a command");
  std::string out;
  out.reserve(size_bytes);
  put_u64(&out, command.proposal_id);
  out.push_back(static_cast<char>(command.key));
  out.resize(size_bytes, '.');  // padding: payload hashes cover it, so corruption shows
  return out;
}

std::optional<Command> decode_command(std::string_view payload) {
  if (payload.size() < kCommandHeaderBytes) return std::nullopt;
  Command command;
  command.proposal_id = get_u64(payload, 0);
  command.key = static_cast<uint8_t>(payload[8]);
  if (command.key >= StateMachine::kKeyCount) return std::nullopt;
  return command;
}

bool StateMachine::apply(const raft::Entry& entry) {
  RAFT_ASSERT(entry.index == applied_index_ + 1, "state machine applies out of order");
  // A no-op still occupies its index (§5.4.2 leaders append one); it changes no state.
  if (entry.type == raft::EntryType::kNormal) {
    std::optional<Command> command = decode_command(entry.data.view());
    if (!command) return false;
    values_[command->key] = command->proposal_id;
    // The padding is not state; the checker compares whole payloads separately.
    digest_ = hash_combine(hash_combine(digest_, entry.index),
                           hash_combine(command->proposal_id, command->key));
  }
  applied_index_ = entry.index;
  return true;
}

std::string StateMachine::serialize() const {
  std::string out;
  out.reserve(kSerializedBytes);
  put_u64(&out, applied_index_);
  put_u64(&out, digest_);
  for (uint64_t v : values_) put_u64(&out, v);
  return out;
}

std::optional<StateMachine> StateMachine::deserialize(std::string_view body) {
  if (body.size() != kSerializedBytes) return std::nullopt;
  StateMachine sm;
  sm.applied_index_ = get_u64(body, 0);
  sm.digest_ = get_u64(body, 8);
  for (size_t k = 0; k < kKeyCount; ++k) sm.values_[k] = get_u64(body, 16 + 8 * k);
  return sm;
}

}  // namespace sim
