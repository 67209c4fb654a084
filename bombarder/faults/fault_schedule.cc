#include "bombarder/faults/fault_schedule.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "bombarder/base/errors.h"
#include "common/duration.h"

namespace bombarder {

using Json = nlohmann::json;

const char* to_string(FaultType type) {
  switch (type) {
    case FaultType::kKill: return "kill";
    case FaultType::kPause: return "pause";
    case FaultType::kMemory: return "memory";
    case FaultType::kDisk: return "disk";
    case FaultType::kCpu: return "cpu";
    case FaultType::kNetwork: return "network";
  }
  return "?";
}

std::string Fault::describe() const {
  std::string out = std::string(to_string(type)) + " node " + node;
  switch (type) {
    case FaultType::kKill:
      out += std::string(" (SIG") + signal_name(signal) + ") at " + format_seconds(at) +
             (duration.count() > 0 ? ", down for " + format_seconds(duration)
                                   : ", down until the run ends");
      return out;
    case FaultType::kPause: break;
    case FaultType::kMemory: out += " (" + std::to_string(mib) + " MiB)"; break;
    case FaultType::kDisk: out += " (" + std::to_string(mib) + " MiB/s fsynced)"; break;
    case FaultType::kCpu: out += " (" + std::to_string(workers) + " busy threads)"; break;
    case FaultType::kNetwork:
      out = "network proxy " + node + " (" + toxic + " " + stream + " " + attributes.dump() + ")";
      break;
  }
  return out + " at " + format_seconds(at) + " for " + format_seconds(duration);
}

void validate_fault(const Fault& f, const std::string& where) {
  if (f.node.empty()) invalid_input(where + ": a fault needs a node");
  if (f.type != FaultType::kKill && f.duration.count() <= 0) {
    invalid_input(where + ": a " + to_string(f.type) + " fault needs a positive duration");
  }
  if ((f.type == FaultType::kMemory || f.type == FaultType::kDisk) &&
      (f.mib < 1 || f.mib > kStressMibMax)) {
    invalid_input(where + ": " + (f.type == FaultType::kMemory ? "mib" : "mib_per_s") +
                  " must be in [1, " + std::to_string(kStressMibMax) + "]");
  }
  if (f.type == FaultType::kNetwork) {
    if (f.toxic.empty()) invalid_input(where + ": a network fault needs a toxic (latency, ...)");
    if (f.stream != "downstream" && f.stream != "upstream") {
      invalid_input(where + ": stream must be downstream or upstream");
    }
    if (!(f.toxicity >= 0 && f.toxicity <= 1))
      invalid_input(where + ": toxicity must be in [0, 1]");
    if (!f.attributes.is_object()) invalid_input(where + ": attributes must be an object");
  }
  if (f.type == FaultType::kCpu && (f.workers < 1 || f.workers > kCpuWorkersMax)) {
    invalid_input(where + ": workers must be in [1, " + std::to_string(kCpuWorkersMax) + "]");
  }
}

namespace {

FaultType parse_type(const std::string& text, const std::string& where) {
  for (FaultType t : {FaultType::kKill, FaultType::kPause, FaultType::kMemory, FaultType::kDisk,
                      FaultType::kCpu, FaultType::kNetwork}) {
    if (text == to_string(t)) return t;
  }
  invalid_input(where + ": type must be kill, pause, memory, disk, cpu or network, not '" + text +
                "'");
}

// A count member (`fallback` when absent): a whole number >= 0. nlohmann's get<uint64_t>() would
// convert a fraction or a negative silently, and a double out of range is undefined behaviour.
uint64_t count_member(const Json& fault, const char* name, uint64_t fallback,
                      const std::string& where) {
  const auto it = fault.find(name);
  if (it == fault.end()) return fallback;
  if (!it->is_number_unsigned()) {
    invalid_input(where + ": " + name + " must be a whole number >= 0, not " + it->dump());
  }
  return it->get<uint64_t>();
}

std::chrono::milliseconds duration_member(const Json& fault, const char* name,
                                          const std::string& where) {
  if (!fault.contains(name)) return std::chrono::milliseconds(0);
  const Json& v = fault[name];
  if (v.is_number()) return parse_duration(std::to_string(v.get<double>()), where + "." + name);
  if (v.is_string()) return parse_duration(v.get<std::string>(), where + "." + name);
  invalid_input(where + "." + name + " must be a duration string or a number of seconds");
}

}  // namespace

std::vector<Fault> parse_schedule(const Json& body, const std::string& source) {
  if (!body.is_object() || !body.contains("faults") || !body["faults"].is_array()) {
    invalid_input(source + ": a schedule is an object with a \"faults\" array");
  }
  const Json& faults = body["faults"];
  if (faults.empty() || faults.size() > kFaultsMax) {
    invalid_input(source + ": between 1 and " + std::to_string(kFaultsMax) + " faults");
  }
  std::vector<Fault> out;
  for (size_t i = 0; i < faults.size(); ++i) {
    const Json& j = faults[i];
    const std::string where = source + ": faults[" + std::to_string(i) + "]";
    if (!j.is_object()) invalid_input(where + " is not an object");
    static const std::vector<std::string> kKnown = {
        "type",      "node",    "at",    "duration", "down_for", "signal",    "mib",
        "mib_per_s", "workers", "toxic", "stream",   "toxicity", "attributes"};
    for (const auto& [key, value] : j.items()) {
      if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
        invalid_input(where + ": unknown member \"" + key + "\"");
      }
    }
    try {
      Fault f;
      f.type = parse_type(j.at("type").get<std::string>(), where);
      const Json& node = j.at("node");
      f.node = node.is_number() ? std::to_string(count_member(j, "node", 0, where))
                                : node.get<std::string>();
      f.at = duration_member(j, "at", where);
      f.duration = duration_member(j, f.type == FaultType::kKill ? "down_for" : "duration", where);
      if (j.contains("signal")) {
        const std::string s = j["signal"].get<std::string>();
        if (s == "TERM" || s == "SIGTERM") {
          f.signal = KillSignal::kTerm;
        } else if (s != "KILL" && s != "SIGKILL") {
          invalid_input(where + ": signal must be TERM or KILL, not '" + s + "'");
        }
      }
      f.mib = count_member(j, f.type == FaultType::kDisk ? "mib_per_s" : "mib", 0, where);
      // Clamped before narrowing, so that validate_fault sees a value past the bound as such.
      f.workers = static_cast<uint32_t>(
          std::min<uint64_t>(count_member(j, "workers", 1, where), kCpuWorkersMax + 1));
      f.toxic = j.value("toxic", std::string());
      f.stream = j.value("stream", std::string("downstream"));
      f.toxicity = j.value("toxicity", 1.0);
      if (j.contains("attributes")) f.attributes = j["attributes"];
      validate_fault(f, where);
      out.push_back(std::move(f));
    } catch (const Json::exception& e) {
      invalid_input(where + ": " + e.what());
    }
  }
  return out;
}

std::vector<Fault> read_schedule_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) invalid_input("--schedule: cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_schedule_text(
      text.str(), path.extension() == ".toml" ? ScheduleFormat::kToml : ScheduleFormat::kJson,
      path.string());
}

std::vector<Fault> parse_schedule_text(std::string_view text, ScheduleFormat format,
                                       const std::string& source) {
  if (format == ScheduleFormat::kToml) {
    // TOML ([[faults]] tables with the same keys) through toml++, turned into the JSON form so
    // that one parser checks both.
    toml::table table;
    try {
      table = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
      const auto& at = e.source().begin;
      invalid_input("--schedule: " + source + ":" + std::to_string(at.line) + ":" +
                    std::to_string(at.column) + ": " + std::string(e.description()));
    }
    std::ostringstream json;
    json << toml::json_formatter{table};
    return parse_schedule(Json::parse(json.str()), source);
  }
  const Json body = Json::parse(text, nullptr, false);
  if (body.is_discarded()) invalid_input("--schedule: " + source + " is not valid JSON");
  return parse_schedule(body, source);
}

}  // namespace bombarder
