#include "kv_api.h"

#include <spdlog/spdlog.h>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <charconv>
#include <ctime>

namespace stress_node {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is precise.
std::string parse_error_text(const json::exception& e) {
  std::string text = e.what();
  if (const size_t close = text.find("] "); text.starts_with("[json.") && close != text.npos) {
    text.erase(0, close + 2);
  }
  return text;
}

std::optional<json> parse_object(std::string_view body, std::string* error) {
  if (body.empty()) {
    *error = "empty body; expected a JSON object";
    return std::nullopt;
  }
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    *error = "malformed JSON: " + parse_error_text(e);
    return std::nullopt;
  }
  if (!doc.is_object()) {
    *error = std::string("the body must be a JSON object, not ") + doc.type_name();
    return std::nullopt;
  }
  return doc;
}

// Reads the string member `name` into *out. False with *error when it is required and absent,
// not a string, or over `bytes_max`; true with *out untouched when optional and absent.
bool string_field(const json& doc, const char* name, bool required, size_t bytes_max,
                  std::optional<std::string>* out, std::string* error) {
  const auto it = doc.find(name);
  if (it == doc.end()) {
    if (required) *error = std::string("missing field \"") + name + "\"";
    return !required;
  }
  if (!it->is_string()) {
    *error = std::string("field \"") + name + "\" must be a string, not " + it->type_name();
    return false;
  }
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() > bytes_max) {
    *error = std::string("field \"") + name + "\" is " + std::to_string(text.size()) +
             " bytes; at most " + std::to_string(bytes_max) + " allowed";
    return false;
  }
  *out = text;
  return true;
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

int64_t now_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void add_retry_after(Response& response) {
  if (response.status == 503) response.headers.emplace_back("Retry-After", "1");
}

// A forward that failed before the leader could have seen the request (refused, queue full)
// is a plain 503; after that (timeout, reset) the leader may have applied it: outcome unknown.
Response forward_failure(boost::system::error_code ec, const json& leader) {
  const bool never_sent = ec == asio::error::connection_refused ||
                          ec == common::HttpClientError::kQueueFull ||
                          ec == asio::error::host_not_found;
  if (!never_sent) {
    return Response::error(504, "forward_timeout",
                           "the leader did not answer (" + ec.message() + "); outcome unknown",
                           leader);
  }
  Response response =
      Response::error(503, "forward_failed", "could not reach the leader: " + ec.message(), leader);
  add_retry_after(response);
  return response;
}

// Headers of the leader's answer worth relaying to the client.
constexpr std::string_view kRelayedHeaders[] = {"Retry-After", "Location", "X-Raft-Index",
                                                "Idempotent-Replayed"};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Pure helpers

std::optional<CreateBody> parse_create_body(std::string_view body, std::string* error) {
  auto doc = parse_object(body, error);
  if (!doc) return std::nullopt;
  std::optional<std::string> key, value;
  if (!string_field(*doc, "key", true, kv::kKeyBytesMax, &key, error)) return std::nullopt;
  if (!string_field(*doc, "value", true, kv::kValueBytesMax, &value, error)) return std::nullopt;
  return CreateBody{std::move(*key), std::move(*value)};
}

std::optional<UpdateBody> parse_update_body(std::string_view body, std::string* error) {
  auto doc = parse_object(body, error);
  if (!doc) return std::nullopt;
  std::optional<std::string> key, value;
  if (!string_field(*doc, "value", true, kv::kValueBytesMax, &value, error)) return std::nullopt;
  if (!string_field(*doc, "key", false, kv::kKeyBytesMax, &key, error)) return std::nullopt;
  return UpdateBody{std::move(*value), std::move(key)};
}

std::optional<ListQuery> parse_list_query(const Request& request, std::string* error) {
  ListQuery query;
  if (auto limit = request.query_param("limit")) {
    const auto value = parse_decimal(*limit);
    if (!value || *value < 1 || *value > kv::kReadLimitMax) {
      *error = "limit must be an integer in [1, " + std::to_string(kv::kReadLimitMax) + "], not '" +
               *limit + "'";
      return std::nullopt;
    }
    query.limit = *value;
  }
  if (auto after = request.query_param("after")) {
    auto id = normalize_id(*after);
    if (!id) {
      *error = "after must be an entry id (a UUID), not '" + *after + "'";
      return std::nullopt;
    }
    query.after = std::move(*id);
  }
  query.key = request.query_param("key");
  return query;
}

