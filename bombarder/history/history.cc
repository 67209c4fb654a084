#include "bombarder/history/history.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "bombarder/base/errors.h"

namespace bombarder {

using Json = nlohmann::json;

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kFail: return "fail";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

namespace {

void append_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_optional(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += "null";
  } else {
    append_string(out, text);
  }
}

std::optional<OpKind> op_kind_of(std::string_view text) {
  for (size_t k = 0; k < kOpKindCount; ++k) {
    if (text == to_string(static_cast<OpKind>(k))) return static_cast<OpKind>(k);
  }
  return std::nullopt;
}

std::optional<Outcome> outcome_of(std::string_view text) {
  for (const Outcome o : {Outcome::kOk, Outcome::kFail, Outcome::kUnknown}) {
    if (text == to_string(o)) return o;
  }
  return std::nullopt;
}

std::string text_field(const Json& object, const char* name, size_t line, bool required) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    if (required) throw HistoryError(line, std::string("missing \"") + name + "\"");
    return {};
  }
  if (!it->is_string()) throw HistoryError(line, std::string("\"") + name + "\" is not a string");
  return it->get<std::string>();
}

int64_t int_field(const Json& object, const char* name, size_t line) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_number_integer()) {
    throw HistoryError(line, std::string("missing or non-integer \"") + name + "\"");
  }
  return it->get<int64_t>();
}

// A list's page and, when ok, its entries (history.h).
void parse_list(const Json& j, size_t line, HistoryOp& op) {
  if (op.outcome == Outcome::kUnknown) throw HistoryError(line, "a list cannot be unknown");
  op.after = text_field(j, "after", line, false);
  if (const auto limit = j.find("limit"); limit != j.end() && !limit->is_null()) {
    if (!limit->is_number_unsigned() || limit->get<uint64_t>() == 0 ||
        limit->get<uint64_t>() > UINT32_MAX) {
      throw HistoryError(line, "\"limit\" is not a positive integer");
    }
    op.limit = limit->get<uint32_t>();
  }
  if (op.outcome != Outcome::kOk) return;
  const auto result = j.find("result");
  if (result == j.end() || !result->is_object() || !result->contains("entries") ||
      !(*result)["entries"].is_array()) {
    throw HistoryError(line, "an ok list without a \"result\" {\"entries\": [...]}");
  }
  for (const Json& entry : (*result)["entries"]) {
    if (!entry.is_object()) throw HistoryError(line, "a list entry is not an object");
    op.listed.push_back({text_field(entry, "id", line, true), text_field(entry, "key", line, true),
                         text_field(entry, "value", line, true)});
  }
}

HistoryOp parse_op(const Json& j, size_t line) {
  HistoryOp op;
  op.line = line;
  op.client = static_cast<uint64_t>(int_field(j, "client", line));
  const std::string kind = text_field(j, "op", line, true);
  const auto parsed_kind = op_kind_of(kind);
  if (!parsed_kind) throw HistoryError(line, "unknown op \"" + kind + "\"");
  op.kind = *parsed_kind;
  op.id = text_field(j, "id", line, false);
  op.key = text_field(j, "key", line, false);
  op.value = text_field(j, "value", line, false);
  op.invoke_ns = int_field(j, "invoke_ns", line);
  const std::string outcome = text_field(j, "outcome", line, true);
  const auto parsed_outcome = outcome_of(outcome);
  if (!parsed_outcome) throw HistoryError(line, "unknown outcome \"" + outcome + "\"");
  op.outcome = *parsed_outcome;
  const auto complete = j.find("complete_ns");
  if (complete != j.end() && complete->is_number_integer()) {
    op.complete_ns = complete->get<int64_t>();
  } else if (op.outcome == Outcome::kUnknown && (complete == j.end() || complete->is_null())) {
    op.complete_ns = std::numeric_limits<int64_t>::max();
  } else {
    throw HistoryError(line, "missing or non-integer \"complete_ns\"");
  }
  if (op.complete_ns < op.invoke_ns) throw HistoryError(line, "complete_ns before invoke_ns");
  if (const auto status = j.find("status"); status != j.end() && status->is_number_integer()) {
    op.status = status->get<int>();
  }
  if (const auto a = j.find("attempts"); a != j.end() && a->is_number_unsigned()) {
    op.attempts = a->get<uint32_t>();
  }
  op.error = text_field(j, "error", line, false);
  if (op.kind == OpKind::kList) {
    parse_list(j, line, op);
    return op;
  }
  if (op.outcome == Outcome::kOk) {
    if (op.id.empty()) throw HistoryError(line, "an ok operation without an \"id\"");
    if (op.kind == OpKind::kRead) {
      const auto result = j.find("result");
      if (result == j.end() || !result->is_object()) {
        throw HistoryError(line, "an ok read without a \"result\" object");
      }
      if (result->contains("absent") && (*result)["absent"] == true) {
        op.read_absent = true;
      } else {
        op.read_value = text_field(*result, "value", line, true);
      }
    }
  } else if (op.kind != OpKind::kCreate && op.id.empty()) {
    throw HistoryError(line, std::string("a ") + kind + " without an \"id\"");
  }
  return op;
}

}  // namespace

