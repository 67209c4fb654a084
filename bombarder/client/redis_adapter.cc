#include "bombarder/client/redis_adapter.h"

#include <array>
#include <future>
#include <stdexcept>

namespace bombarder {

namespace {

StoreAnswer answer_of(AnswerClass answer, std::string problem) {
  StoreAnswer a;
  a.answer = answer;
  a.problem = std::move(problem);
  return a;
}

StoreAnswer unexpected(const StoreRequest& r, const RespReply& reply) {
  return answer_of(AnswerClass::kBadResponse,
                   std::string(to_string(r.kind)) + ": unexpected reply " + reply.describe());
}

StoreAnswer create_answer(const StoreRequest& r, const RespReply& reply) {
  StoreAnswer a;
  if (reply.type == RespReply::Type::kNil) {  // SET NX GET: nothing was there, now it is
    a.id = std::string(r.key);
    return a;
  }
  if (reply.type != RespReply::Type::kString) return unexpected(r, reply);
  if (r.maybe_applied && reply.text == r.value) {
    a.id = std::string(r.key);  // an earlier attempt of this create was applied
    return a;
  }
  return answer_of(AnswerClass::kExists, "create: key " + std::string(r.key) + " exists");
}

StoreAnswer delete_answer(const StoreRequest& r, const RespReply& reply) {
  if (reply.type != RespReply::Type::kInteger) return unexpected(r, reply);
  if (reply.integer > 0) return {};
  if (r.maybe_applied) {
    return answer_of(AnswerClass::kOutcomeUnknown,
                     "delete found key " + std::string(r.id) +
                         " absent after an attempt that may have deleted it");
  }
  return answer_of(AnswerClass::kAbsent, "delete: key " + std::string(r.id) + " absent");
}

StoreAnswer value_answer(const StoreRequest& r, const RespReply& reply) {
  const bool nil = reply.type == RespReply::Type::kNil;
  if (!nil && reply.type != RespReply::Type::kString) return unexpected(r, reply);
  StoreAnswer a;
  if (r.kind == OpKind::kList) {
    if (!nil) a.listed.push_back({std::string(r.key), std::string(r.key), reply.text});
    return a;
  }
  if (nil) return answer_of(AnswerClass::kAbsent, "read: key " + std::string(r.id) + " absent");
  a.value = reply.text;
  return a;
}

std::string field_or(const std::string& info, std::string_view name, std::string fallback) {
  return info_field(info, name).value_or(std::move(fallback));
}

uint64_t offset_field(const std::string& info, std::string_view name) {
  const auto text = info_field(info, name);
  if (!text) throw std::invalid_argument("no " + std::string(name) + " in INFO replication");
  return std::stoull(*text);
}

}  // namespace

bool is_redis_unavailable_error(std::string_view code) {
  static constexpr std::array<std::string_view, 6> kCodes = {"READONLY", "LOADING", "MASTERDOWN",
                                                             "TRYAGAIN", "BUSY",    "NOREPLICAS"};
  for (std::string_view c : kCodes) {
    if (code == c) return true;
  }
  return false;
}

void RedisAdapter::format_request(const StoreRequest& r, std::string_view /*host*/,
                                  std::string& wire) const {
  const std::string_view read_command = options_.read_from_replicas ? "GET" : "GETEX";
  switch (r.kind) {
    case OpKind::kCreate: append_resp_command(wire, {"SET", r.key, r.value, "NX", "GET"}); break;
    case OpKind::kUpdate: append_resp_command(wire, {"SET", r.id, r.value, "XX"}); break;
    case OpKind::kRead: append_resp_command(wire, {read_command, r.id}); break;
    case OpKind::kDelete: append_resp_command(wire, {"DEL", r.id}); break;
    case OpKind::kList: append_resp_command(wire, {read_command, r.key}); break;
  }
}

StoreAnswer RedisAdapter::classify(const StoreRequest& r, int /*status*/,
                                   const std::string& body) const {
  std::string why;
  const std::optional<RespReply> reply = parse_resp(body, &why);
  if (!reply) return answer_of(AnswerClass::kBadResponse, "not a RESP reply: " + why);
  if (reply->is_error()) {
    const bool unavailable = is_redis_unavailable_error(reply->error_code());
    return answer_of(unavailable ? AnswerClass::kUnavailable : AnswerClass::kClientError,
                     reply->describe());
  }
  switch (r.kind) {
    case OpKind::kCreate: return create_answer(r, *reply);
    case OpKind::kUpdate:
      if (reply->type == RespReply::Type::kStatus && reply->text == "OK") return {};
      if (reply->type == RespReply::Type::kNil) {
        return answer_of(AnswerClass::kAbsent, "update: key " + std::string(r.id) + " absent");
      }
      return unexpected(r, *reply);
    case OpKind::kDelete: return delete_answer(r, *reply);
    case OpKind::kRead:
    case OpKind::kList: return value_answer(r, *reply);
  }
  return unexpected(r, *reply);
}

int RedisAdapter::answer_status(int status, const std::string& body) const {
  // An error reply starts with '-' and its code runs to the first space (RESP2).
  if (body.empty() || body[0] != '-') return status;
  const size_t end = body.find_first_of(" \r", 1);
  return is_redis_unavailable_error(std::string_view(body).substr(1, end - 1)) ? 503 : 400;
}

StatusResponse RedisAdapter::status_from(const common::Endpoint& node, size_t index,
                                         const std::string& info) {
  const auto role = info_field(info, "role");
  if (!role || (*role != "master" && *role != "slave")) {
    throw std::invalid_argument("no role:master or role:slave in INFO replication");
  }
  StatusResponse s;
  s.node_id = index;
  s.address = node.to_string();
  if (*role == "master") {
    s.role = "leader";
    s.leader = s.address;
    s.leader_id = index;
    s.applied_index = offset_field(info, "master_repl_offset");
  } else {
    s.role = "follower";
    if (field_or(info, "master_link_status", "down") == "up") {
      s.leader = field_or(info, "master_host", "?") + ":" + field_or(info, "master_port", "?");
    }
    s.applied_index = offset_field(info, "slave_repl_offset");
  }
  s.commit_index = s.applied_index;
  s.last_index = s.applied_index;
  return s;
}

void RedisAdapter::link_leaders(std::vector<NodeStatusAnswer>& statuses,
                                const std::vector<std::string>& replids) {
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (!statuses[i].status || statuses[i].status->role != "follower") continue;
    if (statuses[i].status->leader.empty()) continue;  // its link is down
    for (size_t p = 0; p < statuses.size(); ++p) {
      if (statuses[p].status && statuses[p].status->role == "leader" && replids[p] == replids[i]) {
        statuses[i].status->leader = statuses[p].status->address;
        statuses[i].status->leader_id = statuses[p].status->node_id;
      }
    }
  }
}

