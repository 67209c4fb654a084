// unit.bombarder.ProxyApi.*: bad input to the proxy's REST API (proxy_server.h) is answered as
// Toxiproxy answers it (api.go): status 400 / 404 / 409 and the body {"error": MSG, "status": N}
// with Toxiproxy's messages; /populate errors also carry the proxies created before the error.
// The wire level (routes, fields, a real client) is proven by tests/compat.
#include "proxy_test_support.h"

namespace {

using namespace proxy_test;

// The error body must be exactly {"error": message, "status": status} (plus `extra` keys).
void expect_error(const bombarder::proxy::ApiResult& r, int status, const std::string& message,
                  const std::vector<std::string>& extra = {}) {
  EXPECT_EQ(r.status, status) << r.body;
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("error", ""), message) << r.body;
  EXPECT_EQ(body.value("status", 0), status) << r.body;
  EXPECT_EQ(body.size(), 2 + extra.size()) << r.body;
  for (const auto& key : extra) EXPECT_TRUE(body.contains(key)) << key << " in " << r.body;
}

// Only the part of a "bad request body: <parser detail>" message that Toxiproxy fixes.
void expect_bad_body(const bombarder::proxy::ApiResult& r) {
  EXPECT_EQ(r.status, 400) << r.body;
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("error", "").rfind("bad request body: ", 0), 0u) << r.body;
  EXPECT_EQ(body.value("status", 0), 400) << r.body;
}

const std::string kProxy = R"({"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"})";

TEST(ProxyApi, ProxyCreateErrorsUseToxiproxysMessagesAndStatuses) {
  RunningProxy proxy;
  expect_bad_body(proxy.api("POST", "/proxies", "{nope"));
  expect_bad_body(proxy.api("POST", "/proxies", R"({"name":7,"upstream":"127.0.0.1:1"})"));
  expect_error(proxy.api("POST", "/proxies", R"({"upstream":"127.0.0.1:1"})"), 400,
               "missing required field: name");
  expect_error(proxy.api("POST", "/proxies", R"({"name":"p"})"), 400,
               "missing required field: upstream");
  ASSERT_EQ(proxy.api("POST", "/proxies", kProxy).status, 201);
  expect_error(proxy.api("POST", "/proxies", kProxy), 409, "proxy already exists");
}

// Found by tests/fuzz/proxy_api_fuzz: a malformed body with a byte that is not UTF-8 is echoed
// in the parser's message, and writing that message as JSON threw (the proxy died). It is a 400
// in the error shape like any bad body.
TEST(ProxyApi, BadBodyWithBytesThatAreNotUtf8IsA400NotACrash) {
  RunningProxy proxy;
  ASSERT_EQ(proxy.api("POST", "/proxies", kProxy).status, 201);
  expect_bad_body(proxy.api("POST", "/proxies/p/toxics",
                            "{\"type\":\"bandwidth\",\"attributes\":\xe6\"rate\":10}}"));
  expect_bad_body(proxy.api("POST", "/proxies", "{\"name\":\xff\xfe}"));
}

TEST(ProxyApi, UnknownProxyOrToxicIs404OnEveryRoute) {
  RunningProxy proxy;
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/proxies/x"},
                                                        {"POST", "/proxies/x"},
                                                        {"PATCH", "/proxies/x"},
                                                        {"DELETE", "/proxies/x"},
                                                        {"GET", "/proxies/x/toxics"},
                                                        {"POST", "/proxies/x/toxics"},
                                                        {"GET", "/proxies/x/toxics/t"},
                                                        {"POST", "/proxies/x/toxics/t"},
                                                        {"DELETE", "/proxies/x/toxics/t"}}) {
    SCOPED_TRACE(method + " " + target);
    expect_error(proxy.api(method, target, R"({"type":"latency"})"), 404, "proxy not found");
  }
  ASSERT_EQ(proxy.api("POST", "/proxies", kProxy).status, 201);
  for (const std::string method : {"GET", "POST", "PATCH", "DELETE"}) {
    SCOPED_TRACE(method);
    expect_error(proxy.api(method, "/proxies/p/toxics/t", "{}"), 404, "toxic not found");
  }
}

