#include "bombarder/history/operation.h"

namespace bombarder {

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kCreate: return "create";
    case OpKind::kRead: return "read";
    case OpKind::kUpdate: return "update";
    case OpKind::kDelete: return "delete";
    case OpKind::kList: return "list";
  }
  return "?";
}

}  // namespace bombarder
