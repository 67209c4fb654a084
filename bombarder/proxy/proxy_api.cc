#include "bombarder/proxy/proxy_api.h"

#include <algorithm>
#include <string>
#include <vector>

#include "bombarder/proxy/address.h"
#include "bombarder/proxy/api_json.h"
#include "bombarder/proxy/proxy_metrics.h"

namespace bombarder::proxy {

namespace {

constexpr const char* kVersion = "2.9.0-bombarder";

[[noreturn]] void proxy_not_found() { throw ApiError("proxy not found", 404); }
[[noreturn]] void toxic_not_found() { throw ApiError("toxic not found", 404); }

// The path's non-empty segments, without the query.
std::vector<std::string> split_path(std::string_view target) {
  auto q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < target.size()) {
    size_t j = target.find('/', i);
    if (j == std::string_view::npos) j = target.size();
    if (j > i) parts.emplace_back(target.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

ApiResult ok(int status, const json& body) { return {status, json_text(body)}; }

ApiResult error_result(int status, const std::string& message) {
  return {status, json_text(json{{"error", message}, {"status", status}})};
}

struct ProxyInput {
  std::string name, listen, upstream;
  bool enabled = true;
};

// `where` follows a missing field's name in the error (" at proxy 2" for /populate).
ProxyInput read_proxy_input(const json& body, const std::string& where = "") {
  if (!body.is_object()) bad_body("expected a JSON object");
  ProxyInput in;
  in.name = string_field(body, "name", "");
  in.listen = string_field(body, "listen", "");
  in.upstream = string_field(body, "upstream", "");
  in.enabled = bool_field(body, "enabled", true);
  if (in.name.empty()) missing_field("name" + where);
  if (in.upstream.empty()) missing_field("upstream" + where);
  if (in.listen.empty()) in.listen = "127.0.0.1:0";
  split_host_port(in.listen);
  split_host_port(in.upstream);
  return in;
}

// The routes; every handler throws ApiError for what Toxiproxy answers with an error.
class Api {
 public:
  explicit Api(ServerState& state) : s_(state) {}

  ApiResult route(std::string_view method, std::string_view target, std::string_view body) {
    auto parts = split_path(target);
    if (parts.size() == 1 && parts[0] == "version" && method == "GET") {
      return ok(200, json{{"version", kVersion}});
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
      if (method == "GET") return proxy_metrics(s_);
      throw ApiError("method not allowed", 405);
    }
    if (parts.size() == 1 && parts[0] == "reset" && method == "POST") return reset();
    if (parts.size() == 1 && parts[0] == "populate" && method == "POST") return populate(body);
    if (!parts.empty() && parts[0] == "proxies") return route_proxies(parts, method, body);
    throw ApiError("not found", 404);
  }

 private:
  // /proxies[/{name}[/toxics[/{toxic}]]]
  ApiResult route_proxies(const std::vector<std::string>& parts, std::string_view method,
                          std::string_view body) {
    const bool update = method == "POST" || method == "PATCH";
    if (parts.size() == 1) {
      if (method == "GET") return list_proxies();
      if (method == "POST") return create_proxy(body);
    } else if (parts.size() == 2) {
      if (method == "GET") return ok(200, get_proxy(parts[1])->to_json());
      if (update) return update_proxy(parts[1], body);
      if (method == "DELETE") return delete_proxy(parts[1]);
    } else if (parts.size() == 3 && parts[2] == "toxics") {
      if (method == "GET") return list_toxics(parts[1]);
      if (method == "POST") return create_toxic(parts[1], body);
    } else if (parts.size() == 4 && parts[2] == "toxics") {
      if (method == "GET") return get_toxic(parts[1], parts[3]);
      if (update) return update_toxic(parts[1], parts[3], body);
      if (method == "DELETE") return delete_toxic(parts[1], parts[3]);
    } else {
      throw ApiError("not found", 404);
    }
    throw ApiError("method not allowed", 405);
  }

  std::shared_ptr<ProxyState> get_proxy(const std::string& name) {
    auto it = s_.proxies.find(name);
    if (it == s_.proxies.end()) proxy_not_found();
    return it->second;
  }

  ApiResult list_proxies() {
    json out = json::object();
    for (const auto& [name, p] : s_.proxies) out[name] = p->to_json();
    return ok(200, out);
  }

  std::shared_ptr<ProxyState> add_proxy(const ProxyInput& in) {
    if (s_.proxies.count(in.name)) throw ApiError("proxy already exists", 409);
    auto p = std::make_shared<ProxyState>();
    p->server = &s_;
    p->name = in.name;
    p->listen = in.listen;
    p->upstream = in.upstream;
    if (in.enabled) p->start();
    p->enabled = in.enabled;
    s_.proxies[in.name] = p;
    return p;
  }

  ApiResult create_proxy(std::string_view body) {
    auto p = add_proxy(read_proxy_input(parse_body(body)));
    return ok(201, p->to_json());
  }

  // Toxiproxy answers /populate errors with the proxies created before the error (null when
  // none), so a client can tell what was applied: {"error", "status", "proxies"}.
  ApiResult populate(std::string_view body) {
    json out = nullptr;
    try {
      json input = parse_body(body);
      if (!input.is_array()) bad_body("expected a JSON array of proxies");
      std::vector<ProxyInput> inputs;
      for (size_t i = 0; i < input.size(); ++i) {
        inputs.push_back(read_proxy_input(input[i], " at proxy " + std::to_string(i + 1)));
      }
      out = json::array();
      for (const auto& in : inputs) out.push_back(populate_one(in)->to_json());
    } catch (const ApiError& e) {
      json err = {{"error", e.what()}, {"status", e.status}, {"proxies", out}};
      return {e.status, json_text(err)};
    }
    return ok(201, json{{"proxies", out}});
  }

  // Keeps a running proxy of that name whose listen and upstream are unchanged; replaces it
  // otherwise.
  std::shared_ptr<ProxyState> populate_one(const ProxyInput& in) {
    auto it = s_.proxies.find(in.name);
    if (it != s_.proxies.end()) {
      auto& old = it->second;
      bool same_listen = old->listen == in.listen;
      if (!same_listen) {
        // "host:0" asks for any port: keep the running proxy if only the port is 0.
        auto [h1, p1] = split_host_port(in.listen);
        auto [h2, p2] = split_host_port(old->listen);
        same_listen = p1 == "0" && (h1 == h2 || h1.empty());
      }
      if (same_listen && old->upstream == in.upstream) return old;
      old->stop();
      s_.proxies.erase(it);
    }
    return add_proxy(in);
  }

  ApiResult update_proxy(const std::string& name, std::string_view body) {
    auto p = get_proxy(name);
    json in = parse_body(body);
    if (!in.is_object()) bad_body("expected a JSON object");
    std::string listen = string_field(in, "listen", p->listen);
    std::string upstream = string_field(in, "upstream", p->upstream);
    bool enabled = bool_field(in, "enabled", p->enabled);
    split_host_port(listen);
    split_host_port(upstream);
    if (listen != p->listen || upstream != p->upstream) {
      p->stop();
      p->listen = listen;
      p->upstream = upstream;
      p->enabled = false;
    }
    if (enabled && !p->acceptor) {
      p->start();
    } else if (!enabled) {
      p->stop();
    }
    p->enabled = enabled;
    return ok(200, p->to_json());
  }

  ApiResult delete_proxy(const std::string& name) {
    auto p = get_proxy(name);
    p->stop();
    s_.proxies.erase(name);
    return {204, ""};
  }

  ApiResult list_toxics(const std::string& proxy_name) {
    auto p = get_proxy(proxy_name);
    json out = json::array();
    for (const auto& chain : p->chains) {
      for (const auto& t : chain) out.push_back(t->to_json());
    }
    return ok(200, out);
  }

  ApiResult get_toxic(const std::string& proxy_name, const std::string& toxic_name) {
    auto t = get_proxy(proxy_name)->find_toxic(toxic_name);
    if (!t) toxic_not_found();
    return ok(200, t->to_json());
  }

  ApiResult create_toxic(const std::string& proxy_name, std::string_view body) {
    auto p = get_proxy(proxy_name);
    json in = parse_body(body);
    auto t = std::make_shared<Toxic>(toxic_from_body(in));
    if (p->find_toxic(t->name)) throw ApiError("toxic already exists", 409);
    apply_attributes(*t, in.contains("attributes") ? in.at("attributes") : json());
    t->uid = s_.next_uid++;
    p->chains[t->direction].push_back(t);
    p->notify_links();
    return ok(200, t->to_json());
  }

  ApiResult update_toxic(const std::string& proxy_name, const std::string& toxic_name,
                         std::string_view body) {
    auto p = get_proxy(proxy_name);
    auto old = p->find_toxic(toxic_name);
    if (!old) toxic_not_found();
    json in = parse_body(body);
    if (!in.is_object()) bad_body("expected a JSON object");
    auto t = std::make_shared<Toxic>(*old);
    read_toxicity(in, t->toxicity);
    apply_attributes(*t, in.contains("attributes") ? in.at("attributes") : json());
    t->generation = old->generation + 1;
    for (auto& slot : p->chains[t->direction]) {
      if (slot == old) slot = t;
    }
    p->notify_links();
    return ok(200, t->to_json());
  }

  ApiResult delete_toxic(const std::string& proxy_name, const std::string& toxic_name) {
    auto p = get_proxy(proxy_name);
    auto old = p->find_toxic(toxic_name);
    if (!old) toxic_not_found();
    auto& chain = p->chains[old->direction];
    chain.erase(std::remove(chain.begin(), chain.end(), old), chain.end());
    p->notify_links();
    return {204, ""};
  }

  ApiResult reset() {
    for (auto& [name, p] : s_.proxies) {
      if (!p->acceptor) p->start();
      p->enabled = true;
      p->chains[0].clear();
      p->chains[1].clear();
      p->notify_links();
    }
    return {204, ""};
  }

  ServerState& s_;
};

}  // namespace

ApiResult answer_api(ServerState& state, std::string_view method, std::string_view target,
                     std::string_view body) {
  try {
    return Api(state).route(method, target, body);
  } catch (const ApiError& e) {
    return error_result(e.status, e.what());
  } catch (const std::exception& e) {
    return error_result(500, e.what());
  }
}

}  // namespace bombarder::proxy
