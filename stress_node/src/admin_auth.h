// The admin gate (issue 14): routes that change what a node does on an operator's say-so
// (POST /_raft/force-resync, everything under /_debug/) answer only requests carrying
// `Authorization: Bearer <token>`, the token from --admin-token-file.
//
//   no token configured          -> 403 {"error":"admin_disabled",...}
//   header absent or wrong token -> 401 {"error":"unauthorized",...} + WWW-Authenticate: Bearer
//
// With no token file the routes are closed rather than open: a node that cannot tell its
// operator from anyone else on the network must not let anyone force a snapshot transfer.
#pragma once

#include <memory>

#include "http_server.h"
#include "peer_auth.h"

namespace stress_node {

// `token` null: admin routes disabled. The returned handler checks, then calls `handler`.
[[nodiscard]] Handler admin_only(std::shared_ptr<const AdminToken> token, Handler handler);

}  // namespace stress_node
