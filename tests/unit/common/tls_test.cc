// TLS plumbing over loopback (issue 14): common::HttpServer with a TLS context and
// common::HttpClientPool as its client, with certificates from a CA generated per test
// (common/tls.h). Handshake, server and client certificate verification, mutual TLS on the
// routes that need it, and clients that do not speak TLS at all.
#include "common/tls.h"

#include <gtest/gtest.h>

#include <future>

#include "common/http_client.h"
#include "common/http_server.h"
#include "test_http.h"
#include "test_http_server.h"
#include "test_pki.h"

namespace common {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Result {
  boost::system::error_code ec;
  HttpResponse response;
};

std::shared_ptr<asio::ssl::context> client_context(const common::TlsFiles& files) {
  std::string error;
  auto context = common::make_client_tls_context(files, &error);
  EXPECT_TRUE(context) << error;
  return context;
}

class TlsServerTest : public ::testing::Test {
 protected:
  // Serves GET /api/ping (anyone) and POST /_raft/append (cluster members only) over TLS with
  // the certificate `server_cert`.
  void start(const std::string& server_cert = "node") {
    std::string error;
    HttpServerOptions options;
    options.tls = common::make_server_tls_context(pki_.files(server_cert), &error);
    ASSERT_TRUE(options.tls) << error;
    options.handshake_timeout = 300ms;
    router_.add(http::verb::get, "/api/ping", [](Request, Respond respond) {
      respond(Response::json(200, {{"pong", true}}));
    });
    router_.add(
        http::verb::post, "/_raft/append",
        [](Request, Respond respond) {
          respond(Response::json(200, {{"appended", true}}));
        },
        RouteOptions{.client_certificate_required = true});
    server_ = std::make_unique<HttpServer>(io_, router_, options);
    ASSERT_FALSE(server_->listen());
    server_->start();
    port_ = server_->port();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
    }
    server_.reset();
  }

  Result call(HttpClientPool& pool, http::verb method, const std::string& target,
              const std::string& host = "127.0.0.1") {
    HttpRequest request;
    request.method = method;
    request.target = target;
    if (method == http::verb::post) request.body = "{}";
    std::promise<Result> promise;
    auto future = promise.get_future();
    pool.request({host, port_}, std::move(request), 5s,
                 [&promise](boost::system::error_code ec, HttpResponse response) {
                   promise.set_value({ec, std::move(response)});
                 });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  }

  size_t connections() {
    std::promise<size_t> count;
    asio::post(io_, [&] { count.set_value(server_->connection_count()); });
    return count.get_future().get();
  }

  test::TestPki pki_;
  asio::io_context io_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  test::IoThread client_io_;
};

TEST_F(TlsServerTest, HttpsRequestVerifiedAgainstTheCaSucceedsWithoutClientCertificate) {
  start();
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  const Result result = call(pool, http::verb::get, "/api/ping");
  ASSERT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.response.status, 200);
  EXPECT_EQ(result.response.body, R"({"pong":true})");
}

TEST_F(TlsServerTest, KeepAliveReusesOneTlsConnection) {
  start();
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  for (int i = 0; i < 3; ++i) {
    const Result result = call(pool, http::verb::get, "/api/ping");
    ASSERT_FALSE(result.ec) << result.ec.message();
    EXPECT_EQ(result.response.status, 200);
  }
  EXPECT_EQ(connections(), 1u);
}

TEST_F(TlsServerTest, ServerCertificateFromAnotherCaIsRefused) {
  start("rogue");
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  const Result result = call(pool, http::verb::get, "/api/ping");
  ASSERT_TRUE(result.ec);
  EXPECT_EQ(result.ec.category(), asio::error::get_ssl_category()) << result.ec.message();
  EXPECT_EQ(result.response.status, 0);
}

TEST_F(TlsServerTest, ServerCertificateForAnotherAddressIsRefused) {
  start("elsewhere");  // signed by the right CA, but for 10.9.8.7
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  const Result result = call(pool, http::verb::get, "/api/ping");
  ASSERT_TRUE(result.ec);
  EXPECT_EQ(result.ec.category(), asio::error::get_ssl_category()) << result.ec.message();
}

TEST_F(TlsServerTest, HostNameIsVerifiedAgainstDnsNames) {
  start();  // the node certificate names 127.0.0.1 and localhost
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  const Result result = call(pool, http::verb::get, "/api/ping", "localhost");
  ASSERT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.response.status, 200);
}