std::optional<bool> parse_local_read(const Request& request, std::string* error) {
  const auto consistency = request.query_param("consistency");
  if (!consistency || *consistency == "linearizable" || *consistency == "strong") return false;
  if (*consistency == "local") return true;
  *error = "consistency must be 'local' or 'linearizable', not '" + *consistency + "'";
  return std::nullopt;
}

std::optional<std::string> normalize_id(std::string_view text) {
  if (text.size() != kv::kIdBytes) return std::nullopt;
  std::string id(text);
  for (char& c : id) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!kv::is_canonical_uuid(id)) return std::nullopt;
  return id;
}

std::string new_uuid_v4(std::mt19937_64& rng) {
  // Version 4, variant RFC 4122 (§4.4), lower-case canonical text: Boost.UUID does all three.
  boost::uuids::basic_random_generator<std::mt19937_64> generate(rng);
  return boost::uuids::to_string(generate());
}

std::string format_rfc3339_us(int64_t unix_us) {
  // Floor division, so that instants before 1970 still print a positive fraction.
  int64_t seconds = unix_us / 1'000'000;
  int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(micros));
  return text;
}

json entry_to_json(const kv::KvEntry& entry) {
  return {{"id", entry.id},
          {"key", entry.key},
          {"value", entry.value},
          {"seq", entry.seq},
          {"source_node", entry.source_node},
          {"created_at", format_rfc3339_us(entry.created_at_us)}};
}

// ---------------------------------------------------------------------------------------------
// KvApi

KvApi::KvApi(asio::io_context& io, RaftNode& node, common::HttpClientPool& pool, Registry& metrics,
             KvApiOptions options)
    : io_(io),
      node_(node),
      pool_(pool),
      append_latency_(metrics.histogram("raft_append_latency_seconds",
                                        "Time from proposing a client write until it is committed "
                                        "and applied here (successes).")),
      forwarded_(metrics.counter("http_forwarded_total", "Writes forwarded to the leader.")),
      options_(std::move(options)) {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device()};
  rng_.seed(seed);
}

void KvApi::register_routes(Router& router) {
  const auto bind = [this](void (KvApi::*method)(Request, Respond)) {
    return [this, method](Request request, Respond respond) {
      (this->*method)(std::move(request), std::move(respond));
    };
  };
  router.add(http::verb::post, "/api/kv", bind(&KvApi::create));
  router.add(http::verb::get, "/api/kv", bind(&KvApi::list));
  router.add(http::verb::get, "/api/kv/:id", bind(&KvApi::get_one));
  router.add(http::verb::put, "/api/kv/:id", bind(&KvApi::update));
  router.add(http::verb::delete_, "/api/kv/:id", bind(&KvApi::remove));
}

namespace {

// The Idempotency-Key header, or an error response when it breaks libkv's bound.
std::optional<Response> read_idempotency_key(const Request& request, std::string* key) {
  const std::string_view header = request.header(kIdempotencyKeyHeader);
  if (header.size() > kv::kIdempotencyKeyBytesMax) {
    return Response::error(400, "bad_request",
                           "Idempotency-Key is " + std::to_string(header.size()) +
                               " bytes; at most " + std::to_string(kv::kIdempotencyKeyBytesMax) +
                               " allowed");
  }
  *key = std::string(header);
  return std::nullopt;
}

Response invalid_id(const std::string& text) {
  return Response::error(400, "invalid_id", "'" + text + "' is not an entry id (a UUID)");
}

}  // namespace

void KvApi::create(Request request, Respond respond) {
  std::string error;
  auto body = parse_create_body(request.body, &error);
  if (!body) return respond(Response::error(400, "bad_request", error));
  kv::Command command;
  if (auto bad = read_idempotency_key(request, &command.idempotency_key)) return respond(*bad);
  command.op = kv::CreateCommand{new_uuid_v4(rng_), std::move(body->key), std::move(body->value),
                                 now_unix_us(), options_.self_id};
  propose(std::move(command), std::move(request), std::move(respond));
}

void KvApi::update(Request request, Respond respond) {
  auto id = normalize_id(request.params["id"]);
  if (!id) return respond(invalid_id(request.params["id"]));
  std::string error;
  auto body = parse_update_body(request.body, &error);
  if (!body) return respond(Response::error(400, "bad_request", error));
  kv::Command command;
  if (auto bad = read_idempotency_key(request, &command.idempotency_key)) return respond(*bad);
  command.op = kv::UpdateCommand{std::move(*id), std::move(body->value), std::move(body->key)};
  propose(std::move(command), std::move(request), std::move(respond));
}

