// load/load_connection.h: one worker's keep-alive connection, against loopback servers the test
// starts: the request bytes it formats, reuse of one connection across exchanges, reconnection
// after the server closes, the one deadline over connect + write + read, connection counters,
// and HTTPS with the server's certificate checked against the host name.
#include "bombarder/load/load_connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "../../common/test_http_server.h"
#include "../../common/test_pki.h"
#include "common/http_server.h"

namespace bombarder {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
using namespace std::chrono_literals;

asio::ip::tcp::endpoint loopback(uint16_t port) {
  return {asio::ip::make_address_v4("127.0.0.1"), port};
}

struct Exchange {
  bool done = false;
  boost::system::error_code ec;
  LoadConnection::Response response;
};

// One exchange on `connection`, running `io` on this thread until its callback ran (the
// connection is single-threaded by contract).
Exchange exchange(asio::io_context& io, LoadConnection& connection, const std::string& wire,
                  std::chrono::milliseconds timeout = 5s) {
  Exchange out;
  connection.send(wire, timeout, [&out](boost::system::error_code ec, auto& response) {
    out.done = true;
    out.ec = ec;
    out.response = response;
  });
  io.restart();
  io.run();
  return out;
}

std::string request(std::string_view method, std::string_view target, std::string_view body = {},
                    std::string_view extra_header = {}) {
  std::string wire;
  LoadConnection::format_request(wire, method, target, "127.0.0.1", extra_header, body);
  return wire;
}

// Answers every request with "<method> <target> <body>".
TestHttpServer echo_server() {
  return TestHttpServer([](const Request& r) -> std::optional<Response> {
    return common::test::ok_response(std::string(r.method_string()) + " " +
                                     std::string(r.target()) + " " + r.body());
  });
}

TEST(LoadConnectionFormat, RequestWithoutBodyHasNoContentHeaders) {
  std::string wire = "left over|";
  LoadConnection::format_request(wire, "GET", "/api/kv/abc", "127.0.0.1:8080", "", "");
  EXPECT_EQ(wire, "left over|GET /api/kv/abc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
}

TEST(LoadConnectionFormat, RequestWithBodyCarriesJsonTypeLengthAndTheExtraHeader) {
  std::string wire;
  LoadConnection::format_request(wire, "POST", "/api/kv", "node", "Idempotency-Key: r-1\r\n",
                                 R"({"key":"k","value":"v"})");
  EXPECT_EQ(wire,
            "POST /api/kv HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
            "Content-Length: 23\r\nIdempotency-Key: r-1\r\n\r\n{\"key\":\"k\",\"value\":\"v\"}");
}

TEST(LoadConnection, ExchangesReuseOneKeepAliveConnection) {
  TestHttpServer server = echo_server();
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(server.port()), &counters);
  const std::string first = request("POST", "/api/kv", R"({"n":1})");
  const std::string second = request("GET", "/api/kv/x");
  const Exchange a = exchange(io, connection, first);
  const Exchange b = exchange(io, connection, second);
  ASSERT_TRUE(a.done && b.done);
  ASSERT_FALSE(a.ec) << a.ec.message();
  ASSERT_FALSE(b.ec) << b.ec.message();
  EXPECT_EQ(a.response.body(), R"(POST /api/kv {"n":1})");
  EXPECT_EQ(b.response.body(), "GET /api/kv/x ");
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_EQ(counters.opened.load(), 1u);
  EXPECT_EQ(counters.open_now(), 1u);
  connection.close();
  EXPECT_EQ(counters.closed.load(), 1u);
  EXPECT_EQ(counters.open_now(), 0u);
}

TEST(LoadConnection, AnswerThatClosesTheConnectionMakesTheNextSendReconnect) {
  TestHttpServer server([](const Request&) -> std::optional<Response> {
    Response r = common::test::ok_response("bye");
    r.keep_alive(false);
    return r;
  });
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(server.port()), &counters);
  const std::string wire = request("GET", "/status");
  for (int i = 0; i < 3; ++i) {
    const Exchange e = exchange(io, connection, wire);
    ASSERT_FALSE(e.ec) << "exchange " << i << ": " << e.ec.message();
    EXPECT_EQ(e.response.body(), "bye");
  }
  EXPECT_EQ(server.accepted(), 3u);
  EXPECT_EQ(counters.opened.load(), 3u);
  EXPECT_EQ(counters.closed.load(), 3u);
}

TEST(LoadConnection, NonSuccessStatusIsAnAnswerNotATransportError) {
  TestHttpServer server([](const Request&) -> std::optional<Response> {
    return common::test::json_response(http::status::service_unavailable, {{"error", "no_leader"}});
  });
  asio::io_context io;
  LoadConnection connection(io, loopback(server.port()));
  const Exchange e = exchange(io, connection, request("POST", "/api/kv", "{}"));
  ASSERT_FALSE(e.ec) << e.ec.message();
  EXPECT_EQ(e.response.result(), http::status::service_unavailable);
  EXPECT_EQ(e.response.body(), R"({"error":"no_leader"})");
}

