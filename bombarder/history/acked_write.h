// What a run's acknowledgements tell about the ids it wrote: the load engine collects it, the run
// record keeps it (acked.jsonl) and `verify` checks it on every node.
#pragma once

#include <string>

namespace bombarder {

// The final state of one id as far as this run's acknowledgements tell.
struct AckedWrite {
  std::string key;
  std::string value;     // last acknowledged value
  bool deleted = false;  // last acknowledged write was a delete
  // The last write on this id ended with an unknown outcome: its effect may or may not be there.
  bool uncertain = false;
  std::string uncertain_value;    // the unknown write's value (an update)
  bool uncertain_delete = false;  // the unknown write was a delete
};

}  // namespace bombarder
