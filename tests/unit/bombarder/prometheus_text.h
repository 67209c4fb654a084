// A strict reader of Prometheus text format 0.0.4 for tests: every sample's family must have been
// declared by # HELP and # TYPE before it, no series may appear twice, every value must parse.
// Shared by the unit tests of load_metrics.h and the integration tests that scrape a live
// bombarder.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace prometheus_text {

struct Parsed {
  std::map<std::string, double> samples;     // "name{labels as written}" -> value
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram|...
  std::vector<std::string> problems;         // empty when the text is well-formed

  // The value of a series, written as in the text (`name` or `name{a="x",b="y"}`).
  [[nodiscard]] std::optional<double> get(const std::string& series) const {
    const auto it = samples.find(series);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
  // The sum over every series of `name` whose labels contain each of `label_parts`
  // (`op="create"`), e.g. sum("bombarder_requests_total", {"outcome=\"ok\""}).
  [[nodiscard]] double sum(const std::string& name,
                           const std::vector<std::string>& label_parts = {}) const {
    double total = 0;
    for (const auto& [series, value] : samples) {
      if (series != name && !series.starts_with(name + "{")) continue;
      bool all = true;
      for (const std::string& part : label_parts)
        all = all && series.find(part) != std::string::npos;
      if (all) total += value;
    }
    return total;
  }
  // How many series `name` has.
  [[nodiscard]] size_t count(const std::string& name) const {
    size_t n = 0;
    for (const auto& [series, value] : samples) {
      if (series == name || series.starts_with(name + "{")) ++n;
    }
    return n;
  }
};

inline Parsed parse(const std::string& text) {
  Parsed out;
  std::set<std::string> helped;
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$)");
  std::istringstream in(text);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    std::smatch m;
    if (line.starts_with("#")) {
      if (!std::regex_match(line, m, kComment)) {
        out.problems.push_back("line " + std::to_string(number) + ": bad comment: " + line);
      } else if (m[1] == "HELP") {
        helped.insert(m[2]);
      } else {
        out.types[m[2]] = m[3];
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      out.problems.push_back("line " + std::to_string(number) + ": bad sample: " + line);
      continue;
    }
    const std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (!out.types.contains(family) && name.ends_with(s)) {
        const std::string base = name.substr(0, name.size() - s.size());
        if (out.types.contains(base) && out.types[base] == "histogram") family = base;
      }
    }
    if (!out.types.contains(family) || !helped.contains(family)) {
      out.problems.push_back("line " + std::to_string(number) + ": " + name +
                             " has no # HELP and # TYPE before it");
    }
    const std::string series = name + std::string(m[2]);
    const std::string value = m[3];
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (value == "+Inf") {
      v = HUGE_VAL;
    } else if (end == value.c_str() || *end != '\0') {
      out.problems.push_back("line " + std::to_string(number) + ": bad value " + value);
    }
    if (!out.samples.emplace(series, v).second) {
      out.problems.push_back("line " + std::to_string(number) + ": duplicate series " + series);
    }
  }
  return out;
}

}  // namespace prometheus_text