void KvApi::remove(Request request, Respond respond) {
  auto id = normalize_id(request.params["id"]);
  if (!id) return respond(invalid_id(request.params["id"]));
  kv::Command command;
  if (auto bad = read_idempotency_key(request, &command.idempotency_key)) return respond(*bad);
  command.op = kv::DeleteCommand{std::move(*id)};
  propose(std::move(command), std::move(request), std::move(respond));
}

void KvApi::propose(kv::Command command, Request request, Respond respond) {
  // The stamp and the idempotency policy are decided here, by the node that proposes, and
  // travel in the entry (design.md §3). A follower's command is never appended: it forwards the
  // request and the leader builds its own, so the stamps in the log are leaders' clocks.
  command.stamp_unix_ms = static_cast<uint64_t>(now_unix_us() / 1000);
  command.idempotency_ttl_ms = static_cast<uint64_t>(options_.idempotency_ttl.count());
  command.idempotency_table_bytes_max = options_.idempotency_table_bytes_max;
  const auto started = std::chrono::steady_clock::now();
  auto& latency = append_latency_;
  // Shared: the completion is copied on its way through the raft thread, the body may be 1 MiB.
  auto shared = std::make_shared<Request>(std::move(request));
  node_.propose(
      std::move(command), [this, &latency, started, shared, respond](WriteOutcome outcome) {
        // Raft thread: only hand the work over.
        asio::post(io_, [this, &latency, started, outcome = std::move(outcome), shared, respond] {
          if (outcome.outcome == Outcome::kOk) {
            latency.observe(std::chrono::steady_clock::now() - started);
          }
          on_write_done(outcome, std::move(*shared), respond);
        });
      });
}

