// The history's "role" lines (issue 5 "Report", docs/history.md): they round-trip, the checker
// ignores them, and the sampler writes the first sample of each node and then only changes,
// with "down" for a node that does not answer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../../common/test_http_server.h"
#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"
#include "bombarder/load/role_sampler.h"

namespace bombarder {
namespace {

using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

TEST(HistoryRoles, RoleLinesRoundTripAndTheCheckerIgnoresThem) {
  HistoryRole leader{1, "127.0.0.1:8081", 250, "leader", 7};
  HistoryRole down{2, "127.0.0.1:8082", 300, "down", std::nullopt};
  HistoryOp create;
  create.id = "a";
  create.value = "v";
  create.invoke_ns = 10;
  create.complete_ns = 20;
  std::string text;
  append_history_line(text, leader);
  append_history_line(text, create);
  append_history_line(text, down);
  EXPECT_NE(text.find(R"({"type":"role","node":1,"address":"127.0.0.1:8081","at_ns":250,)"
                      R"("role":"leader","term":7})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("role":"down","term":null})"), std::string::npos) << text;

  std::istringstream in(text);
  const History h = parse_history(in);
  ASSERT_EQ(h.roles.size(), 2u);
  ASSERT_EQ(h.ops.size(), 1u);
  EXPECT_EQ(h.roles[0].node, 1u);
  EXPECT_EQ(h.roles[0].address, "127.0.0.1:8081");
  EXPECT_EQ(h.roles[0].at_ns, 250);
  EXPECT_EQ(h.roles[0].role, "leader");
  EXPECT_EQ(h.roles[0].term, std::optional<uint64_t>(7));
  EXPECT_EQ(h.roles[1].role, "down");
  EXPECT_FALSE(h.roles[1].term.has_value());

  const CheckResult check = check_history(h);
  EXPECT_EQ(check.verdict, Verdict::kOk);
  EXPECT_EQ(check.ops, 1u);
  EXPECT_EQ(check.faults, 0u);

  const auto line_of = [](const std::string& line) -> size_t {
    std::istringstream bad(line);
    try {
      (void)parse_history(bad);
    } catch (const HistoryError& e) {
      return e.line();
    }
    return 0;
  };
  EXPECT_EQ(line_of(R"({"type":"role","node":1,"at_ns":5})"), 1u);  // no role
  EXPECT_EQ(line_of(R"({"type":"role","node":1,"at_ns":5,"role":"leader","term":"x"})"), 1u);
  EXPECT_EQ(line_of(R"({"type":"role","node":1,"at_ns":5,"role":"leader"})"), 0u);  // no term
}

// A node whose /_raft/health says what the test sets.
struct FakeHealth {
  std::mutex mutex;
  std::string role = "follower";
  uint64_t term = 1;
  std::atomic<size_t> asked{0};
  TestHttpServer server{[this](const Request& r) -> std::optional<Response> {
    Response response{http::status::not_found, 11};
    if (r.target() == "/_raft/health") {
      std::lock_guard lock(mutex);
      response.result(http::status::ok);
      response.body() = nlohmann::json{{"role", role}, {"term", term}}.dump();
      ++asked;
    }
    response.prepare_payload();
    return response;
  }};
  void set(const std::string& new_role, uint64_t new_term) {
    std::lock_guard lock(mutex);
    role = new_role;
    term = new_term;
  }
};

uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address_v4("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();  // closed again when the acceptor goes
}

TEST(HistoryRoles, SamplerWritesTheFirstSampleAndThenOnlyChanges) {
  FakeHealth a;
  FakeHealth b;
  b.set("leader", 1);
  const common::Endpoint gone{"127.0.0.1", closed_port()};
  const auto path = std::filesystem::temp_directory_path() /
                    ("history_roles_test_" + std::to_string(::getpid()) + ".jsonl");
  {
    HistoryWriter writer(path);
    RoleSampler sampler({{0, a.server.endpoint()}, {1, b.server.endpoint()}, {2, gone}}, writer,
                        10ms, 500ms);
    sampler.start();
    ASSERT_TRUE(common::test::wait_until([&] { return sampler.lines_written() >= 3; }));
    // Several more rounds with nothing changed write nothing.
    const size_t asked = a.asked;
    ASSERT_TRUE(common::test::wait_until([&] { return a.asked >= asked + 5; }));
    EXPECT_EQ(sampler.lines_written(), 3u);
    // An election: b steps down, a leads in term 2.
    b.set("follower", 2);
    a.set("leader", 2);
    ASSERT_TRUE(common::test::wait_until([&] { return sampler.lines_written() >= 5; }));
    // A term change alone is a change too.
    b.set("follower", 3);
    ASSERT_TRUE(common::test::wait_until([&] { return sampler.lines_written() >= 6; }));
    sampler.stop();
    EXPECT_EQ(sampler.lines_written(), 6u);
    writer.close();
  }
  const History h = read_history(path);
  std::filesystem::remove(path);
  ASSERT_EQ(h.roles.size(), 6u);
  std::vector<std::string> seen;
  for (const HistoryRole& r : h.roles) {
    seen.push_back(std::to_string(r.node) + " " + r.role + " " +
                   (r.term ? std::to_string(*r.term) : "-"));
    EXPECT_GE(r.at_ns, 0);
  }
  // The first round's three lines come in node order; a round's lines are written together.
  EXPECT_EQ(seen[0], "0 follower 1");
  EXPECT_EQ(seen[1], "1 leader 1");
  EXPECT_EQ(seen[2], "2 down -");
  EXPECT_EQ(h.roles[2].address, gone.to_string());
  std::sort(seen.begin() + 3, seen.begin() + 5);
  EXPECT_EQ(seen[3], "0 leader 2");
  EXPECT_EQ(seen[4], "1 follower 2");
  EXPECT_EQ(seen[5], "1 follower 3");
  for (size_t i = 1; i < h.roles.size(); ++i) EXPECT_LE(h.roles[i - 1].at_ns, h.roles[i].at_ns);
}

}  // namespace
}  // namespace bombarder
