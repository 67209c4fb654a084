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
#include <memory>
#include <string>

#include "bombarder/base/write_queue.h"

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
    if (!queue_.push(this->shared_from_this(), std::move(text))) close();
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

  // WriteQueue's owner interface.
  void on_queue_drained() {}
  template <typename Handler>
  void write_one(const std::string& text, Handler handler) {
    ws.text(true);
    ws.async_write(boost::asio::buffer(text), std::move(handler));
  }

 private:
  WriteQueue queue_{kLinkQueueMax};
  bool closed_ = false;
};

}  // namespace bombarder
