// One HTTP/1.1 request as bytes, for the preformatted buffers of the load connections
// (load/load_connection.h) that the store adapters fill (store_adapter.h).
#pragma once

#include <string>
#include <string_view>

namespace bombarder {

// Appends a request to `out`: request line, Host, Content-Type (JSON) and Content-Length when
// there is a body, `extra_header` (already "Name: value\r\n" or empty), blank line, body.
void append_http_request(std::string& out, std::string_view method, std::string_view target,
                         std::string_view host, std::string_view extra_header,
                         std::string_view body);

}  // namespace bombarder
