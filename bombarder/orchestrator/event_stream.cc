#include "bombarder/orchestrator/event_stream.h"

#include <algorithm>

#include "bombarder/base/write_queue.h"

namespace bombarder {

namespace asio = boost::asio;
namespace beast = boost::beast;

class EventStreams::Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(std::shared_ptr<common::UpgradedConnection> connection, std::string run_filter)
      : connection_(std::move(connection)), run_filter_(std::move(run_filter)) {}

  void start() {
    send(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\n\r\n: subscribed\n\n");
    watch_for_close();
  }
  [[nodiscard]] bool wants(const std::string& run) const {
    return run_filter_.empty() || run_filter_ == run;
  }
  [[nodiscard]] bool closed() const { return closed_; }
  void send(std::string text) {
    if (closed_) return;
    // Too slow a reader (kQueueMax events waiting): dropped.
    if (!queue_.push(shared_from_this(), std::move(text))) close();
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    std::visit(
        [](auto& stream) {
          beast::error_code ignored;
          beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                            ignored);
          beast::get_lowest_layer(stream).close();
        },
        connection_->stream);
  }

  // WriteQueue's owner interface.
  void on_queue_drained() {}
  template <typename Handler>
  void write_one(const std::string& text, Handler handler) {
    std::visit(
        [&](auto& stream) { asio::async_write(stream, asio::buffer(text), std::move(handler)); },
        connection_->stream);
  }

 private:
  // A client sends nothing after its request: a read that ends means it went away.
  void watch_for_close() {
    std::visit(
        [this](auto& stream) {
          stream.async_read_some(asio::buffer(discard_),
                                 [self = shared_from_this()](beast::error_code ec, size_t) {
                                   if (ec) return self->close();
                                   self->watch_for_close();
                                 });
        },
        connection_->stream);
  }

  std::shared_ptr<common::UpgradedConnection> connection_;
  std::string run_filter_;
  WriteQueue queue_{kQueueMax};
  std::array<char, 512> discard_{};
  bool closed_ = false;
};

void EventStreams::answer_and_close(std::shared_ptr<common::UpgradedConnection> connection,
                                    unsigned status, const std::string& body) {
  auto response = std::make_shared<beast::http::response<beast::http::string_body>>(
      static_cast<beast::http::status>(status), 11);
  response->set(beast::http::field::content_type, "application/json");
  response->keep_alive(false);
  response->body() = body;
  response->prepare_payload();
  std::visit(
      [response, connection](auto& stream) {
        beast::http::async_write(stream, *response,
                                 [response, connection](beast::error_code, size_t) {
                                   beast::error_code ignored;
                                   std::visit(
                                       [&](auto& s) {
                                         beast::get_lowest_layer(s).socket().shutdown(
                                             asio::ip::tcp::socket::shutdown_both, ignored);
                                       },
                                       connection->stream);
                                 });
      },
      connection->stream);
}

void EventStreams::subscribe(std::shared_ptr<common::UpgradedConnection> connection,
                             std::string run_filter) {
  std::erase_if(subscribers_, [](const auto& s) { return s->closed(); });
  if (subscribers_.size() >= kSubscribersMax) {
    return answer_and_close(
        std::move(connection), 429,
        R"({"error":"too_many_subscribers","message":"the event stream is at its subscriber bound"})");
  }
  auto subscriber = std::make_shared<Subscriber>(std::move(connection), std::move(run_filter));
  subscribers_.push_back(subscriber);
  subscriber->start();
}

void EventStreams::publish(const std::string& run, const std::string& type,
                           const nlohmann::json& data) {
  if (subscribers_.empty()) return;
  const std::string text =
      "id: " + std::to_string(++seq_) + "\nevent: " + type + "\ndata: " + data.dump() + "\n\n";
  for (const auto& s : subscribers_) {
    if (s->wants(run)) s->send(text);
  }
  std::erase_if(subscribers_, [](const auto& s) { return s->closed(); });
}

void EventStreams::close_all() {
  for (const auto& s : subscribers_) s->close();
  subscribers_.clear();
}

}  // namespace bombarder
