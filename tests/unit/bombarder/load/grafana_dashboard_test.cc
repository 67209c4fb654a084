// docs/grafana/bombarder-dashboard.json must only query metrics that exist: every bombarder_* and
// proxy_* name in its queries is a family that LoadMetrics or the fault proxy's /metrics declares
// (a renamed metric would otherwise leave a silently empty panel), and it has the scenario-phase
// panel issue 6 asks for.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "bombarder/load/load_metrics.h"
#include "bombarder/proxy/proxy_server.h"
#include "prometheus_text.h"

namespace bombarder {
namespace {

using Json = nlohmann::json;

std::vector<std::string> queries_of(const Json& dashboard) {
  std::vector<std::string> out;
  for (const Json& panel : dashboard.at("panels")) {
    for (const Json& target : panel.at("targets")) out.push_back(target.at("expr"));
  }
  for (const Json& a : dashboard.at("annotations").at("list")) {
    if (a.contains("expr")) out.push_back(a.at("expr"));
  }
  return out;
}

TEST(GrafanaDashboard, QueriesOnlyMetricsThatExist) {
  std::ifstream in(RAFTKV_DOCS_DIR "/grafana/bombarder-dashboard.json");
  ASSERT_TRUE(in) << RAFTKV_DOCS_DIR "/grafana/bombarder-dashboard.json";
  const Json dashboard = Json::parse(in);

  std::map<std::string, std::string> families =
      prometheus_text::parse(LoadMetrics("x").render()).types;
  boost::asio::io_context io;
  proxy::ProxyServer proxy(io, 1);
  const proxy::ApiResult proxy_metrics = proxy.handle("GET", "/metrics", "");
  ASSERT_EQ(proxy_metrics.status, 200);
  families.merge(prometheus_text::parse(proxy_metrics.body).types);

  static const std::regex kMetric(R"(\b(bombarder|proxy)_[a-z_]+\b)");
  std::set<std::string> used;
  for (const std::string& query : queries_of(dashboard)) {
    for (std::sregex_iterator it(query.begin(), query.end(), kMetric), end; it != end; ++it) {
      std::string name = it->str();
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (!families.contains(name) && name.ends_with(s) &&
            families.contains(name.substr(0, name.size() - s.size()))) {
          name = name.substr(0, name.size() - s.size());
        }
      }
      EXPECT_TRUE(families.contains(name)) << name << " in: " << query;
      used.insert(name);
    }
  }
  EXPECT_TRUE(used.contains("bombarder_scenario_phase"));
  EXPECT_TRUE(used.contains("bombarder_breaker_state"));
  EXPECT_TRUE(used.contains("bombarder_pool_connections"));
  EXPECT_TRUE(used.contains("bombarder_request_duration_seconds"));

  std::set<int> ids;
  for (const Json& panel : dashboard.at("panels")) {
    EXPECT_TRUE(ids.insert(panel.at("id").get<int>()).second) << "duplicate panel id";
    EXPECT_TRUE(panel.contains("gridPos")) << panel.at("title");
  }
}

}  // namespace
}  // namespace bombarder
