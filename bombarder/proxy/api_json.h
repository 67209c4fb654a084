// The REST API's JSON: an error in Toxiproxy's shape, readers of request bodies that answer bad
// input with it, and response text that never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bombarder::proxy {

using json = nlohmann::json;

// An API failure: Toxiproxy's message and HTTP status, answered as {"error", "status"}.
struct ApiError : std::runtime_error {
  ApiError(const std::string& message, int status) : std::runtime_error(message), status(status) {}
  int status;
};

[[noreturn]] void bad_body(const std::string& detail);      // 400 "bad request body: ..."
[[noreturn]] void missing_field(const std::string& field);  // 400 "missing required field: ..."

// The body as JSON; 400 when it is not.
json parse_body(std::string_view body);
// body[key] as a string/boolean, `fallback` when absent or null; 400 when of another type.
std::string string_field(const json& body, const char* key, const std::string& fallback);
bool bool_field(const json& body, const char* key, bool fallback);

// Names and messages can carry bytes from the request path that are not UTF-8 (a proxy name in
// /proxies/{name}); dump() would throw on them and take the server down. They are written with
// U+FFFD instead (found by tests/fuzz/proxy_api_fuzz).
std::string json_text(const json& body);

}  // namespace bombarder::proxy