TEST(LoadConnection, NothingListeningIsARefusedConnectCounted) {
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(common::test::unused_port()), &counters);
  const Exchange e = exchange(io, connection, request("GET", "/status"));
  ASSERT_TRUE(e.done);
  EXPECT_EQ(e.ec, asio::error::connection_refused) << e.ec.message();
  EXPECT_EQ(counters.connect_failed.load(), 1u);
  EXPECT_EQ(counters.opened.load(), 0u);
  EXPECT_EQ(counters.closed.load(), 0u);
}

TEST(LoadConnection, SilentServerEndsTheExchangeAtTheDeadlineAsTimedOut) {
  TestHttpServer silent([](const Request&) { return std::optional<Response>(); });
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(silent.port()), &counters);
  const auto started = std::chrono::steady_clock::now();
  const Exchange e = exchange(io, connection, request("GET", "/status"), 200ms);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(e.done);
  EXPECT_EQ(e.ec, asio::error::timed_out) << e.ec.message();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
  // The timed-out connection was closed: the next exchange needs a new one.
  EXPECT_EQ(counters.opened.load(), 1u);
  EXPECT_EQ(counters.closed.load(), 1u);
}

TEST(LoadConnection, ServerClosingMidExchangeIsAnErrorAndTheNextSendReconnects) {
  // The first connection's request is never answered: the server closes it instead.
  std::atomic<int> seen{0};
  TestHttpServer server([&seen](const Request&) -> std::optional<Response> {
    if (seen++ == 0) {
      Response r{http::status::ok, 11};
      r.keep_alive(false);
      r.set(http::field::content_length, "100");  // promises a body it never sends
      return r;
    }
    return common::test::ok_response("second");
  });
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(server.port()), &counters);
  const std::string wire = request("GET", "/x");
  const Exchange broken = exchange(io, connection, wire);
  EXPECT_TRUE(broken.ec) << "a truncated answer must be an error";
  const Exchange next = exchange(io, connection, wire);
  ASSERT_FALSE(next.ec) << next.ec.message();
  EXPECT_EQ(next.response.body(), "second");
  EXPECT_EQ(counters.opened.load(), 2u);
}

// An HTTPS server (common::HttpServer) with the test PKI's certificate "node" (127.0.0.1,
// localhost), on its own thread.
class LoadConnectionTls : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    common::HttpServerOptions options;
    options.tls = common::make_server_tls_context(pki_.files("node"), &error);
    ASSERT_TRUE(options.tls) << error;
    router_.add(http::verb::get, "/status", [](common::Request, common::Respond respond) {
      respond(common::Response::json(200, {{"tls", true}}));
    });
    server_ = std::make_unique<common::HttpServer>(server_io_, router_, options);
    ASSERT_FALSE(server_->listen());
    server_->start();
    thread_ = std::thread([this] { server_io_.run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_io_.stop();
      thread_.join();
    }
    server_.reset();
  }

  std::shared_ptr<asio::ssl::context> client_context(const std::string& ca = "ca") {
    std::string error;
    auto context = common::make_client_tls_context(pki_.files("", ca), &error);
    EXPECT_TRUE(context) << error;
    return context;
  }

  common::test::TestPki pki_;
  asio::io_context server_io_;
  common::Router router_;
  std::unique_ptr<common::HttpServer> server_;
  std::thread thread_;
};

TEST_F(LoadConnectionTls, HttpsExchangeWithACertificateForTheHostSucceeds) {
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(server_->port()), &counters, client_context(),
                            "127.0.0.1");
  const std::string wire = request("GET", "/status");
  for (int i = 0; i < 2; ++i) {
    const Exchange e = exchange(io, connection, wire);
    ASSERT_FALSE(e.ec) << e.ec.message();
    EXPECT_EQ(e.response.body(), R"({"tls":true})");
  }
  EXPECT_EQ(counters.opened.load(), 1u);  // one handshake, two exchanges
}

TEST_F(LoadConnectionTls, CertificateForAnotherHostFailsTheExchange) {
  asio::io_context io;
  ConnectionCounters counters;
  LoadConnection connection(io, loopback(server_->port()), &counters, client_context(), "10.9.8.7");
  const Exchange e = exchange(io, connection, request("GET", "/status"));
  ASSERT_TRUE(e.done);
  EXPECT_TRUE(e.ec) << "a certificate without this host's name must be refused";
  EXPECT_EQ(counters.open_now(), 0u);
}

TEST_F(LoadConnectionTls, CertificateFromAnotherCaFailsTheExchange) {
  asio::io_context io;
  LoadConnection connection(io, loopback(server_->port()), nullptr, client_context("rogue-ca"),
                            "127.0.0.1");
  const Exchange e = exchange(io, connection, request("GET", "/status"));
  ASSERT_TRUE(e.done);
  EXPECT_TRUE(e.ec) << "a server certificate the CA did not sign must be refused";
}

}  // namespace
}  // namespace bombarder
