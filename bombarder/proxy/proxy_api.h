// Toxiproxy's REST API over the proxies' state: routes, proxy and toxic CRUD, /populate, /reset,
// /version and /metrics, with Toxiproxy's messages and statuses.
#pragma once

#include <string_view>

#include "bombarder/proxy/proxy_server.h"
#include "bombarder/proxy/proxy_state.h"

namespace bombarder::proxy {

// One request: `method` "GET"/"POST"/"PATCH"/"DELETE", `target` the request target (a query is
// ignored), `body` the request body. Never throws: errors come back as {"error", "status"}.
// Must be called on the io_context's thread.
ApiResult answer_api(ServerState& state, std::string_view method, std::string_view target,
                     std::string_view body);

}  // namespace bombarder::proxy