std::vector<NodeStatusAnswer> RedisAdapter::node_statuses(
    ApiClient& /*client*/, const std::vector<common::Endpoint>& nodes,
    std::chrono::milliseconds timeout) const {
  // All nodes at once: an unreachable one costs its timeout once, not once per node.
  std::vector<std::future<std::pair<NodeStatusAnswer, std::string>>> asks;
  for (size_t i = 0; i < nodes.size(); ++i) {
    asks.push_back(std::async(std::launch::async, [&nodes, i, timeout] {
      std::pair<NodeStatusAnswer, std::string> out;
      RedisSession session(nodes[i], timeout);
      const std::optional<RespReply> info = session.command({"INFO", "replication"});
      if (!info) {
        out.first.error = "no Redis reply: " + session.error();
      } else if (info->type != RespReply::Type::kString) {
        out.first.error = "INFO replication answered " + info->describe();
      } else {
        try {
          out.first.status = status_from(nodes[i], i, info->text);
          out.second = info_field(info->text, "master_replid").value_or("");
        } catch (const std::exception& e) {
          out.first.error = std::string("not a Redis node's INFO replication: ") + e.what();
        }
      }
      return out;
    }));
  }
  std::vector<NodeStatusAnswer> out;
  std::vector<std::string> replids;
  for (auto& ask : asks) {
    auto [answer, replid] = ask.get();
    out.push_back(std::move(answer));
    replids.push_back(std::move(replid));
  }
  for (NodeStatusAnswer& a : out) {
    if (!a.status) continue;
    for (const common::Endpoint& node : nodes) a.status->members.push_back(node.to_string());
  }
  link_leaders(out, replids);
  return out;
}

}  // namespace bombarder
