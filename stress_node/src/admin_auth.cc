#include "admin_auth.h"

#include <utility>

namespace stress_node {

Handler admin_only(std::shared_ptr<const AdminToken> token, Handler handler) {
  return
      [token = std::move(token), handler = std::move(handler)](Request request, Respond respond) {
        if (!token) {
          return respond(Response::error(
              403, "admin_disabled",
              "admin routes are disabled: start the node with --admin-token-file to enable them"));
        }
        if (!token->accepts(request.header("Authorization"))) {
          Response response = Response::error(
              401, "unauthorized", "this admin route needs Authorization: Bearer <admin token>");
          response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"stress_node admin\"");
          return respond(std::move(response));
        }
        handler(std::move(request), std::move(respond));
      };
}

}  // namespace stress_node