namespace {

Response write_result(const kv::ApplyResult& result, const std::string& id) {
  Response response;
  switch (result.status) {
    case kv::ApplyStatus::kCreated:
      response = Response::json(201, entry_to_json(*result.entry));
      response.headers.emplace_back("Location", "/api/kv/" + result.entry->id);
      break;
    case kv::ApplyStatus::kUpdated:
      response = Response::json(200, entry_to_json(*result.entry));
      break;
    case kv::ApplyStatus::kDeleted: response = Response::no_content(); break;
    case kv::ApplyStatus::kNotFound:
      response = Response::error(404, "not_found", "no entry with id " + id);
      break;
    case kv::ApplyStatus::kAlreadyExists:
      response = Response::error(409, "already_exists", "an entry with this id already exists");
      break;
    case kv::ApplyStatus::kIdempotencyKeyReused:
      // Answering with the recorded result would lie (a DELETE answered "201 Created"), so the
      // key's reuse is refused, as the IETF Idempotency-Key draft does. The state machine
      // compared the request fingerprints; nothing was applied.
      response = Response::error(
          422, "idempotency_key_reused",
          "this Idempotency-Key was already used for a different request (log index " +
              std::to_string(result.original_index) + "); use a new key for a new request");
      break;
    default:
      response = Response::error(
          500, "internal", std::string("unexpected apply status ") + kv::to_string(result.status));
  }
  if (result.status == kv::ApplyStatus::kIdempotencyKeyReused) return response;
  response.headers.emplace_back(
      "X-Raft-Index", std::to_string(result.replayed ? result.original_index : result.index));
  if (result.replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

}  // namespace

void KvApi::on_write_done(const WriteOutcome& outcome, Request request, Respond respond) {
  switch (outcome.outcome) {
    case Outcome::kOk: return respond(write_result(outcome.result, request.params["id"]));
    case Outcome::kNotLeader:
      return forward(outcome.leader, std::move(request), std::move(respond));
    case Outcome::kTimeout:
      return respond(
          Response::error(504, "commit_timeout", "outcome unknown", leader_fields(outcome.leader)));
    case Outcome::kStopped:
      // The write is in the log and may be committed by the next leader: unknown. (A write
      // the stopping node never took is kShuttingDown: a plain 503 below.)
      return respond(Response::error(504, "shutting_down",
                                     "the node stopped before the write was confirmed; outcome "
                                     "unknown",
                                     leader_fields(outcome.leader)));
    case Outcome::kInvalid:
      return respond(Response::error(400, "bad_request", "the command exceeds the store's bounds"));
    default: return respond(unavailable(outcome.outcome, outcome.leader));
  }
}

void KvApi::forward(raft::NodeId leader, Request request, Respond respond) {
  const auto endpoint = options_.members.find(leader);
  // One hop only: a forwarded request that reaches a non-leader again means leadership is
  // moving; the client retries rather than the nodes bouncing it around.
  if (request.has_header(kForwardedByHeader) || leader == options_.self_id ||
      endpoint == options_.members.end()) {
    return respond(unavailable(Outcome::kNotLeader, leader));
  }
  common::HttpRequest out;
  out.method = request.method;
  out.target = request.target;
  out.body = std::move(request.body);
  if (const auto type = request.header("Content-Type"); !type.empty()) out.content_type = type;
  if (const auto key = request.header(kIdempotencyKeyHeader); !key.empty()) {
    out.headers.emplace_back(std::string(kIdempotencyKeyHeader), std::string(key));
  }
  out.headers.emplace_back(std::string(kForwardedByHeader), std::to_string(options_.self_id));
  forwarded_.Increment();
  pool_.request(endpoint->second, std::move(out), options_.forward_timeout,
                [this, leader, respond](boost::system::error_code ec, common::HttpResponse answer) {
                  if (ec) {
                    spdlog::debug("forwarding to leader {} failed: {}", leader, ec.message());
                    return respond(forward_failure(ec, leader_fields(leader)));
                  }
                  Response response;
                  response.status = static_cast<unsigned>(answer.status);
                  response.body = std::move(answer.body);
                  response.content_type = answer.header("content-type");
                  for (std::string_view name : kRelayedHeaders) {
                    if (auto value = answer.header(name); !value.empty()) {
                      response.headers.emplace_back(std::string(name), std::string(value));
                    }
                  }
                  respond(std::move(response));
                });
}

json KvApi::leader_fields(raft::NodeId leader) const {
  json fields = json::object();
  if (leader == raft::kNoNode) return fields;
  fields["leader_id"] = leader;
  if (auto it = options_.members.find(leader); it != options_.members.end()) {
    fields["leader"] = it->second.to_string();
  }
  return fields;
}

Response KvApi::unavailable(Outcome outcome, raft::NodeId leader) const {
  const char* code = "unavailable";
  const char* message = "the node cannot serve this now; retry";
  switch (outcome) {
    case Outcome::kNotLeader:
      code = "not_leader";
      message = "this node is not the leader; retry at the leader";
      break;
    case Outcome::kNoLeader:
      code = "no_leader";
      message = "no leader is known right now (election in progress); retry";
      break;
    case Outcome::kBusy:
      code = "busy";
      message = "the node is at its bound of pending requests; retry";
      break;
    case Outcome::kLost:
      code = "lost";
      message = "leadership changed before the write committed; it was not applied, retry";
      break;
    case Outcome::kTimeout:
      code = "no_quorum";
      message = "a quorum did not confirm the read in time; retry";
      break;
    case Outcome::kShuttingDown:
      code = "shutting_down";
      message = "the node is stopping";
      break;
    default: break;
  }
  Response response = Response::error(503, code, message, leader_fields(leader));
  add_retry_after(response);
  return response;
}

void KvApi::read(const Request& request, Respond respond, std::function<void(Respond)> serve) {
  std::string error;
  const auto local = parse_local_read(request, &error);
  if (!local) return respond(Response::error(400, "bad_request", error));
  if (*local) return serve(std::move(respond));
  node_.read_barrier([this, respond, serve = std::move(serve)](ReadOutcome outcome) mutable {
    asio::post(io_, [this, outcome, respond, serve = std::move(serve)]() mutable {
      if (outcome.outcome != Outcome::kOk)
        return respond(unavailable(outcome.outcome, outcome.leader));
      serve(std::move(respond));
    });
  });
}

void KvApi::get_one(Request request, Respond respond) {
  auto id = normalize_id(request.params["id"]);
  if (!id) return respond(invalid_id(request.params["id"]));
  read(request, std::move(respond), [this, id = std::move(*id)](Respond done) {
    auto entry = node_.state().get(id);
    if (!entry) return done(Response::error(404, "not_found", "no entry with id " + id));
    done(Response::json(200, entry_to_json(*entry)));
  });
}

void KvApi::list(Request request, Respond respond) {
  std::string error;
  auto query = parse_list_query(request, &error);
  if (!query) return respond(Response::error(400, "bad_request", error));
  read(request, std::move(respond), [this, query = std::move(*query)](Respond done) {
    const kv::StateMachine& state = node_.state();
    std::vector<kv::KvEntry> entries;
    if (query.key) {
      entries = state.find_by_key(*query.key, query.limit, query.after);
    } else {
      entries = state.list(query.after, query.limit);
    }
    json array = json::array();
    for (const auto& entry : entries) array.push_back(entry_to_json(entry));
    Response response = Response::json(200, array);
    response.headers.emplace_back("X-Total-Count", std::to_string(state.count()));
    done(std::move(response));
  });
}

}  // namespace stress_node
