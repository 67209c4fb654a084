// A connection the HTTP server hands over after a WebSocket upgrade request (Router::
// add_upgrade, issue 17: the orchestrator's agent endpoint on the same port as its REST API) or
// a GET on a takeover route (Router::add_takeover: the orchestrator's server-sent events).
//
// The new owner answers the request itself (a WebSocket with boost::beast::websocket::stream::
// async_accept(request)), over `stream`, after the bytes already in `buffer`. The server has set no
// timer on it (expires_never) and no longer counts it among its connections: connections_max,
// stop() and its grace period do not apply; the owner bounds and closes its connections.
#pragma once

// The connection type is shared with Response::take_over: common/byte_stream.h.
#include "common/byte_stream.h"
#include "common/http_server.h"
