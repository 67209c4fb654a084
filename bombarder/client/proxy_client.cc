#include "bombarder/client/proxy_client.h"

#include "bombarder/base/errors.h"

namespace bombarder {

namespace http = boost::beast::http;

ApiResponse ProxyClient::call(http::verb method, const std::string& target, const std::string& body,
                              const std::string& what) {
  ApiResponse result = client_.call(api_, method, target, body, 5s);
  if (!result.ok()) {
    environment_failure("fault proxy " + api_.to_string() + ": " + what + ": " + result.describe());
  }
  return result;
}

std::string ProxyClient::version() {
  return call(http::verb::get, "/version", {}, "GET /version").body;
}

Json ProxyClient::proxies() {
  const Json body = call(http::verb::get, "/proxies", {}, "GET /proxies").json();
  if (!body.is_object()) environment_failure("fault proxy " + api_.to_string() + ": bad /proxies");
  return body;
}

void ProxyClient::reset() { (void)call(http::verb::post, "/reset", {}, "reset"); }

void ProxyClient::add_toxic(const std::string& proxy, const Json& toxic) {
  (void)call(http::verb::post, "/proxies/" + proxy + "/toxics", toxic.dump(),
             "add toxic " + toxic.value("name", std::string("?")) + " to " + proxy);
}

void ProxyClient::set_enabled(const std::string& proxy, bool enabled) {
  (void)call(http::verb::post, "/proxies/" + proxy, Json{{"enabled", enabled}}.dump(),
             std::string(enabled ? "enable " : "disable ") + proxy);
}

}  // namespace bombarder
