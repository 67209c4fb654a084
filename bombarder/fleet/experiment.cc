#include "bombarder/fleet/experiment.h"

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

void only_members(const Json& step, const std::vector<std::string>& known,
                  const std::string& where) {
  for (const auto& [key, value] : step.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      invalid_input(where + ": unknown member \"" + key + "\"");
    }
  }
}

std::chrono::milliseconds duration_of(const Json& step, const char* name,
                                      std::chrono::milliseconds fallback,
                                      std::chrono::milliseconds max, const std::string& where) {
  auto it = step.find(name);
  if (it == step.end()) return fallback;
  std::chrono::milliseconds value{0};
  if (it->is_string()) {
    value = parse_duration(it->get<std::string>(), where + "." + name);
  } else if (it->is_number() && it->get<double>() >= 0) {
    value = parse_duration(std::to_string(it->get<double>()), where + "." + name);
  } else {
    invalid_input(where + "." + name + " must be a duration (\"2s\") or a number of seconds");
  }
  if (value.count() <= 0 || value > max) {
    invalid_input(where + "." + name + " must be above 0 and at most " + format_seconds(max));
  }
  return value;
}

size_t count_of(const Json& step, const char* name, size_t fallback, size_t max,
                const std::string& where) {
  auto it = step.find(name);
  if (it == step.end()) return fallback;
  if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > max) {
    invalid_input(where + "." + name + " must be a whole number in [1, " + std::to_string(max) +
                  "]");
  }
  return it->get<size_t>();
}

// The original form of a load step, {"duration", "concurrency", "value_bytes"}: a flood with
// those flags, short attempts (1 s, 3 s with retries) as it always ran, passing on one success.
LoadStep engine_form_load(const Json& step, const std::string& where) {
  only_members(step, {"kind", "duration", "concurrency", "value_bytes"}, where);
  const std::chrono::milliseconds duration =
      duration_of(step, "duration", std::chrono::milliseconds(5000), kLoadStepDurationMax, where);
  const size_t concurrency = count_of(step, "concurrency", 4, kLoadStepConcurrencyMax, where);
  const size_t value_bytes = count_of(step, "value_bytes", 64, 1 << 20, where);
  LoadStep load;
  load.command = "flood";
  load.args = {"--duration",    std::to_string(duration.count()) + "ms",
               "--concurrency", std::to_string(concurrency),
               "--value-bytes", std::to_string(value_bytes),
               "--timeout",     "1s",
               "--deadline",    "3s",
               "--min-success", "0"};
  load.engine_form = true;
  return load;
}

// {"kind": "load", "command": "storm", "args": ["--duration", "20s", "--check"]}.
LoadStep command_form_load(const Json& step, const std::string& where) {
  only_members(step, {"kind", "command", "args"}, where);
  const Json& command = step["command"];
  if (!command.is_string()) invalid_input(where + ".command must be flood, burst, mixed or storm");
  LoadStep load;
  load.command = command.get<std::string>();
  auto args = step.find("args");
  if (args == step.end()) return load;
  if (!args->is_array() || args->size() > kLoadStepArgsMax) {
    invalid_input(where + ".args must be an array of at most " + std::to_string(kLoadStepArgsMax) +
                  " strings (the command's flags)");
  }
  for (const Json& arg : *args) {
    if (!arg.is_string() || arg.get<std::string>().size() > kLoadStepArgBytesMax) {
      invalid_input(where + ".args must hold strings of at most " +
                    std::to_string(kLoadStepArgBytesMax) + " bytes, not " + arg.dump());
    }
    load.args.push_back(arg.get<std::string>());
  }
  return load;
}

LoadStep parse_load_step(const Json& step, const std::string& where) {
  LoadStep load =
      step.contains("command") ? command_form_load(step, where) : engine_form_load(step, where);
  try {
    load_commands().check(load);
  } catch (const Error& e) {
    invalid_input(where + ": " + e.what());
  }
  return load;
}

ExperimentStep parse_step(const Json& step, const std::string& where) {
  if (!step.is_object()) invalid_input(where + " is not an object");
  auto kind = step.find("kind");
  if (kind == step.end() || !kind->is_string()) {
    invalid_input(where + " needs \"kind\": fault, load, check or verify");
  }
  ExperimentStep out;
  if (*kind == "fault") {
    out.kind = StepKind::kFault;
    Json fault = step;
    fault.erase("kind");
    out.fault = parse_schedule(Json{{"faults", Json::array({fault})}}, where).front();
  } else if (*kind == "load") {
    out.kind = StepKind::kLoad;
    out.load = parse_load_step(step, where);
  } else if (*kind == "check") {
    out.kind = StepKind::kCheck;
    only_members(step, {"kind", "timeout"}, where);
    out.check.timeout =
        duration_of(step, "timeout", out.check.timeout, kCheckStepTimeoutMax, where);
  } else if (*kind == "verify") {
    out.kind = StepKind::kVerify;
    only_members(step, {"kind", "timeout", "deep"}, where);
    out.verify.timeout =
        duration_of(step, "timeout", out.verify.timeout, kVerifyStepTimeoutMax, where);
    auto deep = step.find("deep");
    if (deep != step.end() && !deep->is_boolean()) invalid_input(where + ".deep must be a boolean");
    out.verify.deep = deep != step.end() && deep->get<bool>();
  } else {
    invalid_input(where + ": kind must be fault, load, check or verify, not " + kind->dump());
  }
  return out;
}

}  // namespace

const char* to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kFault: return "fault";
    case StepKind::kLoad: return "load";
    case StepKind::kVerify: return "verify";
    case StepKind::kCheck: return "check";
  }
  return "unknown";
}

Experiment parse_experiment(const Json& body) {
  if (!body.is_object())
    invalid_input("an experiment is a JSON object with \"name\" and \"steps\"");
  only_members(body, {"name", "steps", "description"}, "experiment");
  auto name = body.find("name");
  if (name == body.end() || !name->is_string() || name->get<std::string>().empty() ||
      name->get<std::string>().size() > kExperimentNameBytesMax) {
    invalid_input("experiment.name must be a string of 1 to " +
                  std::to_string(kExperimentNameBytesMax) + " bytes");
  }
  auto steps = body.find("steps");
  if (steps == body.end() || !steps->is_array() || steps->empty()) {
    invalid_input("experiment.steps must be a non-empty array");
  }
  if (steps->size() > kExperimentStepsMax) {
    invalid_input("experiment.steps has " + std::to_string(steps->size()) + " steps; at most " +
                  std::to_string(kExperimentStepsMax));
  }
  Experiment out;
  out.name = name->get<std::string>();
  bool loaded = false;
  for (size_t i = 0; i < steps->size(); ++i) {
    const std::string where = "steps[" + std::to_string(i) + "]";
    out.steps.push_back(parse_step((*steps)[i], where));
    // A check step checks what the load steps before it recorded: without one it has nothing.
    if (out.steps.back().kind == StepKind::kCheck && !loaded) {
      invalid_input(where +
                    ": a check step checks the histories of the load steps before it; "
                    "there is none");
    }
    loaded = loaded || out.steps.back().kind == StepKind::kLoad;
  }
  return out;
}

}  // namespace bombarder
