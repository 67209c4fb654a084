#include "bombarder/client/http_wire.h"

namespace bombarder {

void append_http_request(std::string& out, std::string_view method, std::string_view target,
                         std::string_view host, std::string_view extra_header,
                         std::string_view body) {
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  out.append("\r\n");
  if (!body.empty()) {
    out.append("Content-Type: application/json\r\nContent-Length: ");
    out.append(std::to_string(body.size())).append("\r\n");
  }
  out.append(extra_header).append("\r\n").append(body);
}

}  // namespace bombarder
