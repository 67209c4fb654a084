// common/endpoint.h: the `PORT` / `HOST:PORT` forms of design.md §4 and nothing else.
#include "common/endpoint.h"

#include <gtest/gtest.h>

namespace common {
namespace {

TEST(Endpoint, BarePortUsesTheDefaultHost) {
  std::string error;
  const std::optional<Endpoint> e = Endpoint::parse("8081", "127.0.0.1", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8081);
  EXPECT_EQ(e->to_string(), "127.0.0.1:8081");
}

TEST(Endpoint, HostAndPortRoundTripThroughToString) {
  for (std::string_view text : {"10.0.0.7:1", "node-2.example.com:65535", "localhost:8082"}) {
    std::string error;
    const std::optional<Endpoint> e = Endpoint::parse(text, "127.0.0.1", &error);
    ASSERT_TRUE(e) << text << ": " << error;
    EXPECT_EQ(e->to_string(), text);
    EXPECT_EQ(Endpoint::parse(e->to_string(), "ignored", nullptr), e);
  }
}

TEST(Endpoint, MalformedInputIsRejectedWithAReason) {
  for (std::string_view text :
       {"", "0", "65536", "99999999999", "-1", "+80", " 80", "80 ", "8o", "host:", ":80", "a:b:80",
        "[::1]:80", "ho st:80", "host:80x", "host:0x50"}) {
    std::string error;
    EXPECT_FALSE(Endpoint::parse(text, "127.0.0.1", &error)) << "accepted '" << text << "'";
    EXPECT_FALSE(error.empty()) << text;
  }
  EXPECT_FALSE(Endpoint::parse("80", "", nullptr));  // no error sink: still just nullopt
}

TEST(Endpoint, OrdersByHostThenPort) {
  const Endpoint a{"127.0.0.1", 9000};
  const Endpoint b{"127.0.0.1", 9001};
  const Endpoint c{"127.0.0.2", 80};
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(a, (Endpoint{"127.0.0.1", 9000}));
}

}  // namespace
}  // namespace common
