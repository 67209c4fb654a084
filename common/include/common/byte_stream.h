// A connection's byte stream, plain TCP or TLS over it, and a connection taken over by its
// handler after an HTTP upgrade (http_server.h Response::take_over).
//
// Threads: like the Beast streams inside, not thread-safe; use from the io_context's thread
// (or one strand).
#pragma once

#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <variant>

#include "common/tls.h"

namespace common {

// Either a plain connection or TLS on one; both are Beast AsyncStreams, so code that speaks a
// protocol over them takes one with std::visit.
using ByteStream = std::variant<boost::beast::tcp_stream, TlsStream>;

// The TCP layer under either: timeouts (expires_after), shutdown and close.
[[nodiscard]] inline boost::beast::tcp_stream& tcp_layer(ByteStream& stream) {
  return std::visit(
      [](auto& s) -> boost::beast::tcp_stream& { return boost::beast::get_lowest_layer(s); },
      stream);
}

// A connection the HTTP server has handed over, in one of two ways:
// - the handler answered 101 (Switching Protocols) with a take_over callback (http_server.h
//   Response::take_over; stress_node's peer streams): the 101 is written, `request` is empty;
// - the request hit a route of Router::add_upgrade (a WebSocket) or add_takeover (server-sent
//   events) (common/http_upgrade.h; the orchestrator): nothing is answered yet, `request` is the
//   request, and the new owner answers it.
// Either way: no timeout armed, no operation pending, and `buffer` holds any bytes the server
// read past the request (the first bytes of the new protocol). From then on the HTTP server
// neither reads, writes, times nor counts the connection: the new owner bounds and closes it.
struct UpgradedConnection {
  UpgradedConnection(ByteStream s, boost::beast::flat_buffer b, bool verified,
                     boost::beast::http::request<boost::beast::http::string_body> r = {})
      : stream(std::move(s)),
        request(std::move(r)),
        buffer(std::move(b)),
        client_certificate_verified(verified) {}
  ByteStream stream;  // TLS handshake already done
  boost::beast::http::request<boost::beast::http::string_body> request;
  boost::beast::flat_buffer buffer;
  bool client_certificate_verified = false;  // TLS: the client presented a verified certificate
};

}  // namespace common
