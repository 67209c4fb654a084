#include "common/endpoint.h"

#include <charconv>

namespace common {
namespace {

// RFC 1035 §2.3.4: a full domain name is at most 253 characters in text form.
constexpr size_t kHostBytesMax = 253;

bool fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

bool valid_host(std::string_view host, std::string* error) {
  if (host.empty()) return fail(error, "empty host");
  if (host.size() > kHostBytesMax) return fail(error, "host longer than 253 bytes");
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    if (!ok) return fail(error, "invalid character in host '" + std::string(host) + "'");
  }
  return true;
}

// Digits only: from_chars alone would accept nothing of "+1" but we also refuse "", " 1", "1x".
std::optional<uint16_t> parse_port(std::string_view text, std::string* error) {
  if (text.empty()) {
    fail(error, "missing port");
    return std::nullopt;
  }
  uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    fail(error, "port '" + std::string(text) + "' is not a number");
    return std::nullopt;
  }
  if (value < 1 || value > 65535) {
    fail(error, "port " + std::string(text) + " is outside [1, 65535]");
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string Endpoint::to_string() const { return host + ":" + std::to_string(port); }

std::optional<Endpoint> Endpoint::parse(std::string_view text, std::string_view default_host,
                                        std::string* error) {
  const size_t colon = text.find(':');
  const std::string_view host =
      colon == std::string_view::npos ? default_host : text.substr(0, colon);
  const std::string_view port_text =
      colon == std::string_view::npos ? text : text.substr(colon + 1);
  if (!valid_host(host, error)) return std::nullopt;
  std::optional<uint16_t> port = parse_port(port_text, error);
  if (!port) return std::nullopt;
  return Endpoint{std::string(host), *port};
}

}  // namespace common
