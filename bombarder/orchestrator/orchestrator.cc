#include "bombarder/orchestrator/orchestrator.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/orchestrator/event_stream.h"
#include "bombarder/orchestrator/orchestrator_state.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;
using common::Request;
using common::Respond;
using common::Response;
namespace http = boost::beast::http;

constexpr size_t kAuditPageMax = 1000;

// The `run` query parameter of "/events?run=ID", or "" (every run).
std::string run_filter(std::string_view target) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    if (part.starts_with("run=")) {
      return common::percent_decode(part.substr(4), true).value_or(std::string());
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return {};
}

// The answer to a request without the operator's token (401 without any, 403 with another,
// compared in constant time; counted and audited), or nullopt when it carries the token.
std::optional<Response> operator_refusal(Orchestrator::State& state, std::string_view auth,
                                         const std::string& route) {
  const std::string_view prefix = "Bearer ";
  if (auth.substr(0, prefix.size()) != prefix) {
    ++state.refusals["unauthorized"];
    state.audit("unknown", "refused", {{"code", "unauthorized"}, {"route", route}});
    Response r =
        Response::error(401, "unauthorized", "send Authorization: Bearer <operator token>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  const std::string_view token = auth.substr(prefix.size());
  const std::string& expected = state.options.operator_token;
  if (token.size() != expected.size() ||
      CRYPTO_memcmp(token.data(), expected.data(), expected.size()) != 0) {
    ++state.refusals["forbidden"];
    state.audit("unknown", "refused", {{"code", "forbidden"}, {"route", route}});
    return Response::error(403, "forbidden", "not the operator token");
  }
  return std::nullopt;
}

Response store_unavailable(const std::string& why) {
  Response r = Response::error(503, "store_unavailable", why);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Answers with the handler's JSON, or with the ApiFailure it threw.
template <typename Fn>
common::Handler guarded(Orchestrator::State& state, unsigned ok_status, Fn fn) {
  return [&state, ok_status, fn](Request request, Respond respond) {
    // The rate of the token presented first: a flood of wrong tokens is limited too.
    if (!state.rest_allowed(request.header("Authorization"))) {
      Response r = Response::error(429, "rate_limited", "too many requests for this token");
      r.headers.emplace_back("Retry-After", "1");
      return respond(std::move(r));
    }
    // Operator authentication next: nothing about the request is looked at before it.
    if (auto refusal = operator_refusal(state, request.header("Authorization"), request.route)) {
      return respond(std::move(*refusal));
    }
    // A change the store could not record is refused before it is made; reads are served.
    if (request.method != http::verb::get) {
      if (const std::string why = state.store->unavailable(); !why.empty()) {
        return respond(store_unavailable(why));
      }
    }
    try {
      Json body = fn(request);
      // A read while the store takes no writes is served from memory at once (what it reports
      // may not be durable yet): waiting for the store would only turn it into a 503.
      if (request.method == http::verb::get && !state.store->unavailable().empty()) {
        return respond(Response::json(ok_status, body));
      }
      // What the answer reports is durable before it is sent; the thread goes on meanwhile.
      state.store->when_durable(kDurableWait, [ok_status, body = std::move(body),
                                               respond = std::move(respond)](bool durable) {
        if (!durable) {
          return respond(store_unavailable(
              "the change was made but the store did not confirm it within " +
              format_seconds(kDurableWait) + "; it is written when the store answers again"));
        }
        if (ok_status == 204) return respond(Response::no_content());
        respond(Response::json(ok_status, body));
      });
    } catch (const ApiFailure& f) {
      respond(Response::error(f.status, f.code, f.message));
    } catch (const Error& e) {  // the RocksDB store's I/O errors
      respond(store_unavailable(e.what()));
    }
  };
}

Json parse_body(const Request& request) {
  Json body = Json::parse(request.body, nullptr, false);
  if (body.is_discarded()) throw ApiFailure{400, "malformed", "the body is not valid JSON"};
  return body;
}

template <typename Map>
const Json& find_or_404(const Map& map, const std::string& id, const char* what) {
  auto it = map.find(id);
  if (it == map.end()) throw ApiFailure{404, "not_found", std::string("no ") + what + " " + id};
  return it->second;
}

// "k=v,k2=v2" -> {"k": "v", "k2": "v2"}.
Json parse_label_query(const std::string& text) {
  Json selector = Json::object();
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string pair = text.substr(start, comma - start);
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ApiFailure{400, "malformed", "label=" + text + ": pairs are k=v, comma-separated"};
    }
    selector[pair.substr(0, eq)] = pair.substr(eq + 1);
    start = comma + 1;
  }
  return selector;
}

// Whom POST /experiments/{id}/assign names: `?label=k=v[,k2=v2]`, or a body {"agents": [ids]}
// or {"selector": {"k": "v"}}; exactly one of the three.
std::vector<std::string> assignees(Orchestrator::State& s, const Request& r) {
  const std::optional<std::string> label = r.query_param("label");
  const Json body = r.body.empty() ? Json::object() : parse_body(r);
  if (!body.is_object()) throw ApiFailure{400, "malformed", "the body is a JSON object"};
  const int ways =
      (label ? 1 : 0) + (body.contains("agents") ? 1 : 0) + (body.contains("selector") ? 1 : 0);
  if (ways != 1) {
    throw ApiFailure{400, "malformed",
                     "name the agents one way: ?label=k=v, {\"agents\": [ids]} or "
                     "{\"selector\": {\"k\": \"v\"}}"};
  }
  if (label) return s.select_agents(parse_label_query(*label));
  if (body.contains("selector")) {
    const Json& selector = body["selector"];
    if (!selector.is_object() || selector.empty()) {
      throw ApiFailure{400, "malformed", "selector is a non-empty object of label values"};
    }
    for (const auto& [k, v] : selector.items()) {
      if (!v.is_string()) throw ApiFailure{400, "malformed", "selector values are strings"};
    }
    return s.select_agents(selector);
  }
  if (!body["agents"].is_array()) throw ApiFailure{400, "malformed", "agents is an array of ids"};
  std::vector<std::string> ids;
  for (const Json& id : body["agents"]) {
    if (!id.is_string()) throw ApiFailure{400, "malformed", "agent ids are strings"};
    ids.push_back(id.get<std::string>());
  }
  return ids;
}

void add_experiment_routes(common::Router& router, Orchestrator::State& s) {
  common::RouteOptions body_limit{.body_limit_bytes = s.options.body_bytes_max};
  router.add(http::verb::post, "/experiments",
             guarded(s, 201, [&s](const Request& r) { return s.create_experiment(parse_body(r)); }),
             body_limit);
  router.add(http::verb::get, "/experiments", guarded(s, 200, [&s](const Request&) {
               Json list = Json::array();
               for (const auto& [id, e] : s.experiments) list.push_back(e);
               return Json{{"experiments", list}};
             }));
  router.add(http::verb::get, "/experiments/:id", guarded(s, 200, [&s](const Request& r) {
               return find_or_404(s.experiments, r.params.at("id"), "experiment");
             }));
  router.add(http::verb::delete_, "/experiments/:id", guarded(s, 204, [&s](const Request& r) {
               s.delete_experiment(r.params.at("id"));
               return Json();
             }));
  router.add(http::verb::post, "/experiments/:id/abort", guarded(s, 200, [&s](const Request& r) {
               return s.abort_experiment(r.params.at("id"), "aborted by the operator");
             }));
  router.add(http::verb::post, "/experiments/:id/assign/:agent",
             guarded(s, 201, [&s](const Request& r) {
               return s.create_run(r.params.at("id"), {r.params.at("agent")});
             }));
  router.add(
      http::verb::post, "/experiments/:id/assign",
      guarded(s, 201,
              [&s](const Request& r) { return s.create_run(r.params.at("id"), assignees(s, r)); }),
      body_limit);
}

void add_agent_routes(common::Router& router, Orchestrator::State& s) {
  common::RouteOptions body_limit{.body_limit_bytes = s.options.body_bytes_max};
  router.add(http::verb::post, "/agents",
             guarded(s, 201, [&s](const Request& r) { return s.enrol_agent(parse_body(r)); }),
             body_limit);
  router.add(http::verb::get, "/agents", guarded(s, 200, [&s](const Request&) {
               Json list = Json::array();
               for (const auto& [id, a] : s.agents) list.push_back(s.agent_view(a));
               return Json{{"agents", list}};
             }));
  router.add(http::verb::get, "/agents/:id", guarded(s, 200, [&s](const Request& r) {
               return s.agent_view(find_or_404(s.agents, r.params.at("id"), "agent"));
             }));
  router.add(http::verb::post, "/agents/:id/revoke", guarded(s, 200, [&s](const Request& r) {
               s.revoke_agent(r.params.at("id"));
               return s.agent_view(s.agents.at(r.params.at("id")));
             }));
}

void add_run_routes(common::Router& router, Orchestrator::State& s) {
  router.add(http::verb::get, "/runs", guarded(s, 200, [&s](const Request&) {
               Json list = Json::array();
               for (const auto& [id, run] : s.runs) {
                 list.push_back({{"id", id},
                                 {"experiment", run["experiment"]},
                                 {"state", run["state"]},
                                 {"created_at", run["created_at"]}});
               }
               return Json{{"runs", list}};
             }));
  router.add(http::verb::get, "/runs/:id", guarded(s, 200, [&s](const Request& r) {
               return find_or_404(s.runs, r.params.at("id"), "run");
             }));
  router.add(http::verb::get, "/audit", guarded(s, 200, [&s](const Request& r) {
               uint64_t after = 0;
               size_t limit = 100;
               try {
                 after = std::stoull(r.query_param("after").value_or("0"));
                 limit = std::stoul(r.query_param("limit").value_or("100"));
               } catch (const std::exception&) {
                 throw ApiFailure{400, "malformed", "after and limit are whole numbers"};
               }
               limit = std::clamp<size_t>(limit, 1, kAuditPageMax);
               Json entries = Json::array();
               const std::string from =
                   after == 0 ? std::string() : printf_text("%020llu", (unsigned long long)after);
               for (auto& [key, entry] : s.store->scan("audit", limit, from)) {
                 entries.push_back(std::move(entry));
               }
               return Json{{"entries", entries},
                           {"first_seq", s.audit_first_seq},
                           {"last_seq", s.audit_seq}};
             }));
  router.add(http::verb::get, "/status",
             guarded(s, 200, [&s](const Request&) { return s.status(); }));
}

}  // namespace

