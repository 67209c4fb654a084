// Fuzz target: the REST API of `bombarder proxy` (bombarder/proxy/proxy_server.h,
// ProxyServer::handle; the routes are in proxy_api.cc), Toxiproxy's JSON routes.
//
// Input: up to kRequestsMax requests, each two lines: "METHOD TARGET" then the body (one line;
// JSON has no raw newline). A fresh ProxyServer serves each input, so a sequence (create a proxy,
// add a toxic, update it, delete the proxy) is one input.
//
// A proxy created through the API binds its listen address. So that the fuzzer binds nothing but
// ephemeral loopback ports (and resolves no host name), an input whose bodies name any other
// "listen" than 127.0.0.1:0 or localhost:0 is skipped.
//
// Oracles: handle() never throws (its contract) and answers a status in [200, 600); every error
// is a JSON object {"error": string, "status": the same status} (Toxiproxy's error shape); every
// JSON answer parses.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bombarder/proxy/proxy_server.h"
#include "fuzz_support.h"

namespace {

using json = nlohmann::json;
constexpr size_t kRequestsMax = 8;

bool binds_only_ephemeral_loopback(const json& value) {
  if (value.is_object()) {
    for (const auto& [name, member] : value.items()) {
      if (name == "listen" &&
          !(member.is_string() && (member == "127.0.0.1:0" || member == "localhost:0"))) {
        return false;
      }
      if (!binds_only_ephemeral_loopback(member)) return false;
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (!binds_only_ephemeral_loopback(item)) return false;
    }
  }
  return true;
}

std::string_view next_line(std::string_view* rest) {
  const size_t newline = rest->find('\n');
  const std::string_view line = rest->substr(0, newline);
  *rest = newline == std::string_view::npos ? std::string_view() : rest->substr(newline + 1);
  return line;
}

struct ApiRequest {
  std::string_view method, target, body;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<ApiRequest> requests;
  while (!rest.empty() && requests.size() < kRequestsMax) {
    const std::string_view request_line = next_line(&rest);
    const std::string_view body = next_line(&rest);
    const size_t space = request_line.find(' ');
    if (space == std::string_view::npos) return 0;
    requests.push_back({request_line.substr(0, space), request_line.substr(space + 1), body});
    const json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded() && !binds_only_ephemeral_loopback(parsed)) return 0;
  }

  boost::asio::io_context io;
  bombarder::proxy::ProxyServer server(io, 1);
  for (const ApiRequest& request : requests) {
    const auto result = server.handle(request.method, request.target, request.body);
    FUZZ_CHECK(result.status >= 200 && result.status < 600,
               "status " + std::to_string(result.status));
    if (result.content_type != "application/json" || result.body.empty()) continue;
    const json answer = json::parse(result.body, nullptr, false);
    FUZZ_CHECK(!answer.is_discarded(), "a JSON answer parses: " + result.body);
    if (result.status >= 400) {
      FUZZ_CHECK(answer.is_object() && answer.contains("error") && answer["error"].is_string() &&
                     answer.value("status", 0) == result.status,
                 "an error is {\"error\", \"status\"}: " + result.body);
    }
  }
  server.shutdown();
  io.poll();  // lets the closed acceptors' coroutines finish
  return 0;
}
