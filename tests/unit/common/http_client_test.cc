// common/http_client.h against a tiny Beast server on loopback: keep-alive reuse, bounds,
// timeouts and errors.
#include "common/http_client.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "test_http_server.h"

namespace common {
namespace {

using namespace std::chrono_literals;
using common::test::IoThread;
using common::test::TestHttpServer;
using common::test::wait_until;

struct Result {
  boost::system::error_code ec;
  HttpResponse response;
};

// Collects results of concurrent requests in completion order.
class Results {
 public:
  HttpClientPool::Done callback() {
    return [this](boost::system::error_code ec, HttpResponse response) {
      std::lock_guard lock(mutex_);
      results_.push_back({ec, std::move(response)});
    };
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return results_.size();
  }
  std::vector<Result> take() {
    std::lock_guard lock(mutex_);
    return std::move(results_);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Result> results_;
};

Result call(HttpClientPool& pool, const Endpoint& to, HttpRequest request,
            std::chrono::milliseconds timeout = 5s) {
  std::promise<Result> promise;
  std::future<Result> future = promise.get_future();
  pool.request(to, std::move(request), timeout,
               [&promise](boost::system::error_code ec, HttpResponse response) {
                 promise.set_value({ec, std::move(response)});
               });
  EXPECT_EQ(future.wait_for(timeout + 5s), std::future_status::ready);
  return future.get();
}

HttpRequest post(std::string target, std::string body) {
  HttpRequest r;
  r.method = boost::beast::http::verb::post;
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

// Answers with the request's target and body, and echoes one header.
TestHttpServer::Handler echo() {
  return [](const common::test::Request& request) -> std::optional<common::test::Response> {
    common::test::Response r =
        common::test::ok_response(std::string(request.target()) + "|" + request.body());
    r.set("X-Echo", request["X-Test"]);
    r.prepare_payload();
    return r;
  };
}

TEST(HttpClient, SequentialRequestsReuseOneKeepAliveConnection) {
  TestHttpServer server(echo());
  IoThread loop;
  HttpClientPool pool(loop.io());
  for (int i = 0; i < 20; ++i) {
    HttpRequest request = post("/echo?i=" + std::to_string(i), "body");
    request.headers.emplace_back("X-Test", "v" + std::to_string(i));
    const Result r = call(pool, server.endpoint(), std::move(request));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.response.status, 200);
    EXPECT_EQ(r.response.body, "/echo?i=" + std::to_string(i) + "|body");
    EXPECT_EQ(r.response.header("x-echo"), "v" + std::to_string(i));
    EXPECT_EQ(r.response.header("X-ECHO"), "v" + std::to_string(i));
    EXPECT_EQ(r.response.header("absent"), "");
  }
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_EQ(server.requests(), 20u);
}

TEST(HttpClient, ConcurrentRequestsOpenAtMostTheConnectionBound) {
  TestHttpServer server(echo());
  IoThread loop(/*threads=*/4);
  HttpClientPool pool(loop.io(), /*connections_per_endpoint_max=*/3);
  Results results;
  constexpr size_t kRequests = 200;
  for (size_t i = 0; i < kRequests; ++i) {
    pool.request(server.endpoint(), post("/r", std::to_string(i)), 5s, results.callback());
  }
  ASSERT_TRUE(wait_until([&] { return results.size() == kRequests; }));
  for (const Result& r : results.take()) {
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.response.status, 200);
  }
  EXPECT_LE(server.accepted(), 3u);
  EXPECT_EQ(server.requests(), kRequests);
}

TEST(HttpClient, SilentServerTimesOutAndItsConnectionIsNotReused) {
  std::atomic<bool> silent{true};
  TestHttpServer server([&](const common::test::Request&) -> std::optional<common::test::Response> {
    if (silent) return std::nullopt;
    return common::test::ok_response("late");
  });
  IoThread loop;
  HttpClientPool pool(loop.io());
  const auto started = std::chrono::steady_clock::now();
  const Result r = call(pool, server.endpoint(), post("/x", "y"), 100ms);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.ec, boost::beast::error::timeout) << r.ec.message();
  EXPECT_GE(elapsed, 100ms);
  EXPECT_LT(elapsed, 3s);

  silent = false;
  const Result again = call(pool, server.endpoint(), post("/x", "y"));
  ASSERT_FALSE(again.ec) << again.ec.message();
  EXPECT_EQ(again.response.body, "late");
  EXPECT_EQ(server.accepted(), 2u);
}

TEST(HttpClient, NothingListeningFailsWithConnectionRefused) {
  IoThread loop;
  HttpClientPool pool(loop.io());
  const Endpoint nowhere{"127.0.0.1", common::test::unused_port()};
  const Result r = call(pool, nowhere, post("/x", "y"), 2s);
  EXPECT_EQ(r.ec, boost::asio::error::connection_refused) << r.ec.message();
}

TEST(HttpClient, HostnamesAreResolved) {
  TestHttpServer server(echo());
  IoThread loop;
  HttpClientPool pool(loop.io());
  const Result r = call(pool, Endpoint{"localhost", server.port()}, post("/named", "ok"));
  // localhost may resolve to ::1 first; the connect tries each address in turn.
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.response.body, "/named|ok");
}

