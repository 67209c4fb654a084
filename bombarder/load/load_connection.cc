#include "bombarder/load/load_connection.h"

#include "bombarder/client/http_wire.h"

namespace bombarder {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
// Answers larger than this are refused (a list page of 10,000 entries is a few MiB).
constexpr uint64_t kResponseBodyBytesMax = 64 << 20;
}  // namespace

void LoadConnection::format_request(std::string& out, std::string_view method,
                                    std::string_view target, std::string_view host,
                                    std::string_view extra_header, std::string_view body) {
  append_http_request(out, method, target, host, extra_header, body);
}

void LoadConnection::send(const std::string& wire, std::chrono::milliseconds timeout, Done done) {
  wire_ = &wire;
  done_ = std::move(done);
  timed_out_ = false;
  const uint64_t exchange = ++exchange_;
  // One deadline for connect, write and read together: on expiry the socket is closed, which
  // ends whatever operation is pending with operation_aborted (reported as timed_out).
  timer_.expires_after(timeout);
  timer_.async_wait([this, exchange](beast::error_code ec) {
    // Cancelled, or expired just as its exchange finished and a new one began.
    if (ec || exchange != exchange_ || done_ == nullptr) return;
    timed_out_ = true;
    beast::error_code ignored;
    socket_.close(ignored);
  });
  if (connected_) return write();
  socket_.async_connect(to_, [this](beast::error_code ec) {
    if (ec) {
      if (counters_ != nullptr) counters_->connect_failed.fetch_add(1, std::memory_order_relaxed);
      return finish(ec);
    }
    connected_ = true;
    if (counters_ != nullptr) counters_->opened.fetch_add(1, std::memory_order_relaxed);
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    if (tls_context_) return handshake();
    write();
  });
}

void LoadConnection::handshake() {
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
  std::string error;
  if (!common::prepare_client_tls(tls_->native_handle(), host_, &error)) {
    return finish(asio::error::invalid_argument);
  }
  tls_->async_handshake(asio::ssl::stream_base::client, [this](beast::error_code ec) {
    if (ec) return finish(ec);
    write();
  });
}

void LoadConnection::write() {
  with_stream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(*wire_), [this, &stream](beast::error_code ec, size_t) {
      if (ec) return finish(ec);
      if (framing_ == WireFraming::kResp) {
        resp_bytes_.clear();
        resp_reader_.emplace();
        return read_resp(stream);
      }
      parser_.emplace();
      parser_->body_limit(kResponseBodyBytesMax);
      http::async_read(stream, buffer_, *parser_, [this](beast::error_code ec, size_t) {
        if (ec) return finish(ec);
        response_ = parser_->release();
        if (!response_.keep_alive()) close();
        finish({});
      });
    });
  });
}

template <typename Stream>
void LoadConnection::read_resp(Stream& stream) {
  const size_t had = resp_bytes_.size();
  constexpr size_t kReadBytes = 16 << 10;
  resp_bytes_.resize(had + kReadBytes);
  stream.async_read_some(asio::buffer(resp_bytes_.data() + had, kReadBytes),
                         [this, &stream, had](beast::error_code ec, size_t n) {
                           resp_bytes_.resize(had + n);
                           if (ec) return finish(ec);
                           resp_reader_->feed(std::string_view(resp_bytes_).substr(had));
                           RespReply ignored;
                           std::string error;
                           const RespReader::Result result = resp_reader_->next(&ignored, &error);
                           if (result == RespReader::Result::kIncomplete) {
                             if (resp_bytes_.size() > kResponseBodyBytesMax) {
                               return finish(asio::error::no_buffer_space);
                             }
                             return read_resp(stream);
                           }
                           response_ = {};
                           response_.result(http::status::ok);
                           response_.body() = std::move(resp_bytes_);
                           resp_bytes_.clear();
                           // Not RESP (e.g. an HTTP server): classify() says so; the stream is out
                           // of step.
                           if (result == RespReader::Result::kProtocolError) close();
                           finish({});
                         });
}

void LoadConnection::finish(boost::system::error_code ec) {
  timer_.cancel();
  if (ec) {
    if (timed_out_) ec = asio::error::timed_out;
    close();
  }
  Done done = std::move(done_);
  done_ = nullptr;
  done(ec, response_);
}

void LoadConnection::close() {
  beast::error_code ignored;
  if (socket_.is_open()) {
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  if (connected_ && counters_ != nullptr) {
    counters_->closed.fetch_add(1, std::memory_order_relaxed);
  }
  connected_ = false;
  buffer_.clear();
}

}  // namespace bombarder
