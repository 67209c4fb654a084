#include "bombarder/proxy/api_json.h"

namespace bombarder::proxy {

void bad_body(const std::string& detail) { throw ApiError("bad request body: " + detail, 400); }

void missing_field(const std::string& field) {
  throw ApiError("missing required field: " + field, 400);
}

json parse_body(std::string_view body) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    bad_body(e.what());
  }
}

std::string string_field(const json& body, const char* key, const std::string& fallback) {
  if (!body.contains(key) || body.at(key).is_null()) return fallback;
  if (!body.at(key).is_string()) bad_body(std::string("'") + key + "' must be a string");
  return body.at(key).get<std::string>();
}

bool bool_field(const json& body, const char* key, bool fallback) {
  if (!body.contains(key) || body.at(key).is_null()) return fallback;
  if (!body.at(key).is_boolean()) bad_body(std::string("'") + key + "' must be a boolean");
  return body.at(key).get<bool>();
}

std::string json_text(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace bombarder::proxy
