// unit.bombarder.ProxyToxicConfig.* and ProxyAddress.*: a toxic's configuration as the API reads
// and writes it (bombarder/proxy/toxic.h) and listen/upstream addresses (address.h), without a
// proxy or a socket. What each toxic does to the data is proven through a real proxy in
// proxy_toxics_test.cc.
#include "bombarder/proxy/toxic.h"

#include <gtest/gtest.h>

#include <string>

#include "bombarder/proxy/address.h"

namespace {

using bombarder::proxy::ApiError;
using bombarder::proxy::json;
using bombarder::proxy::Kind;
using bombarder::proxy::Toxic;

// The message of the ApiError `f` throws, with its status; "" when it throws none.
template <typename F>
std::string api_error_of(F&& f, int expected_status) {
  try {
    f();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, expected_status) << e.what();
    return e.what();
  }
  return "";
}

TEST(ProxyToxicConfig, BodyWithOnlyATypeGetsToxiproxysDefaults) {
  const Toxic t = bombarder::proxy::toxic_from_body(json{{"type", "latency"}});
  EXPECT_EQ(t.kind, Kind::Latency);
  EXPECT_EQ(t.name, "latency_downstream");
  EXPECT_EQ(t.direction, bombarder::proxy::kDownstream);
  EXPECT_EQ(t.toxicity, 1.0);
  EXPECT_EQ(t.to_json(), json::parse(R"({"name":"latency_downstream","type":"latency",
      "stream":"downstream","toxicity":1.0,"attributes":{"latency":0,"jitter":0}})"));
}

TEST(ProxyToxicConfig, EveryTypeListsOnlyItsOwnAttributes) {
  const std::pair<const char*, json> expected[] = {
      {"latency", {{"latency", 0}, {"jitter", 0}}},
      {"bandwidth", {{"rate", 0}}},
      {"slow_close", {{"delay", 0}}},
      {"timeout", {{"timeout", 0}}},
      {"reset_peer", {{"timeout", 0}}},
      {"slicer", {{"average_size", 0}, {"size_variation", 0}, {"delay", 0}}},
      {"limit_data", {{"bytes", 0}}},
      {"packet_loss", {{"probability", 0.0}, {"correlation", 0.0}}}};
  for (const auto& [type, attributes] : expected) {
    const Toxic t = bombarder::proxy::toxic_from_body(json{{"type", type}, {"stream", "upstream"}});
    EXPECT_EQ(t.attributes(), attributes) << type;
    EXPECT_EQ(t.name, std::string(type) + "_upstream");
  }
}

TEST(ProxyToxicConfig, BadStreamTypeOrToxicityIsA400WithToxiproxysMessage) {
  using bombarder::proxy::toxic_from_body;
  EXPECT_EQ(api_error_of(
                [] {
                  toxic_from_body(json{{"type", "latency"}, {"stream", "up"}});
                },
                400),
            "stream was invalid, can be either upstream or downstream");
  EXPECT_EQ(api_error_of(
                [] {
                  toxic_from_body(json{{"type", "jitter"}});
                },
                400),
            "invalid toxic type");
  EXPECT_EQ(api_error_of(
                [] {
                  toxic_from_body(json{{"type", "latency"}, {"toxicity", 1.5}});
                },
                400),
            "bad request body: 'toxicity' must be between 0 and 1");
  EXPECT_EQ(api_error_of([] { toxic_from_body(json::array()); }, 400),
            "bad request body: expected a JSON object");
}

TEST(ProxyToxicConfig, AttributesApplyPartiallyAndAreValidatedAfterwards) {
  Toxic t = bombarder::proxy::toxic_from_body(json{{"type", "slicer"}});
  bombarder::proxy::apply_attributes(t, json{{"average_size", 100}, {"size_variation", 10}});
  bombarder::proxy::apply_attributes(t, json{{"delay", 5}});  // an update of one attribute
  EXPECT_EQ(t.attributes(), json({{"average_size", 100}, {"size_variation", 10}, {"delay", 5}}));
  // The result is what is validated: a variation that is fine alone, too large for the size.
  EXPECT_EQ(api_error_of(
                [&] {
                  apply_attributes(t, json{{"size_variation", 100}});
                },
                400),
            "bad request body: slicer: size_variation must be smaller than average_size");
  Toxic latency = bombarder::proxy::toxic_from_body(json{{"type", "latency"}});
  EXPECT_EQ(api_error_of(
                [&] {
                  apply_attributes(latency, json{{"latency", -1}});
                },
                400),
            "bad request body: attribute 'latency' must not be negative");
  EXPECT_EQ(api_error_of(
                [&] {
                  apply_attributes(latency, json{{"latency", 1.5}});
                },
                400),
            "bad request body: attribute 'latency' must be an integer");
  EXPECT_EQ(api_error_of([&] { apply_attributes(latency, json::array()); }, 400),
            "bad request body: 'attributes' must be an object");
  Toxic loss = bombarder::proxy::toxic_from_body(json{{"type", "packet_loss"}});
  EXPECT_EQ(api_error_of(
                [&] {
                  apply_attributes(loss, json{{"probability", 2}});
                },
                400),
            "bad request body: attribute 'probability' must be between 0 and 1");
}

TEST(ProxyAddress, HostAndPortSplitWithBracketsRemovedAndBadPortsRefused) {
  using bombarder::proxy::split_host_port;
  EXPECT_EQ(split_host_port("127.0.0.1:8474"),
            std::make_pair(std::string("127.0.0.1"), std::string("8474")));
  EXPECT_EQ(split_host_port("[::1]:0"), std::make_pair(std::string("::1"), std::string("0")));
  EXPECT_EQ(split_host_port(":9"), std::make_pair(std::string(""), std::string("9")));
  EXPECT_EQ(api_error_of([] { split_host_port("localhost"); }, 400),
            "address localhost: missing port");
  for (const char* bad : {"h:", "h:65536", "h:123456", "h:8x"}) {
    EXPECT_EQ(api_error_of([&] { split_host_port(bad); }, 400),
              std::string("address ") + bad + ": invalid port");
  }
}

TEST(ProxyAddress, EndpointTextBracketsIpv6) {
  namespace ip = boost::asio::ip;
  EXPECT_EQ(bombarder::proxy::endpoint_text({ip::make_address("127.0.0.1"), 80}), "127.0.0.1:80");
  EXPECT_EQ(bombarder::proxy::endpoint_text({ip::make_address("::1"), 8474}), "[::1]:8474");
}

}  // namespace
