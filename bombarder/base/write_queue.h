// A bounded FIFO of whole messages written to one stream one at a time: the write loop the
// agent's WebSocket (agent/ws_link.h), the orchestrator's agent sessions
// (orchestrator/agent_session.h) and its event stream (orchestrator/event_stream.h) share.
// An Asio stream allows one write in flight, so each message waits for the one before it.
//
// The owner (held by a shared_ptr while a write is in flight) provides:
//   bool closed() const;                    nothing is written once it is closed
//   void close();                           called when a write fails
//   void on_queue_drained();                called when the last queued message is written
//   void write_one(const std::string& text, Handler handler);   starts one async write of
//                                           `text` (which stays alive and unmoved until the
//                                           handler runs) and calls handler(error_code, size_t)
//
// Bound: at most `messages_max` messages wait; push() refuses one more and the owner decides
// (every owner closes the connection: a peer that stops reading would otherwise hold memory).
// Threads: one io_context thread, like its owner.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <utility>

namespace bombarder {

class WriteQueue {
 public:
  explicit WriteQueue(size_t messages_max) : messages_max_(messages_max) {}

  // Queues `text` and starts writing when no write is in flight. False (nothing queued) when
  // the queue holds messages_max already.
  template <typename Owner>
  [[nodiscard]] bool push(const std::shared_ptr<Owner>& owner, std::string text) {
    if (queue_.size() >= messages_max_) return false;
    queue_.push_back(std::move(text));
    if (!writing_) write_next(owner);
    return true;
  }
  [[nodiscard]] size_t size() const { return queue_.size(); }

 private:
  template <typename Owner>
  void write_next(std::shared_ptr<Owner> owner) {
    if (owner->closed() || queue_.empty()) {
      writing_ = false;
      if (!owner->closed()) owner->on_queue_drained();
      return;
    }
    writing_ = true;
    owner->write_one(queue_.front(), [this, owner](const auto& ec, size_t) {
      if (ec) return owner->close();
      queue_.pop_front();
      write_next(owner);
    });
  }

  const size_t messages_max_;
  std::deque<std::string> queue_;
  bool writing_ = false;
};

}  // namespace bombarder
