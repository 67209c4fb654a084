#include "debug_api.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>
#include <thread>

#include "admin_auth.h"

namespace stress_node {

namespace {

constexpr int64_t kHangMsMax = 600'000;
// The io hang waits this long after answering so that the 202 leaves before the loop blocks.
constexpr auto kIoHangDelay = std::chrono::milliseconds(20);

void block_for(const char* loop, std::chrono::milliseconds duration) {
  spdlog::warn("debug: blocking the {} loop for {} ms", loop, duration.count());
  std::this_thread::sleep_for(duration);
  spdlog::warn("debug: the {} loop runs again", loop);
}

}  // namespace

void DebugApi::register_routes(Router& router, std::shared_ptr<const AdminToken> admin_token) {
  router.add(http::verb::post, "/_debug/hang",
             admin_only(std::move(admin_token), [this](Request request, Respond respond) {
               hang(std::move(request), respond);
             }));
}

void DebugApi::hang(Request request, Respond respond) {
  const std::string loop = request.query_param("loop").value_or("io");
  if (loop != "io" && loop != "raft") {
    return respond(Response::error(400, "bad_request", "loop must be io or raft"));
  }
  const std::string ms_text = request.query_param("ms").value_or("");
  int64_t ms = 0;
  const char* end = ms_text.data() + ms_text.size();
  const auto [ptr, ec] = std::from_chars(ms_text.data(), end, ms);
  if (ms_text.empty() || ec != std::errc() || ptr != end || ms < 1 || ms > kHangMsMax) {
    return respond(Response::error(
        400, "bad_request",
        "ms must be a whole number of milliseconds in [1, " + std::to_string(kHangMsMax) + "]"));
  }
  const auto duration = std::chrono::milliseconds(ms);
  if (loop == "raft") {
    if (!node_.run_on_raft_thread([duration] { block_for("raft", duration); })) {
      return respond(Response::error(503, "busy", "the raft thread refused the task"));
    }
    return respond(Response::json(202, {{"loop", loop}, {"ms", ms}}));
  }
  respond(Response::json(202, {{"loop", loop}, {"ms", ms}}));
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, kIoHangDelay);
  timer->async_wait([timer, duration](boost::system::error_code) { block_for("io", duration); });
}

}  // namespace stress_node
