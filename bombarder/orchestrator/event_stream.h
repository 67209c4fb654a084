// The orchestrator's event stream (issue 17): GET /events[?run=ID] as server-sent events
// (text/event-stream), one event per change of a run: run_created, progress, result,
// revert_done, run_aborted. Each is `id: SEQ`, `event: TYPE`, `data: {json}`.
//
// Bounds: at most kSubscribersMax streams (more: 429); a subscriber that lets kQueueMax events
// pile up is disconnected rather than buffered without limit; events are not kept for replay
// (a client that reconnects reads the run's state from GET /runs/{id}, then follows the stream).
//
// Threads: the orchestrator's io_context thread.
#pragma once

#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/http_upgrade.h"

namespace bombarder {

class EventStreams {
 public:
  static constexpr size_t kSubscribersMax = 64;
  static constexpr size_t kQueueMax = 1024;

  // Takes over a GET /events connection whose operator token was checked: answers 200 and
  // keeps it, or 429 when the subscribers are at their bound.
  void subscribe(std::shared_ptr<common::UpgradedConnection> connection, std::string run_filter);
  // Sends the event to every subscriber of its run (or of every run).
  void publish(const std::string& run, const std::string& type, const nlohmann::json& data);
  void close_all();
  [[nodiscard]] size_t size() const { return subscribers_.size(); }

  // Writes a whole HTTP response on a connection taken over, then closes it.
  static void answer_and_close(std::shared_ptr<common::UpgradedConnection> connection,
                               unsigned status, const std::string& body);

  class Subscriber;

 private:
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
  uint64_t seq_ = 0;
};

}  // namespace bombarder
