#include "bombarder/client/node_url.h"

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/client/node_tls.h"

namespace bombarder {

common::Endpoint parse_node_url(std::string_view text) {
  const std::string original(text);
  if (text.starts_with("https://")) {
    if (!node_tls_configured()) {
      invalid_input("'" + original +
                    "': https is not supported without --cacert PATH or a cluster started with "
                    "--tls");
    }
    text.remove_prefix(8);
  }
  if (text.starts_with("http://")) text.remove_prefix(7);
  if (text.ends_with("/")) text.remove_suffix(1);
  if (text.find('/') != std::string_view::npos) {
    invalid_input("'" + original + "' is not a node address (want http://HOST:PORT or PORT)");
  }
  std::string why;
  auto endpoint = common::Endpoint::parse(text, "127.0.0.1", &why);
  if (!endpoint) invalid_input("'" + original + "' is not a node address: " + why);
  return *endpoint;
}

std::vector<common::Endpoint> parse_node_list(const std::vector<std::string>& items) {
  std::vector<common::Endpoint> nodes;
  for (const std::string& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      const size_t comma = std::min(item.find(',', start), item.size());
      const std::string_view piece = std::string_view(item).substr(start, comma - start);
      if (piece.empty()) invalid_input("empty node address in '" + item + "'");
      nodes.push_back(parse_node_url(piece));
      start = comma + 1;
    }
  }
  return nodes;
}

std::string node_url(const common::Endpoint& endpoint) {
  return (node_tls_configured() ? "https://" : "http://") + endpoint.to_string();
}

}  // namespace bombarder