TEST(ProxyApi, ToxicCreateErrorsUseToxiproxysMessagesAndStatuses) {
  RunningProxy proxy;
  ASSERT_EQ(proxy.api("POST", "/proxies", kProxy).status, 201);
  expect_bad_body(proxy.api("POST", "/proxies/p/toxics", "[1,"));
  expect_error(proxy.api("POST", "/proxies/p/toxics", R"({"type":"latency","stream":"up"})"), 400,
               "stream was invalid, can be either upstream or downstream");
  expect_error(proxy.api("POST", "/proxies/p/toxics", R"({"type":"teleport"})"), 400,
               "invalid toxic type");
  expect_bad_body(proxy.api("POST", "/proxies/p/toxics",
                            R"({"type":"latency","attributes":{"latency":"slow"}})"));
  expect_bad_body(proxy.api("POST", "/proxies/p/toxics", R"({"type":"latency","toxicity":"x"})"));
  ASSERT_EQ(proxy.api("POST", "/proxies/p/toxics", R"({"type":"latency"})").status, 200);
  expect_error(proxy.api("POST", "/proxies/p/toxics", R"({"type":"latency"})"), 409,
               "toxic already exists");
  // A bad update leaves the toxic as it was.
  expect_bad_body(
      proxy.api("POST", "/proxies/p/toxics/latency_downstream", R"({"attributes":{"jitter":-1}})"));
  const json kept = proxy.api_json("GET", "/proxies/p/toxics/latency_downstream", {}, 200);
  EXPECT_EQ(kept["attributes"]["jitter"], 0) << kept.dump();
}

TEST(ProxyApi, PopulateErrorsCarryTheProxiesCreatedSoFar) {
  RunningProxy proxy;
  // Toxiproxy validates the whole array first and names the position (1-based).
  expect_error(proxy.api("POST", "/populate",
                         R"([{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"},
                             {"listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}])"),
               400, "missing required field: name at proxy 2", {"proxies"});
  expect_error(proxy.api("POST", "/populate", R"([{"name":"a","listen":"127.0.0.1:0"}])"), 400,
               "missing required field: upstream at proxy 1", {"proxies"});
  const auto not_array = proxy.api("POST", "/populate", R"({"name":"a"})");
  expect_bad_body(not_array);
  EXPECT_TRUE(json::parse(not_array.body)["proxies"].is_null()) << not_array.body;
  // Nothing was created by the refused requests.
  EXPECT_EQ(proxy.api_json("GET", "/proxies", {}, 200), json::object());
}

TEST(ProxyApi, UnknownRoutesAre404AndWrongMethods405InTheErrorShape) {
  RunningProxy proxy;
  expect_error(proxy.api("GET", "/nope"), 404, "not found");
  expect_error(proxy.api("GET", "/proxies/p/toxics/t/extra"), 404, "not found");
  expect_error(proxy.api("DELETE", "/proxies"), 405, "method not allowed");
  expect_error(proxy.api("GET", "/reset"), 404, "not found");
}

TEST(ProxyApi, MetricsShowEveryProxyItsConnectionsAndItsToxics) {
  RunningProxy proxy;
  ASSERT_EQ(proxy
                .api("POST", "/proxies",
                     R"({"name":"a\"b","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"})")
                .status,
            201);
  ASSERT_EQ(proxy.api("POST", "/proxies", kProxy).status, 201);
  ASSERT_EQ(proxy
                .api("POST", "/proxies/p/toxics",
                     R"({"name":"slow","type":"latency","stream":"downstream","toxicity":0.5,
                          "attributes":{"latency":250,"jitter":25}})")
                .status,
            200);
  ASSERT_EQ(proxy.api("POST", "/proxies/p", R"({"enabled":false})").status, 200);
  const auto r = proxy.api("GET", "/metrics", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << r.content_type;
  const std::string& m = r.body;
  EXPECT_NE(m.find("# TYPE proxy_enabled gauge\n"), std::string::npos) << m;
  // Labels in name order, as prometheus-cpp writes them.
  EXPECT_NE(m.find("proxy_enabled{listen=\"127.0.0.1:"), std::string::npos) << m;
  EXPECT_NE(m.find("\",proxy=\"p\",upstream=\""), std::string::npos) << m;
  EXPECT_NE(m.find("proxy_connections{proxy=\"p\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("proxy_toxics{proxy=\"p\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("proxy_toxics{proxy=\"a\\\"b\"} 0\n"), std::string::npos)
      << "label values escape quotes: " << m;
  const std::string labels = R"(proxy="p",stream="downstream",toxic="slow",type="latency")";
  EXPECT_NE(m.find("proxy_toxic_toxicity{" + labels + "} 0.5\n"), std::string::npos) << m;
  EXPECT_NE(m.find("proxy_toxic_attribute{attribute=\"latency\"," + labels + "} 250\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("proxy_toxic_attribute{attribute=\"jitter\"," + labels + "} 25\n"),
            std::string::npos)
      << m;
  // Disabled: 0; a removed toxic leaves no series.
  EXPECT_NE(m.find(R"(,proxy="p",upstream=)"), std::string::npos);
  EXPECT_NE(m.find("} 0\n", m.find(R"(,proxy="p",upstream=)")), std::string::npos);
  ASSERT_EQ(proxy.api("DELETE", "/proxies/p/toxics/slow", "").status, 204);
  EXPECT_EQ(proxy.api("GET", "/metrics", "").body.find("proxy_toxic_attribute{"),
            std::string::npos);
  EXPECT_EQ(proxy.api("POST", "/metrics", "").status, 405);
}

}  // namespace
