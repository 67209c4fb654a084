#include "bombarder/faults/fault_action.h"

#include <nlohmann/json.hpp>

#include "bombarder/base/errors.h"
#include "bombarder/client/api_client.h"

namespace bombarder {

namespace {

constexpr std::chrono::milliseconds kProxyTimeout{5000};

ActionResult add_toxic(const common::Endpoint& api, const AppliedFault& f) {
  const nlohmann::json body = {{"name", f.toxic_name},
                               {"type", f.fault.toxic},
                               {"stream", f.fault.stream},
                               {"toxicity", f.fault.toxicity},
                               {"attributes", f.fault.attributes}};
  ApiClient client(ApiClient::Transport::kPlain);
  const ApiResponse r =
      client.call(api, boost::beast::http::verb::post, "/proxies/" + f.fault.node + "/toxics",
                  body.dump(), kProxyTimeout);
  return {r.status == 200, "toxic " + f.toxic_name + " on " + api.to_string() + ": " +
                               (r.status == 200 ? std::string("added") : r.describe())};
}

ActionResult delete_toxic(const common::Endpoint& api, const AppliedFault& f) {
  ApiClient client(ApiClient::Transport::kPlain);
  const ApiResponse r =
      client.call(api, boost::beast::http::verb::delete_,
                  "/proxies/" + f.fault.node + "/toxics/" + f.toxic_name, {}, kProxyTimeout);
  return {r.status == 204, "toxic " + f.toxic_name + ": " +
                               (r.status == 204 ? std::string("deleted") : r.describe())};
}

ActionResult start_stress(FaultPlugin& plugin, AppliedFault& f) {
  try {
    const std::optional<std::filesystem::path> dir = plugin.local_data_dir(f.node);
    if (f.fault.type == FaultType::kDisk && !dir) {
      return {false, "node " + f.node + " has no local data directory for disk stress"};
    }
    f.helper = start_stress_helper(f.fault, dir.value_or(std::filesystem::path()),
                                   f.helper_output_to_stderr);
    return {true, "helper pid " + std::to_string(f.helper.pid) +
                      (f.fault.type == FaultType::kDisk ? " writing into " + dir->string() : "")};
  } catch (const Error& e) {
    return {false, e.what()};
  }
}

}  // namespace

std::string resolve_fault_node(FaultPlugin& plugin, const Fault& fault) {
  // A network fault's node is a proxy name, not the plugin's.
  return fault.type == FaultType::kNetwork ? fault.node : plugin.resolve(fault.node);
}

ActionResult apply_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api, AppliedFault& f) {
  try {
    f.node = resolve_fault_node(plugin, f.fault);
  } catch (const Error& e) {
    return {false, e.what()};
  }
  return apply_resolved_fault(plugin, proxy_api, f);
}

ActionResult apply_resolved_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api,
                                  AppliedFault& f) {
  ActionResult result;
  switch (f.fault.type) {
    case FaultType::kKill: result = plugin.kill(f.node, f.fault.signal); break;
    case FaultType::kPause: result = plugin.pause(f.node); break;
    case FaultType::kNetwork: result = add_toxic(proxy_api, f); break;
    case FaultType::kMemory:
    case FaultType::kDisk:
    case FaultType::kCpu: result = start_stress(plugin, f); break;
  }
  f.active = result.ok || f.fault.type == FaultType::kKill;
  return result;
}

ActionResult revert_fault(FaultPlugin& plugin, const common::Endpoint& proxy_api, AppliedFault& f) {
  if (!f.active) return {true, "nothing to revert"};
  ActionResult result;
  switch (f.fault.type) {
    case FaultType::kKill: result = plugin.resurrect(f.node); break;
    case FaultType::kPause: result = plugin.resume(f.node); break;
    case FaultType::kNetwork: result = delete_toxic(proxy_api, f); break;
    case FaultType::kMemory:
    case FaultType::kDisk:
    case FaultType::kCpu: result = stop_stress_helper(f.helper); break;
  }
  f.active = false;
  return result;
}

std::string revert_action_name(FaultType type) {
  switch (type) {
    case FaultType::kKill: return "resurrect";
    case FaultType::kPause: return "resume";
    case FaultType::kNetwork:
    case FaultType::kMemory:
    case FaultType::kDisk:
    case FaultType::kCpu: return std::string(to_string(type)) + "-revert";
  }
  return "revert";
}

}  // namespace bombarder
