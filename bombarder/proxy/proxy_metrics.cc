#include "bombarder/proxy/proxy_metrics.h"

#include <vector>

#include "common/metrics.h"

namespace bombarder::proxy {

ApiResult proxy_metrics(const ServerState& state) {
  using common::metrics::add_value;
  using prometheus::MetricType;
  const auto family = [](const char* name, const char* help) {
    return common::metrics::family(name, help, MetricType::Gauge);
  };
  auto enabled = family("proxy_enabled", "1 while the proxy listens, 0 while it is disabled.");
  auto connections = family("proxy_connections", "Client connections open through the proxy now.");
  auto toxics = family("proxy_toxics", "Toxics on the proxy now, both streams.");
  auto toxicity = family("proxy_toxic_toxicity",
                         "Probability that the toxic applies to a connection; one series per "
                         "active toxic.");
  auto attribute = family("proxy_toxic_attribute",
                          "An active toxic's attribute (latency and jitter ms, rate KB/s, "
                          "probability, ...).");
  for (const auto& [name, p] : state.proxies) {
    add_value(enabled, {{"proxy", name}, {"listen", p->listen}, {"upstream", p->upstream}},
              p->enabled ? 1 : 0);
    add_value(connections, {{"proxy", name}}, static_cast<double>(p->links.size()));
    add_value(toxics, {{"proxy", name}},
              static_cast<double>(p->chains[0].size() + p->chains[1].size()));
    for (const auto& chain : p->chains) {
      for (const auto& t : chain) {
        common::metrics::Labels labels = {{"proxy", name},
                                          {"toxic", t->name},
                                          {"type", t->type},
                                          {"stream", stream_name(t->direction)}};
        add_value(toxicity, labels, t->toxicity);
        const json attributes = t->attributes();  // named: items() does not own it
        for (const auto& [key, value] : attributes.items()) {
          labels["attribute"] = key;
          add_value(attribute, labels, value.get<double>());
        }
      }
    }
  }
  std::vector<prometheus::MetricFamily> families;
  for (auto* f : {&enabled, &connections, &toxics, &toxicity, &attribute}) {
    families.push_back(std::move(*f));
  }
  return {200, common::metrics::serialize(std::move(families)), common::metrics::kContentType};
}

}  // namespace bombarder::proxy
