// "host:port" as proxies' listen and upstream fields spell it.
#pragma once

#include <string>
#include <utility>

#include "common/asio.h"

namespace bombarder::proxy {

// {host, port}: host may be empty, "localhost", a name or an IP literal (IPv6 in brackets, which
// are removed); port is digits up to 65535. Throws ApiError 400 otherwise.
std::pair<std::string, std::string> split_host_port(const std::string& address);

// "127.0.0.1:8080", "[::1]:8080".
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace bombarder::proxy
