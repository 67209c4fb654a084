#include "bombarder/proxy/toxic.h"

#include <map>
#include <optional>
#include <string>

namespace bombarder::proxy {

namespace {

std::optional<Kind> kind_of(const std::string& type) {
  static const std::map<std::string, Kind> kinds = {
      {"latency", Kind::Latency},      {"bandwidth", Kind::Bandwidth},
      {"slow_close", Kind::SlowClose}, {"timeout", Kind::Timeout},
      {"reset_peer", Kind::ResetPeer}, {"slicer", Kind::Slicer},
      {"limit_data", Kind::LimitData}, {"packet_loss", Kind::PacketLoss}};
  auto it = kinds.find(type);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

// Reads a non-negative integer attribute if present (Go would refuse a string or a fraction).
void read_int(const json& attrs, const char* key, int64_t& out) {
  if (!attrs.contains(key)) return;
  const json& v = attrs.at(key);
  if (!v.is_number_integer()) bad_body(std::string("attribute '") + key + "' must be an integer");
  int64_t value = v.get<int64_t>();
  if (value < 0) bad_body(std::string("attribute '") + key + "' must not be negative");
  out = value;
}

void read_probability(const json& attrs, const char* key, double& out) {
  if (!attrs.contains(key)) return;
  const json& v = attrs.at(key);
  if (!v.is_number()) bad_body(std::string("attribute '") + key + "' must be a number");
  double value = v.get<double>();
  if (!(value >= 0.0 && value <= 1.0)) {
    bad_body(std::string("attribute '") + key + "' must be between 0 and 1");
  }
  out = value;
}

}  // namespace

json Toxic::attributes() const {
  switch (kind) {
    case Kind::Latency: return {{"latency", latency}, {"jitter", jitter}};
    case Kind::Bandwidth: return {{"rate", rate}};
    case Kind::SlowClose: return {{"delay", delay}};
    case Kind::Timeout: return {{"timeout", timeout}};
    case Kind::ResetPeer: return {{"timeout", timeout}};
    case Kind::Slicer:
      return {{"average_size", average_size}, {"size_variation", size_variation}, {"delay", delay}};
    case Kind::LimitData: return {{"bytes", bytes}};
    case Kind::PacketLoss: return {{"probability", probability}, {"correlation", correlation}};
  }
  return json::object();
}

json Toxic::to_json() const {
  return {{"name", name},
          {"type", type},
          {"stream", stream_name(direction)},
          {"toxicity", toxicity},
          {"attributes", attributes()}};
}

const char* stream_name(Direction direction) {
  return direction == kUpstream ? "upstream" : "downstream";
}

Toxic toxic_from_body(const json& body) {
  if (!body.is_object()) bad_body("expected a JSON object");
  Toxic t;
  std::string stream = string_field(body, "stream", "downstream");
  if (stream == "upstream") {
    t.direction = kUpstream;
  } else if (stream == "downstream") {
    t.direction = kDownstream;
  } else {
    throw ApiError("stream was invalid, can be either upstream or downstream", 400);
  }
  t.type = string_field(body, "type", "");
  t.name = string_field(body, "name", "");
  if (t.name.empty()) t.name = t.type + "_" + stream;
  read_toxicity(body, t.toxicity);
  auto kind = kind_of(t.type);
  if (!kind) throw ApiError("invalid toxic type", 400);
  t.kind = *kind;
  return t;
}

void apply_attributes(Toxic& t, const json& attrs) {
  if (attrs.is_null()) return;
  if (!attrs.is_object()) bad_body("'attributes' must be an object");
  switch (t.kind) {
    case Kind::Latency:
      read_int(attrs, "latency", t.latency);
      read_int(attrs, "jitter", t.jitter);
      break;
    case Kind::Bandwidth: read_int(attrs, "rate", t.rate); break;
    case Kind::SlowClose: read_int(attrs, "delay", t.delay); break;
    case Kind::Timeout:
    case Kind::ResetPeer: read_int(attrs, "timeout", t.timeout); break;
    case Kind::Slicer:
      read_int(attrs, "average_size", t.average_size);
      read_int(attrs, "size_variation", t.size_variation);
      read_int(attrs, "delay", t.delay);
      if (t.average_size > 0 && t.size_variation >= t.average_size) {
        bad_body("slicer: size_variation must be smaller than average_size");
      }
      break;
    case Kind::LimitData: read_int(attrs, "bytes", t.bytes); break;
    case Kind::PacketLoss:
      read_probability(attrs, "probability", t.probability);
      read_probability(attrs, "correlation", t.correlation);
      break;
  }
}

void read_toxicity(const json& body, double& out) {
  if (!body.contains("toxicity")) return;
  const json& v = body.at("toxicity");
  if (!v.is_number()) bad_body("'toxicity' must be a number");
  double value = v.get<double>();
  if (!(value >= 0.0 && value <= 1.0)) bad_body("'toxicity' must be between 0 and 1");
  out = value;
}

}  // namespace bombarder::proxy
