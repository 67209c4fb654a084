#include "bombarder/proxy/address.h"

#include "bombarder/proxy/api_json.h"

namespace bombarder::proxy {

std::pair<std::string, std::string> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw ApiError("address " + address + ": missing port", 400);
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      port.size() > 5 || std::stoi(port) > 65535) {
    throw ApiError("address " + address + ": invalid port", 400);
  }
  return {host, port};
}

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint) {
  // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "[" + s + "]" here.
  const auto addr = endpoint.address();
  std::string text;
  if (addr.is_v6()) text += '[';
  text += addr.to_string();
  if (addr.is_v6()) text += ']';
  text += ':';
  text += std::to_string(endpoint.port());
  return text;
}

}  // namespace bombarder::proxy
