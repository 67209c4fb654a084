// The node's HTTP server is common's (common/http_server.h, shared with bombarder's metrics
// endpoint since issue 16). These declarations keep the node's handlers (kv_api, raft_api,
// debug_api, admin_auth) and their tests written against stress_node::Request,
// stress_node::Router, ...
#pragma once

#include "common/http_server.h"

namespace stress_node {

namespace http = boost::beast::http;

using common::Handler;
using common::HttpServer;
using common::HttpServerOptions;
using common::make_request;
using common::percent_decode;
using common::Request;
using common::RequestObserver;
using common::Respond;
using common::Response;
using common::RouteOptions;
using common::Router;

}  // namespace stress_node