void append_history_line(std::string& out, const HistoryOp& op) {
  out += "{\"type\":\"op\",\"client\":";
  out += std::to_string(op.client);
  out += ",\"op\":\"";
  out += to_string(op.kind);
  out += "\",\"id\":";
  append_optional(out, op.id);
  out += ",\"key\":";
  append_optional(out, op.key);
  out += ",\"value\":";
  append_optional(out, op.value);
  if (op.kind == OpKind::kList) {
    out += ",\"after\":";
    append_optional(out, op.after);
    out += ",\"limit\":";
    out += op.limit > 0 ? std::to_string(op.limit) : "null";
  }
  out += ",\"invoke_ns\":";
  out += std::to_string(op.invoke_ns);
  out += ",\"complete_ns\":";
  out += std::to_string(op.complete_ns);
  out += ",\"outcome\":\"";
  out += to_string(op.outcome);
  out += "\",\"result\":{";
  if (op.outcome == Outcome::kOk) {
    if (op.kind == OpKind::kCreate) {
      out += "\"id\":";
      append_string(out, op.id);
    } else if (op.kind == OpKind::kRead) {
      if (op.read_absent) {
        out += "\"absent\":true";
      } else {
        out += "\"value\":";
        append_string(out, op.read_value);
      }
    } else if (op.kind == OpKind::kList) {
      out += "\"entries\":[";
      for (size_t i = 0; i < op.listed.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += "{\"id\":";
        append_string(out, op.listed[i].id);
        out += ",\"key\":";
        append_string(out, op.listed[i].key);
        out += ",\"value\":";
        append_string(out, op.listed[i].value);
        out.push_back('}');
      }
      out.push_back(']');
    }
  }
  out += "},\"status\":";
  out += std::to_string(op.status);
  out += ",\"attempts\":";
  out += std::to_string(op.attempts);
  if (!op.error.empty()) {
    out += ",\"error\":";
    append_string(out, op.error);
  }
  out += "}\n";
}

void append_history_line(std::string& out, const HistoryFault& fault) {
  out += "{\"type\":\"fault\",\"action\":";
  append_string(out, fault.action);
  out += ",\"node\":";
  out += std::to_string(fault.node);
  out += ",\"address\":";
  append_string(out, fault.address);
  out += ",\"at_ns\":";
  out += std::to_string(fault.at_ns);
  out += ",\"detail\":";
  append_string(out, fault.detail);
  out += "}\n";
}

void append_history_line(std::string& out, const HistoryRole& role) {
  out += "{\"type\":\"role\",\"node\":";
  out += std::to_string(role.node);
  out += ",\"address\":";
  append_string(out, role.address);
  out += ",\"at_ns\":";
  out += std::to_string(role.at_ns);
  out += ",\"role\":";
  append_string(out, role.role);
  out += ",\"term\":";
  out += role.term ? std::to_string(*role.term) : "null";
  out += "}\n";
}

History parse_history(std::istream& in) {
  History history;
  std::string text;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw HistoryError(line, "not a JSON object");
    const std::string type = text_field(j, "type", line, true);
    if (type == "op") {
      history.ops.push_back(parse_op(j, line));
    } else if (type == "fault") {
      HistoryFault fault;
      fault.action = text_field(j, "action", line, true);
      fault.node = static_cast<uint64_t>(int_field(j, "node", line));
      fault.address = text_field(j, "address", line, false);
      fault.at_ns = int_field(j, "at_ns", line);
      fault.detail = text_field(j, "detail", line, false);
      history.faults.push_back(std::move(fault));
    } else if (type == "role") {
      HistoryRole role;
      role.node = static_cast<uint64_t>(int_field(j, "node", line));
      role.address = text_field(j, "address", line, false);
      role.at_ns = int_field(j, "at_ns", line);
      role.role = text_field(j, "role", line, true);
      if (const auto term = j.find("term"); term != j.end() && !term->is_null()) {
        if (!term->is_number_unsigned()) throw HistoryError(line, "\"term\" is not a number");
        role.term = term->get<uint64_t>();
      }
      history.roles.push_back(std::move(role));
    } else {
      throw HistoryError(line, "unknown type \"" + type + "\"");
    }
  }
  if (in.bad()) throw HistoryError(0, "read error");
  return history;
}

History read_history(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw HistoryError(0, "cannot read " + path.string() + ": " + std::strerror(errno));
  return parse_history(in);
}

History load_history(const std::filesystem::path& path) {
  try {
    return read_history(path);
  } catch (const HistoryError& e) {
    environment_failure(e.line() > 0
                            ? path.string() + ": line " + std::to_string(e.line()) + ": " + e.what()
                            : std::string(e.what()));
  }
}

HistoryWriter::HistoryWriter(const std::filesystem::path& path)
    : path_(path), origin_(Clock::now()) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    environment_failure("cannot write " + path.string() + ": " + std::strerror(errno));
  }
}

HistoryWriter::~HistoryWriter() { close(); }

uint64_t HistoryWriter::allocate_clients(size_t count) {
  std::lock_guard lock(mutex_);
  const uint64_t first = next_client_;
  next_client_ += count;
  return first;
}

void HistoryWriter::write(std::string_view lines) {
  if (lines.empty()) return;
  std::lock_guard lock(mutex_);
  if (file_ != nullptr) std::fwrite(lines.data(), 1, lines.size(), file_);
}

void HistoryWriter::fault(const std::string& action, uint64_t node, const std::string& address,
                          const std::string& detail) {
  HistoryFault f{action, node, address, ns_since_origin(Clock::now()), detail};
  std::string line;
  append_history_line(line, f);
  write(line);
}

void HistoryWriter::close() {
  std::lock_guard lock(mutex_);
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
}

}  // namespace bombarder
