// One open agent-side WebSocket to the orchestrator: a bounded write queue over a plain or a TLS
// stream. Shared by the agent (agent.h) and the simulated fleet (simulated_fleet.h).
//
// Bounds: at most kLinkQueueMax messages wait to be written; one more closes the link (the
// orchestrator stopped reading: holding more would only grow memory). Owned by the session that
// reads from it and by the write callbacks in flight. Threads: one io_context thread.
#pragma once

#include "common/asio.h"
// (asio.h first: design.md §6.)
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>

namespace bombarder {

inline constexpr size_t kLinkQueueMax = 1024;

class Link {
 public:
  virtual ~Link() = default;
  virtual void send(std::string text) = 0;
  virtual void close() = 0;
  [[nodiscard]] virtual bool closed() const = 0;
};

template <typename Ws>
class WsLink : public Link, public std::enable_shared_from_this<WsLink<Ws>> {
 public:
  template <typename... Args>
  explicit WsLink(Args&&... args) : ws(std::forward<Args>(args)...) {}
  void send(std::string text) override {
    if (closed_) return;
    if (queue_.size() >= kLinkQueueMax) return close();
    queue_.push_back(std::move(text));
    if (!writing_) write_next();
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    boost::beast::error_code ignored;
    auto& lowest = boost::beast::get_lowest_layer(ws);
    lowest.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    lowest.close();
  }
  [[nodiscard]] bool closed() const override { return closed_; }
  Ws ws;

 private:
  void write_next() {
    if (closed_ || queue_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    ws.text(true);
    ws.async_write(boost::asio::buffer(queue_.front()),
                   [self = this->shared_from_this()](boost::beast::error_code ec, size_t) {
                     if (ec) return self->close();
                     self->queue_.pop_front();
                     self->write_next();
                   });
  }
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace bombarder
