// Test-only failpoints (issue 7), registered only when stress_node runs with
// --debug-endpoints; without it these routes are unknown (404) like any other.
//
// Every route needs the admin token (admin_auth.h): 401 without it, 403 with no token configured.
//
//   POST /_debug/hang?loop=io|raft&ms=N   blocks that event loop for N ms, N in [1, 600000]
//                                         (loop defaults to io) -> 202 {"loop","ms"}
//
// The hang is what the watchdog (--watchdog-ms) exists for: a loop that stops making progress
// while the process stays alive. SIGSTOP cannot stand in for it, because it freezes the
// watchdog thread too.
//
// Threads: handlers run on the io_context thread. An io hang starts shortly after the 202 is
// written; a raft hang runs as a task on the raft thread.
#pragma once

#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <memory>

#include "http_server.h"
#include "peer_auth.h"
#include "raft_node.h"

namespace stress_node {

class DebugApi {
 public:
  DebugApi(boost::asio::io_context& io, RaftNode& node) : io_(io), node_(node) {}
  // `admin_token` null: the routes answer 403 admin_disabled.
  void register_routes(Router& router, std::shared_ptr<const AdminToken> admin_token);

 private:
  void hang(Request request, Respond respond);

  boost::asio::io_context& io_;
  RaftNode& node_;
};

}  // namespace stress_node
