#include "sim/trace.h"

#include <sstream>

namespace sim {

const char* to_string(EventKind kind) {
  switch (kind) {
    case EventKind::kTick: return "tick";
    case EventKind::kDeliver: return "deliver";
    case EventKind::kDrop: return "drop";
    case EventKind::kPropose: return "propose";
    case EventKind::kReadIndex: return "read_index";
    case EventKind::kReadState: return "read_state";
    case EventKind::kTransfer: return "transfer";
    case EventKind::kCampaign: return "campaign";
    case EventKind::kCrash: return "CRASH";
    case EventKind::kRestart: return "RESTART";
    case EventKind::kPartition: return "PARTITION";
    case EventKind::kSoftState: return "soft_state";
    case EventKind::kSnapshotCreated: return "snapshot_created";
    case EventKind::kSnapshotInstalled: return "snapshot_installed";
    case EventKind::kSnapshotForced: return "SNAPSHOT_FORCED";
    case EventKind::kPhase: return "PHASE";
  }
  return "?";
}

std::string describe(const raft::Message& m) {
  std::ostringstream s;
  s << m.from << "->" << m.to << ' ' << raft::to_string(m.type) << " term=" << m.term;
  switch (m.type) {
    case raft::MessageType::kPreVote:
    case raft::MessageType::kVote:
      s << " last=" << m.index << '/' << m.log_term << (m.leader_transfer ? " transfer" : "");
      break;
    case raft::MessageType::kAppend:
      s << " prev=" << m.index << '/' << m.log_term << " entries=" << m.entries.size()
        << " commit=" << m.commit;
      break;
    case raft::MessageType::kAppendResp:
      s << " index=" << m.index;
      if (m.reject) s << " reject hint=" << m.reject_hint << '/' << m.log_term;
      break;
    case raft::MessageType::kHeartbeat:
      s << " commit=" << m.commit << " round=" << m.context;
      break;
    case raft::MessageType::kHeartbeatResp: s << " round=" << m.context; break;
    case raft::MessageType::kSnapshot:
      s << " snap=" << m.snapshot.index << '/' << m.snapshot.term << " off=" << m.snapshot_offset
        << " len=" << m.snapshot_data.size() << (m.snapshot_last ? " last" : "");
      break;
    case raft::MessageType::kSnapshotResp:
      s << " snap=" << m.index << " off=" << m.snapshot_offset << (m.reject ? " reject" : "")
        << (m.snapshot_last ? " installed" : "");
      break;
    case raft::MessageType::kReadIndex: s << " req=" << m.context; break;
    case raft::MessageType::kReadIndexResp:
      s << " req=" << m.context << " index=" << m.index << (m.reject ? " reject" : "");
      break;
    default:
      if (m.reject) s << " reject";
      break;
  }
  return s.str();
}

std::string describe(const raft::SoftState& soft) {
  std::ostringstream s;
  s << raft::to_string(soft.role) << " term=" << soft.term << " leader=";
  if (soft.leader == raft::kNoNode) {
    s << '-';
  } else {
    s << soft.leader;
  }
  return s.str();
}

}  // namespace sim