TEST_F(TlsServerTest, PeerRouteWithoutClientCertificateIsRefusedWith403) {
  start();
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  const Result refused = call(pool, http::verb::post, "/_raft/append");
  ASSERT_FALSE(refused.ec) << refused.ec.message();
  EXPECT_EQ(refused.response.status, 403);
  const auto body = nlohmann::json::parse(refused.response.body);
  EXPECT_EQ(body["error"], "client_certificate_required");
  // The same client is still served on the client API.
  EXPECT_EQ(call(pool, http::verb::get, "/api/ping").response.status, 200);
}

TEST_F(TlsServerTest, PeerRouteWithClientCertificateFromTheCaIsServed) {
  start();
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("node")));
  const Result result = call(pool, http::verb::post, "/_raft/append");
  ASSERT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.response.status, 200);
  EXPECT_EQ(result.response.body, R"({"appended":true})");
}

TEST_F(TlsServerTest, ClientCertificateFromAnotherCaFailsTheHandshake) {
  start();
  common::TlsFiles files = pki_.files("rogue");  // presents rogue's certificate...
  files.ca_file = pki_.path("ca.crt");           // ...and trusts the server's CA
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(files));
  const Result result = call(pool, http::verb::post, "/_raft/append");
  ASSERT_TRUE(result.ec);
  EXPECT_EQ(result.response.status, 0);
  // The server is unharmed: a proper member is served next.
  HttpClientPool good(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("node")));
  EXPECT_EQ(call(good, http::verb::post, "/_raft/append").response.status, 200);
}

TEST_F(TlsServerTest, PlainHttpClientOnTlsPortGetsAnErrorNotAHang) {
  start();
  HttpClientPool plain(client_io_.io());
  const auto started = std::chrono::steady_clock::now();
  const Result result = call(plain, http::verb::get, "/api/ping");
  ASSERT_TRUE(result.ec);
  EXPECT_NE(result.ec, boost::beast::error::timeout) << "the server must close, not stall";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  // And HTTPS still works afterwards.
  HttpClientPool pool(client_io_.io(), 4, 100, 1 << 20, client_context(pki_.files("")));
  EXPECT_EQ(call(pool, http::verb::get, "/api/ping").response.status, 200);
}

TEST_F(TlsServerTest, SilentConnectionIsClosedAtTheHandshakeTimeout) {
  start();  // handshake_timeout 300 ms
  test::Client silent(port_);
  EXPECT_TRUE(test::wait_until([&] { return connections() == 1; }));
  // Blocks until the server closes (or the test's own deadline fails it).
  EXPECT_TRUE(test::wait_until([&] { return connections() == 0; }, 5s));
  EXPECT_TRUE(silent.closed_by_peer());
}

// --- contexts and files -------------------------------------------------------------------

TEST(TlsContext, MissingCertificateFileIsNamedInTheError) {
  test::TestPki pki;
  std::string error;
  common::TlsFiles files = pki.files("node");
  files.cert_file = pki.path("absent.crt");
  EXPECT_FALSE(common::make_server_tls_context(files, &error));
  EXPECT_NE(error.find("absent.crt"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line";
}

TEST(TlsContext, KeyOfAnotherCertificateIsRefused) {
  test::TestPki pki;
  std::string error;
  common::TlsFiles files = pki.files("node");
  files.key_file = pki.path("rogue.key");
  EXPECT_FALSE(common::make_server_tls_context(files, &error));
  EXPECT_NE(error.find("rogue.key"), std::string::npos) << error;
}

TEST(TlsContext, KeyFileGivenAsCertificateIsRefused) {
  test::TestPki pki;
  std::string error;
  common::TlsFiles files = pki.files("node");
  files.cert_file = pki.path("node.key");
  EXPECT_FALSE(common::make_server_tls_context(files, &error));
  EXPECT_NE(error.find("no usable PEM certificate"), std::string::npos) << error;
}

TEST(TlsContext, ServerVerifiesClientCertificatesOnlyWithACa) {
  test::TestPki pki;
  std::string error;
  auto with_ca = common::make_server_tls_context(pki.files("node"), &error);
  ASSERT_TRUE(with_ca) << error;
  EXPECT_TRUE(common::verifies_client_certificates(*with_ca));
  common::TlsFiles no_ca = pki.files("node");
  no_ca.ca_file.clear();
  auto without = common::make_server_tls_context(no_ca, &error);
  ASSERT_TRUE(without) << error;
  EXPECT_FALSE(common::verifies_client_certificates(*without));
}

}  // namespace
}  // namespace common
