// client/proxy_client.h: the Toxiproxy REST calls the scenario command makes, against a fake API
// on loopback that records what it was sent: the method, path and body of each call, and a
// one-line error naming the API, the call and its answer when the API refuses or is down.
#include "bombarder/client/proxy_client.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../common/test_http_server.h"
#include "error_message.h"

namespace bombarder {
namespace {

namespace http = boost::beast::http;
using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;

struct Call {
  std::string method;
  std::string target;
  std::string body;
};

// A Toxiproxy API in miniature: GET /version, GET /proxies, POST /reset, POST /proxies/NAME and
// POST /proxies/NAME/toxics; `refuse_with` set: every call answers that status instead.
class FakeProxyApi {
 public:
  std::optional<http::status> refuse_with;
  Json proxies_body = {{"node-1", {{"name", "node-1"}, {"enabled", true}}}};

  [[nodiscard]] std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  [[nodiscard]] common::Endpoint endpoint() const { return server_.endpoint(); }

 private:
  std::optional<Response> handle(const Request& r) {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back({std::string(r.method_string()), std::string(r.target()), r.body()});
    }
    if (refuse_with) return json_response(*refuse_with, {{"error", "refused by the test"}});
    if (r.target() == "/version") return common::test::ok_response("2.5.0");
    if (r.target() == "/proxies") return json_response(http::status::ok, proxies_body);
    if (r.method() == http::verb::post) return json_response(http::status::ok, Json::object());
    return json_response(http::status::not_found, {{"error", "no route"}});
  }

  std::mutex mutex_;
  std::vector<Call> calls_;
  TestHttpServer server_{[this](const Request& r) { return handle(r); }};
};

TEST(ProxyClient, VersionIsTheApisAnswerBody) {
  FakeProxyApi api;
  ProxyClient client(api.endpoint());
  EXPECT_EQ(client.version(), "2.5.0");
  ASSERT_EQ(api.calls().size(), 1u);
  EXPECT_EQ(api.calls()[0].method, "GET");
  EXPECT_EQ(api.calls()[0].target, "/version");
}

TEST(ProxyClient, ProxiesAreTheApisObjectByName) {
  FakeProxyApi api;
  ProxyClient client(api.endpoint());
  const Json proxies = client.proxies();
  EXPECT_EQ(proxies, api.proxies_body);
}

TEST(ProxyClient, AProxiesAnswerThatIsNotAnObjectIsAnError) {
  FakeProxyApi api;
  api.proxies_body = Json::array({"node-1"});
  ProxyClient client(api.endpoint());
  EXPECT_EQ(test::runtime_error_message([&] { (void)client.proxies(); }),
            "fault proxy " + api.endpoint().to_string() + ": bad /proxies");
}

TEST(ProxyClient, ResetToxicAndEnableCallsSendTheToxiproxyRequests) {
  FakeProxyApi api;
  ProxyClient client(api.endpoint());
  client.reset();
  const Json toxic = {{"name", "lag"},
                      {"type", "latency"},
                      {"stream", "downstream"},
                      {"toxicity", 1.0},
                      {"attributes", {{"latency", 200}}}};
  client.add_toxic("node-1", toxic);
  client.set_enabled("node-2", false);
  client.set_enabled("node-2", true);
  const std::vector<Call> calls = api.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].method + " " + calls[0].target, "POST /reset");
  EXPECT_EQ(calls[1].method + " " + calls[1].target, "POST /proxies/node-1/toxics");
  EXPECT_EQ(Json::parse(calls[1].body), toxic);
  EXPECT_EQ(calls[2].method + " " + calls[2].target, "POST /proxies/node-2");
  EXPECT_EQ(Json::parse(calls[2].body), (Json{{"enabled", false}}));
  EXPECT_EQ(Json::parse(calls[3].body), (Json{{"enabled", true}}));
}

TEST(ProxyClient, ARefusedCallNamesTheApiTheCallAndTheAnswer) {
  FakeProxyApi api;
  api.refuse_with = http::status::conflict;
  ProxyClient client(api.endpoint());
  const std::string error = test::runtime_error_message([&] {
    client.add_toxic("node-1", {{"name", "lag"}});
  });
  EXPECT_TRUE(error.starts_with("fault proxy " + api.endpoint().to_string() +
                                ": add toxic lag to node-1: 409"))
      << error;
  EXPECT_NE(error.find("refused by the test"), std::string::npos) << error;
  EXPECT_TRUE(test::runtime_error_message([&] {
                client.set_enabled("node-1", false);
              }).starts_with("fault proxy " + api.endpoint().to_string() + ": disable node-1: "));
  EXPECT_NE(test::runtime_error_message([&] { client.reset(); }).find(": reset: 409"),
            std::string::npos);
}

TEST(ProxyClient, AnApiThatIsDownIsAnErrorNotAHang) {
  const common::Endpoint nowhere{"127.0.0.1", common::test::unused_port()};
  ProxyClient client(nowhere);
  const auto started = std::chrono::steady_clock::now();
  const std::string error = test::runtime_error_message([&] { (void)client.version(); });
  EXPECT_TRUE(error.starts_with("fault proxy " + nowhere.to_string() + ": GET /version: "))
      << error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(6));
}

}  // namespace
}  // namespace bombarder