TEST(HttpClient, FullQueueFailsFastAndQueuedRequestsTimeOut) {
  TestHttpServer server(
      [](const common::test::Request&) { return std::optional<common::test::Response>(); });
  IoThread loop;
  HttpClientPool pool(loop.io(), /*connections_per_endpoint_max=*/1, /*queued_requests_max=*/2);
  Results results;
  // One in flight, two queued, the fourth finds the queue full.
  for (int i = 0; i < 4; ++i) {
    pool.request(server.endpoint(), post("/x", "y"), 300ms, results.callback());
  }
  ASSERT_TRUE(wait_until([&] { return results.size() >= 1; }));
  std::vector<Result> first = results.take();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].ec, HttpClientError::kQueueFull) << first[0].ec.message();
  EXPECT_EQ(first[0].ec.message(), "request queue full");

  ASSERT_TRUE(wait_until([&] { return results.size() == 3; }));
  for (const Result& r : results.take()) {
    EXPECT_EQ(r.ec, boost::beast::error::timeout) << r.ec.message();
  }
}

TEST(HttpClient, CloseAbortsQueuedAndInFlightRequests) {
  TestHttpServer server(
      [](const common::test::Request&) { return std::optional<common::test::Response>(); });
  IoThread loop;
  HttpClientPool pool(loop.io(), 1, 10);
  Results results;
  for (int i = 0; i < 3; ++i) {
    pool.request(server.endpoint(), post("/x", "y"), 30s, results.callback());
  }
  ASSERT_TRUE(wait_until([&] { return server.requests() == 1; }));
  pool.close();
  pool.request(server.endpoint(), post("/x", "after"), 30s, results.callback());
  ASSERT_TRUE(wait_until([&] { return results.size() == 4; }, 5s));
  for (const Result& r : results.take()) {
    EXPECT_EQ(r.ec, boost::asio::error::operation_aborted) << r.ec.message();
  }
}

TEST(HttpClient, LargeBodiesTravelBothWaysAndTheResponseLimitHolds) {
  TestHttpServer server(
      [](const common::test::Request& request) -> std::optional<common::test::Response> {
        return common::test::ok_response(request.body());
      });
  IoThread loop;
  constexpr uint64_t kLimit = 16 << 20;
  HttpClientPool pool(loop.io(), 2, 10, kLimit);
  std::string body(kLimit, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + i / 4096);
  const Result r = call(pool, server.endpoint(), post("/big", body));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.response.body == body);

  const Result over = call(pool, server.endpoint(), post("/big", body + "!"));
  EXPECT_EQ(over.ec, boost::beast::http::error::body_limit)
      << over.ec.message() << " status " << over.response.status << " bytes "
      << over.response.body.size();
}

TEST(HttpClient, ServerClosingAfterResponseIsNotAnError) {
  TestHttpServer server([](const common::test::Request&) -> std::optional<common::test::Response> {
    common::test::Response r = common::test::ok_response("bye");
    r.keep_alive(false);
    return r;
  });
  IoThread loop;
  HttpClientPool pool(loop.io());
  for (int i = 0; i < 3; ++i) {
    const Result r = call(pool, server.endpoint(), post("/x", "y"));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.response.body, "bye");
  }
  EXPECT_EQ(server.accepted(), 3u);
}

TEST(HttpClient, IdleConnectionClosedByTheServerIsReplacedNotUsed) {
  // The server answers, keeps the connection "alive", then a later request finds it closed:
  // simulated by a server that is destroyed and recreated on the same port.
  IoThread loop;
  HttpClientPool pool(loop.io());
  uint16_t port = 0;
  {
    TestHttpServer first(echo());
    port = first.port();
    ASSERT_FALSE(call(pool, first.endpoint(), post("/a", "1")).ec);
  }
  TestHttpServer second(echo(), port);
  const Result r = call(pool, Endpoint{"127.0.0.1", port}, post("/b", "2"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.response.body, "/b|2");
}

TEST(HttpClient, GetWithoutBodyAndNonOkStatusesAreResponses) {
  TestHttpServer server(
      [](const common::test::Request& request) -> std::optional<common::test::Response> {
        common::test::Response r{boost::beast::http::status::not_found, 11};
        r.body() = request.method() == boost::beast::http::verb::get && request.body().empty()
                       ? "{\"error\":\"not_found\"}"
                       : "unexpected";
        r.prepare_payload();
        return r;
      });
  IoThread loop;
  HttpClientPool pool(loop.io());
  HttpRequest get;
  get.target = "/api/kv/nope";
  const Result r = call(pool, server.endpoint(), get);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.response.status, 404);
  EXPECT_EQ(r.response.body, "{\"error\":\"not_found\"}");
}

}  // namespace
}  // namespace common
