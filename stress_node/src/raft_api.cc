#include "raft_api.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "admin_auth.h"
#include "common/byte_stream.h"
#include "options.h"
#include "peer_codec.h"
#include "peer_stream.h"

namespace stress_node {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

std::string hex16(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

json id_or_null(raft::NodeId id) { return id == raft::kNoNode ? json(nullptr) : json(id); }

json snapshot_json(const raft::SnapshotMeta& meta) {
  return {{"index", meta.index},
          {"term", meta.term},
          {"voters", meta.conf.voters},
          {"size_bytes", meta.size_bytes},
          {"checksum", hex16(meta.checksum)}};
}

json duration_json(const DurationStats& d) {
  return {{"count", d.count},
          {"last", d.last_ms},
          {"max", d.max_ms},
          {"mean", d.count == 0 ? 0.0 : static_cast<double>(d.total_ms) / d.count}};
}

json timings_json(const SnapshotTimings& t) {
  json sending = json::object();
  for (const auto& [id, ms] : t.sending_for_ms) sending[std::to_string(id)] = ms;
  return {{"created", duration_json(t.created)},
          {"sent", duration_json(t.sent)},
          {"sends_abandoned", t.sends_abandoned},
          {"installed", duration_json(t.installed)},
          {"sending_now", std::move(sending)}};
}

Response not_leader(const json& leader) {
  Response response =
      Response::error(503, "not_leader", "only the leader answers this; ask the leader", leader);
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

PeerValidatorOptions validator_options(const RaftApiOptions& options) {
  PeerValidatorOptions v;
  v.self = options.self_id;
  for (const auto& [id, endpoint] : options.members) v.members.insert(id);
  v.limits = options.message_limits;
  return v;
}

PeerStreamReceiverOptions stream_options(const RaftApiOptions& options) {
  return {.key = options.peer_key,
          .frame_bytes_max = static_cast<uint32_t>(options.peer_body_limit_bytes),
          .streams_per_peer_max = options.streams_per_peer_max,
          .idle_timeout = options.stream_idle_timeout};
}

}  // namespace

const char* to_string(FollowerHealth health) {
  switch (health) {
    case FollowerHealth::kHealthy: return "healthy";
    case FollowerHealth::kLagging: return "lagging";
    case FollowerHealth::kDesynced: return "desynced";
    case FollowerHealth::kSnapshotting: return "snapshotting";
  }
  return "unknown";
}

FollowerHealth classify_follower(const raft::FollowerStatus& follower,
                                 raft::Index leader_last_index, int64_t last_contact_ms,
                                 bool reachable, const RaftApiOptions& options) {
  if (follower.state == raft::ProgressState::kSnapshot) return FollowerHealth::kSnapshotting;
  const uint64_t lag =
      leader_last_index > follower.match_index ? leader_last_index - follower.match_index : 0;
  const bool silent = last_contact_ms < 0 || last_contact_ms > options.contact_timeout.count();
  if (!reachable || silent || lag >= options.lag_desynced_min) return FollowerHealth::kDesynced;
  if (lag > options.lag_healthy_max || !follower.recent_active) return FollowerHealth::kLagging;
  return FollowerHealth::kHealthy;
}

RaftApi::RaftApi(asio::io_context& io, RaftNode& node, const PeerTransport* transport,
                 Registry& metrics, RaftApiOptions options)
    : io_(io),
      node_(node),
      transport_(transport),
      metrics_(metrics),
      options_(std::move(options)),
      validator_(validator_options(options_)),
      state_hash_(std::make_unique<StateHashCache>(node.state())),
      streams_(
          io, stream_options(options_),
          [this](const FrameParties& parties, std::string_view body) {
            return deliver_batch(parties, body, std::string(kRaftStreamPath)).ok;
          },
          [this](FrameRejection reason, const std::string& message) {
            count_rejection(reason, message, kRaftStreamPath);
          }) {
  peer_auth_.self_id = options_.self_id;
  for (const auto& [id, endpoint] : options_.members) peer_auth_.members.insert(id);
  peer_auth_.key = options_.peer_key;
}

void RaftApi::register_routes(Router& router) {
  const auto bind = [this](void (RaftApi::*method)(Request, Respond)) {
    return [this, method](Request request, Respond respond) {
      (this->*method)(std::move(request), std::move(respond));
    };
  };
  router.add(http::verb::get, "/status", bind(&RaftApi::status));
  router.add(http::verb::get, "/metrics", bind(&RaftApi::metrics));
  router.add(http::verb::get, "/_raft/health", bind(&RaftApi::health));
  router.add(http::verb::get, "/_raft/sync-status", bind(&RaftApi::sync_status));
  router.add(http::verb::get, "/_raft/resync_stats", bind(&RaftApi::resync_stats));
  router.add(http::verb::post, "/_raft/force-resync",
             admin_only(options_.admin_token, bind(&RaftApi::force_resync)));
  // The peer RPCs are for members only: they have a connection budget of their own
  // (http_server.h), and with mutual TLS a connection without a client certificate from the
  // cluster's CA is refused.
  const RouteOptions peer{.body_limit_bytes = options_.peer_body_limit_bytes,
                          .peer = true,
                          .client_certificate_required = true};
  router.add(http::verb::post, std::string(kRaftAppendPath), bind(&RaftApi::peer_rpc), peer);
  router.add(http::verb::post, std::string(kRaftVotePath), bind(&RaftApi::peer_rpc), peer);
  router.add(http::verb::post, std::string(kRaftSnapshotPath), bind(&RaftApi::peer_rpc), peer);
  router.add(http::verb::get, std::string(kRaftStreamPath), bind(&RaftApi::peer_stream), peer);
  router.add(http::verb::get, std::string(kRaftSnapshotPath), bind(&RaftApi::snapshot_meta),
             RouteOptions{.client_certificate_required = true});
}

std::string RaftApi::address_of(raft::NodeId id) const {
  auto it = options_.members.find(id);
  return it == options_.members.end() ? std::string() : it->second.to_string();
}

json RaftApi::address_or_null(raft::NodeId id) const {
  const std::string address = address_of(id);
  return address.empty() ? json(nullptr) : json(address);
}

json RaftApi::leader_fields(raft::NodeId leader) const {
  return {{"leader_id", id_or_null(leader)}, {"leader", address_or_null(leader)}};
}

void RaftApi::status(Request, Respond respond) {
  const NodeStatus s = node_.status();
  // O(1); may describe an earlier index, and is none for a moment after the start.
  const std::optional<kv::StateHash> hash = state_hash_->get();
  const auto uptime = std::chrono::steady_clock::now() - started_at_;
  json body = {
      {"node_id", options_.self_id},
      {"address", address_of(options_.self_id)},
      {"role", raft::to_string(s.core.soft.role)},
      {"term", s.core.soft.term},
      {"leader_id", id_or_null(s.core.soft.leader)},
      {"leader", address_or_null(s.core.soft.leader)},
      {"commit_index", s.core.hard.commit_index},
      {"applied_index", s.core.applied_index},
      {"last_index", s.core.last_index},
      {"entry_count", s.entry_count},
      {"state_hash", hash ? json(hex16(hash->hash)) : json(nullptr)},
      // The applied index the hash describes.
      {"state_hash_index", hash ? json(hash->applied_index) : json(nullptr)},
      {"snapshot_index", s.snapshot.index},
      {"pending_writes", s.pending_writes},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(uptime).count()},
      {"version", kStressNodeVersion},
      // Issue 14: "insecure" means anyone who reaches the port can forge Raft messages.
      {"peer_auth", options_.peer_key ? "hmac-sha256" : "insecure"},
      {"admin_api", options_.admin_token ? "token" : "disabled"},
  };
  json members = json::array();
  for (const auto& [id, endpoint] : options_.members) {
    members.push_back({{"id", id}, {"address", endpoint.to_string()}});
  }
  body["members"] = std::move(members);
  respond(Response::json(200, body));
}

void RaftApi::metrics(Request, Respond respond) {
  const NodeStatus status = node_.status();
  update_node_metrics(metrics_, status);
  // Frames refused by authentication (peer_auth.h), boundary drops (peer_validator.h) and the
  // core's own (raft/validate.h): one family, summed per reason.
  std::map<std::string, uint64_t> rejected = frames_refused_;
  for (auto [reason, count] : validator_.counts()) {
    for (int v = 1; v < raft::kViolationCount; ++v) {
      if (reason == raft::to_string(static_cast<raft::Violation>(v))) {
        count += status.counters.messages_rejected[static_cast<size_t>(v)];
      }
    }
    rejected[reason] += count;
  }
  for (const auto& [reason, count] : rejected) {
    metrics_.set_counter(kPeerFramesRejectedName, kPeerFramesRejectedHelp, {{"reason", reason}},
                         count);
  }
  update_idempotency_metrics(metrics_, node_.state().idempotency_stats());
  if (transport_ != nullptr) {
    for (const auto& [peer, stats] : transport_->stats()) {
      const Labels labels = {{"peer", std::to_string(peer)}};
      metrics_.gauge("raft_peer_reachable", "1 if the peer answered our last request.", labels)
          .Set(stats.reachable ? 1 : 0);
      metrics_.set_counter("raft_peer_send_failures_total", "Peer requests that failed.", labels,
                           stats.send_failures);
      metrics_.set_counter("raft_peer_messages_sent_total", "Messages delivered to the peer.",
                           labels, stats.messages_sent);
      metrics_.set_counter("raft_peer_messages_dropped_total",
                           "Messages dropped by the queue bounds.", labels, stats.messages_dropped);
      metrics_.set_counter("raft_peer_heartbeats_superseded_total",
                           "Queued heartbeats replaced by a newer one before they were sent.",
                           labels, stats.heartbeats_superseded);
      metrics_.set_counter("raft_peer_bytes_sent_total", "Request body bytes delivered.", labels,
                           stats.bytes_sent);
    }
  }
  Response response;
  response.body = metrics_.render();
  response.content_type = Registry::kContentType;
  respond(std::move(response));
}

void RaftApi::health(Request, Respond respond) {
  const NodeStatus s = node_.status();
  respond(Response::json(200, {{"node_id", options_.self_id},
                               {"role", raft::to_string(s.core.soft.role)},
                               {"term", s.core.soft.term},
                               {"leader_id", id_or_null(s.core.soft.leader)},
                               {"leader", address_or_null(s.core.soft.leader)},
                               {"commit_index", s.core.hard.commit_index},
                               {"applied_index", s.core.applied_index}}));
}

void RaftApi::sync_status(Request, Respond respond) {
  const NodeStatus s = node_.status();
  if (s.core.soft.role != raft::Role::kLeader)
    return respond(not_leader(leader_fields(s.core.soft.leader)));
  const auto transport =
      transport_ != nullptr ? transport_->stats() : std::map<raft::NodeId, PeerStats>{};
  json followers = json::array();
  for (const raft::FollowerStatus& f : s.core.followers) {
    if (f.id == options_.self_id) continue;
    const auto contact = s.last_contact_ms.find(f.id);
    const int64_t contact_ms = contact == s.last_contact_ms.end() ? -1 : contact->second;
    const auto peer = transport.find(f.id);
    const bool reachable = peer == transport.end() || peer->second.reachable;
    const uint64_t lag = s.core.last_index > f.match_index ? s.core.last_index - f.match_index : 0;
    json entry = {
        {"id", f.id},
        {"address", address_of(f.id)},
        {"match_index", f.match_index},
        {"next_index", f.next_index},
        {"lag", lag},
        {"state",
         to_string(classify_follower(f, s.core.last_index, contact_ms, reachable, options_))},
        {"progress", raft::to_string(f.state)},
        {"last_contact_ms", contact_ms < 0 ? json(nullptr) : json(contact_ms)},
        {"reachable", reachable},
        {"inflight_appends", f.inflight_appends},
        {"failures", peer == transport.end() ? 0 : peer->second.send_failures},
        {"messages_dropped", peer == transport.end() ? 0 : peer->second.messages_dropped},
    };
    if (f.snapshot_index != 0) {
      entry["snapshot"] = {{"index", f.snapshot_index}, {"offset_bytes", f.snapshot_offset}};
    }
    followers.push_back(std::move(entry));
  }
  respond(Response::json(200, {{"leader_id", options_.self_id},
                               {"leader", address_of(options_.self_id)},
                               {"term", s.core.soft.term},
                               {"commit_index", s.core.hard.commit_index},
                               {"last_index", s.core.last_index},
                               {"followers", std::move(followers)}}));
}

void RaftApi::resync_stats(Request, Respond respond) {
  const NodeStatus s = node_.status();
  const raft::CoreCounters& c = s.counters;
  respond(Response::json(200, {{"snapshots_sent", c.snapshots_sent},
                               {"snapshots_received", c.snapshots_installed},
                               // Forced snapshots at or below our commit index (issue 13).
                               {"snapshots_reinstalled", c.snapshots_reinstalled},
                               {"snapshots_refused", c.snapshots_refused},
                               {"snapshots_installed", s.log.snapshots_installed},
                               {"snapshots_created", s.log.snapshots_committed},
                               {"snapshot_bytes_sent", c.snapshot_bytes_sent},
                               {"snapshot_bytes_received", c.snapshot_bytes_received},
                               {"forced_resyncs", forced_resyncs_},
                               {"failures", forced_resync_failures_},
                               {"current_snapshot", snapshot_json(s.snapshot)},
                               {"durations_ms", timings_json(s.snapshot_timings)}}));
}

void RaftApi::force_resync(Request request, Respond respond) {
  const auto target_text = request.query_param("target");
  if (!target_text || target_text->empty()) {
    return respond(Response::error(400, "bad_request", "missing ?target=HOST:PORT"));
  }
  std::string error;
  const auto endpoint = common::Endpoint::parse(*target_text, "127.0.0.1", &error);
  if (!endpoint) return respond(Response::error(400, "bad_request", "target: " + error));
  raft::NodeId target = raft::kNoNode;
  for (const auto& [id, member] : options_.members) {
    if (member == *endpoint) target = id;
  }
  if (target == raft::kNoNode) {
    return respond(Response::error(400, "unknown_target",
                                   endpoint->to_string() + " is not a member of this cluster"));
  }
  if (target == options_.self_id) {
    return respond(Response::error(400, "bad_request", "the target is this node (the leader)"));
  }
  node_.force_resync(target, [this, target, respond](raft::Status status) {
    asio::post(io_, [this, target, respond, status] {
      ++forced_resyncs_;
      if (status == raft::Status::kOk) {
        return respond(Response::json(202, {{"target_id", target},
                                            {"target", address_of(target)},
                                            {"status", "snapshot transfer started"}}));
      }
      ++forced_resync_failures_;
      if (status == raft::Status::kNotLeader) {
        return respond(not_leader(leader_fields(node_.status().core.soft.leader)));
      }
      Response response = Response::error(503, "resync_failed", raft::to_string(status));
      response.headers.emplace_back("Retry-After", "1");
      respond(std::move(response));
    });
  });
}

// Step 1 authenticates the frame (headers and MAC, before any byte of the body is parsed);
// step 2 decodes it and checks the parties (deliver_batch).
void RaftApi::peer_rpc(Request request, Respond respond) {
  const FrameVerdict verdict = authenticate_frame(
      peer_auth_, request.path, request.header(kPeerFromHeader), request.header(kPeerToHeader),
      request.header(kPeerMacHeader), request.body);
  if (!verdict.accepted()) {
    return reject_frame(*verdict.rejection, verdict.message, request, respond);
  }
  const Delivery delivery = deliver_batch(verdict.parties, request.body, request.path);
  respond(std::move(delivery.answer));
}

// Decodes an authenticated batch, checks that every message carries the authenticated parties,
// then validates the messages and hands the valid ones to the node (content validation belongs
// after the parties check). `ok` false: the whole batch was refused (counted).
RaftApi::Delivery RaftApi::deliver_batch(const FrameParties& parties, std::string_view body,
                                         const std::string& path) {
  std::string error;
  auto messages = decode_batch(body, &error);
  if (!messages) {
    validator_.reject(kRejectDecode, error);
    return {false, Response::error(400, "bad_batch", error)};
  }
  for (const raft::Message& m : *messages) {
    if (auto rejection = check_message_parties(parties, m.from, m.to)) {
      const std::string message = "a message from node " + std::to_string(m.from) + " to node " +
                                  std::to_string(m.to) + " inside a frame from node " +
                                  std::to_string(parties.from) + " to node " +
                                  std::to_string(parties.to);
      count_rejection(*rejection, message, path);
      return {false, Response::error(http_status(*rejection), reason_label(*rejection), message)};
    }
  }
  const size_t total = messages->size();
  const size_t dropped = validator_.filter(&*messages);
  if (!messages->empty()) node_.receive(std::move(*messages));
  if (dropped == 0) return {true, Response::no_content()};
  // The sender learns that something was wrong; the reasons are in the metric and the log.
  return {true, Response::error(400, "invalid_message",
                                std::to_string(dropped) + " of " + std::to_string(total) +
                                    " messages failed validation and were dropped",
                                {{"dropped", dropped}, {"delivered", total - dropped}})};
}

// The stream's upgrade (peer_stream.h) is itself a peer frame whose body is the client's nonce:
// authenticated like any other before the connection changes hands.
void RaftApi::peer_stream(Request request, Respond respond) {
  const std::string_view client_nonce = request.header(kStreamNonceHeader);
  if (request.header("Upgrade") != kPeerStreamProtocol || !is_stream_nonce(client_nonce)) {
    return respond(Response::error(400, "bad_upgrade",
                                   "expected Upgrade: " + std::string(kPeerStreamProtocol) +
                                       " and an " + std::string(kStreamNonceHeader) +
                                       " of 32 lowercase hex digits"));
  }
  const FrameVerdict verdict = authenticate_frame(
      peer_auth_, request.path, request.header(kPeerFromHeader), request.header(kPeerToHeader),
      request.header(kPeerMacHeader), client_nonce);
  if (!verdict.accepted()) {
    return reject_frame(*verdict.rejection, verdict.message, request, respond);
  }
  const std::string server_nonce = new_stream_nonce();
  Response response;
  response.status = 101;
  response.content_type.clear();
  response.headers = {{"Connection", "Upgrade"},
                      {"Upgrade", std::string(kPeerStreamProtocol)},
                      {std::string(kStreamNonceHeader), server_nonce}};
  response.take_over = [this, parties = verdict.parties,
                        id = stream_connection_id(client_nonce, server_nonce)](
                           std::shared_ptr<common::UpgradedConnection> connection) {
    streams_.accept(std::move(connection), parties, id);
  };
  respond(std::move(response));
}

void RaftApi::stop_streams() { streams_.stop(); }

void RaftApi::count_rejection(FrameRejection reason, const std::string& message,
                              std::string_view path) {
  const char* label = reason_label(reason);
  ++frames_refused_[label];
  if (const auto suppressed = rejection_log_.admit(reason, std::chrono::steady_clock::now())) {
    spdlog::warn("peer frame to {} rejected ({}): {}{}", path, label, message,
                 *suppressed == 0
                     ? std::string()
                     : fmt::format(" [{} more {} rejections in the last interval not logged]",
                                   *suppressed, label));
  }
}

void RaftApi::reject_frame(FrameRejection reason, const std::string& message,
                           const Request& request, const Respond& respond) {
  count_rejection(reason, message, request.path);
  respond(Response::error(http_status(reason), reason_label(reason), message));
}

void RaftApi::snapshot_meta(Request, Respond respond) {
  respond(Response::json(200, snapshot_json(node_.status().snapshot)));
}

}  // namespace stress_node
