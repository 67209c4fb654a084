#include "bombarder/cluster/cluster_record.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"

namespace bombarder {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::vector<common::Endpoint> ClusterRecord::endpoints() const {
  std::vector<common::Endpoint> out;
  for (const NodeRecord& node : nodes) out.push_back(node.endpoint);
  return out;
}

std::vector<common::Endpoint> ClusterRecord::sentinel_endpoints() const {
  std::vector<common::Endpoint> out;
  for (const SentinelRecord& sentinel : sentinels) out.push_back(sentinel.endpoint);
  return out;
}

const NodeRecord* ClusterRecord::find(const common::Endpoint& endpoint) const {
  for (const NodeRecord& node : nodes) {
    if (node.endpoint == endpoint) return &node;
  }
  return nullptr;
}

fs::path cluster_record_path() { return data_root() / "cluster.json"; }

std::optional<ClusterRecord> load_cluster_record() {
  const fs::path path = cluster_record_path();
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  const Json body = Json::parse(in, nullptr, false);
  try {
    if (!body.is_object()) throw std::runtime_error("not a JSON object");
    ClusterRecord record;
    record.started_at = body.value("started_at", "");
    record.system = parse_store_system(body.value("system", std::string("stress_node")));
    record.node_binary = body.at("node_binary").get<std::string>();
    for (const Json& n : body.at("nodes")) {
      NodeRecord node;
      node.id = n.at("id").get<uint64_t>();
      node.endpoint = {n.at("host").get<std::string>(), n.at("port").get<uint16_t>()};
      node.pid = n.at("pid").get<pid_t>();
      node.data_dir = n.at("data_dir").get<std::string>();
      node.output_path = n.at("output").get<std::string>();
      node.args = n.at("args").get<std::vector<std::string>>();
      node.listen_port = n.value("listen_port", uint16_t{0});
      node.system = record.system;
      record.nodes.push_back(std::move(node));
    }
    if (body.contains("proxy")) {
      const Json& p = body.at("proxy");
      ProxyRecord proxy;
      proxy.pid = p.at("pid").get<pid_t>();
      proxy.api = {p.at("host").get<std::string>(), p.at("port").get<uint16_t>()};
      proxy.config_path = p.at("config").get<std::string>();
      proxy.output_path = p.at("output").get<std::string>();
      proxy.args = p.at("args").get<std::vector<std::string>>();
      record.proxy = std::move(proxy);
    }
    if (const auto it = body.find("sentinels"); it != body.end() && it->is_array()) {
      for (const Json& n : *it) {
        SentinelRecord sentinel;
        sentinel.id = n.at("id").get<uint64_t>();
        sentinel.endpoint = {n.at("host").get<std::string>(), n.at("port").get<uint16_t>()};
        sentinel.pid = n.at("pid").get<pid_t>();
        sentinel.config_path = n.at("config").get<std::string>();
        sentinel.output_path = n.at("output").get<std::string>();
        sentinel.args = n.at("args").get<std::vector<std::string>>();
        record.sentinels.push_back(std::move(sentinel));
      }
    }
    if (const auto it = body.find("supervisor"); it != body.end() && it->is_object()) {
      record.supervisor =
          SupervisorRecord{it->at("pid").get<pid_t>(), it->value("output", std::string())};
    }
    if (const auto it = body.find("tls"); it != body.end() && it->is_object()) {
      record.tls = TlsRecord{it->at("ca").get<std::string>(), it->at("cert").get<std::string>(),
                             it->at("key").get<std::string>()};
    }
    if (const auto it = body.find("security"); it != body.end() && it->is_object()) {
      record.cluster_secret_file = it->value("cluster_secret_file", std::string());
      record.admin_token_file = it->value("admin_token_file", std::string());
    }
    return record;
  } catch (const std::exception& e) {
    environment_failure("cannot read " + path.string() + " (" + e.what() +
                        "); remove it if no cluster runs");
  }
}

void save_cluster_record(const ClusterRecord& record) {
  Json nodes = Json::array();
  for (const NodeRecord& node : record.nodes) {
    nodes.push_back({{"id", node.id},
                     {"host", node.endpoint.host},
                     {"port", node.endpoint.port},
                     {"pid", node.pid},
                     {"data_dir", node.data_dir.string()},
                     {"output", node.output_path.string()},
                     {"args", node.args}});
    if (node.listen_port != 0) nodes.back()["listen_port"] = node.listen_port;
  }
  Json body = {{"started_at", record.started_at},
               {"node_binary", record.node_binary.string()},
               {"nodes", std::move(nodes)}};
  if (record.system != StoreSystem::kStressNode) body["system"] = to_string(record.system);
  if (const auto& p = record.proxy) {
    body["proxy"] = {{"pid", p->pid},
                     {"host", p->api.host},
                     {"port", p->api.port},
                     {"config", p->config_path.string()},
                     {"output", p->output_path.string()},
                     {"args", p->args}};
  }
  if (!record.sentinels.empty()) {
    Json sentinels = Json::array();
    for (const SentinelRecord& sentinel : record.sentinels) {
      sentinels.push_back({{"id", sentinel.id},
                           {"host", sentinel.endpoint.host},
                           {"port", sentinel.endpoint.port},
                           {"pid", sentinel.pid},
                           {"config", sentinel.config_path.string()},
                           {"output", sentinel.output_path.string()},
                           {"args", sentinel.args}});
    }
    body["sentinels"] = std::move(sentinels);
  }
  if (record.supervisor) {
    body["supervisor"] = {{"pid", record.supervisor->pid},
                          {"output", record.supervisor->output_path.string()}};
  }
  if (record.tls) {
    body["tls"] = {{"ca", record.tls->ca_file.string()},
                   {"cert", record.tls->client_cert_file.string()},
                   {"key", record.tls->client_key_file.string()}};
  }
  if (!record.cluster_secret_file.empty() || !record.admin_token_file.empty()) {
    body["security"] = {{"cluster_secret_file", record.cluster_secret_file.string()},
                        {"admin_token_file", record.admin_token_file.string()}};
  }
  const fs::path path = cluster_record_path();
  const fs::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  {
    std::ofstream out(temp, std::ios::trunc);
    out << body.dump(2) << '\n';
    out.flush();
    if (!out) environment_failure("cannot write " + temp.string());
  }
  fs::rename(temp, path, ec);
  if (ec) environment_failure("cannot write " + path.string() + ": " + ec.message());
}

void remove_cluster_record() {
  std::error_code ec;
  fs::remove(cluster_record_path(), ec);
}

std::vector<common::Endpoint> default_nodes() {
  if (auto record = load_cluster_record(); record && !record->nodes.empty()) {
    return record->endpoints();
  }
  return {{"127.0.0.1", 8080}, {"127.0.0.1", 8081}, {"127.0.0.1", 8082}};
}

}  // namespace bombarder