Orchestrator::Orchestrator(boost::asio::io_context& io, OrchestratorOptions options)
    : state_(std::make_unique<State>(io, std::move(options))),
      router_(std::make_unique<common::Router>()) {
  add_experiment_routes(*router_, *state_);
  add_agent_routes(*router_, *state_);
  add_run_routes(*router_, *state_);
  add_poll_routes(*router_, *state_);
  router_->add_upgrade("/agent/ws", [state = state_.get()](auto connection) {
    state->accept_upgrade(std::move(connection));
  });
  router_->add_takeover("/events", [state = state_.get()](auto connection) {
    const std::string auth(connection->request[http::field::authorization]);
    if (auto refusal = operator_refusal(*state, auth, "/events")) {
      return EventStreams::answer_and_close(std::move(connection), refusal->status, refusal->body);
    }
    const auto target = connection->request.target();
    std::string run = run_filter(std::string_view(target.data(), target.size()));
    state->events.subscribe(std::move(connection), std::move(run));
  });
  common::HttpServerOptions http;
  http.host = state_->options.host;
  http.port = state_->options.port;
  http.tls = state_->options.tls;
  http.body_limit_bytes = state_->options.body_bytes_max;
  http.server_name = "bombarder-orchestrator";
  server_ = std::make_unique<common::HttpServer>(io, *router_, http);
}

Orchestrator::~Orchestrator() = default;

boost::system::error_code Orchestrator::listen() { return server_->listen(); }
void Orchestrator::start() {
  state_->start_audit_pruning();
  server_->start();
}
uint16_t Orchestrator::port() const { return server_->port(); }

void Orchestrator::stop(std::function<void()> done) {
  state_->close_all();
  // The last writes (the raft store's are in flight) reach the store before the process ends.
  server_->stop(std::chrono::milliseconds(2000), [this, done = std::move(done)]() mutable {
    state_->store->when_durable(kDurableWait, [done = std::move(done)](bool durable) {
      if (!durable) spdlog::error("orchestrator: stopping with writes the store did not confirm");
      done();
    });
  });
}

}  // namespace bombarder
