// `bombarder proxy` as a process (issue 6): bad command-line input is one line and a non-zero
// exit (commands/exit_codes.h: 2 for the user's mistake, 3 for the environment); a served API
// stops cleanly.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

void expect_one_line_error(const RunResult& run, int code, const std::string& needle) {
  EXPECT_EQ(exit_code(run), code) << run.output;
  std::istringstream in(run.output);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 1u) << run.output;
  EXPECT_EQ(lines[0].rfind("bombarder: error: ", 0), 0u) << run.output;
  EXPECT_NE(lines[0].find(needle), std::string::npos) << "want '" << needle << "' in\n"
                                                      << run.output;
}

class ProxyCommandTest : public ::testing::Test {
 protected:
  std::string write_file(const std::string& name, const std::string& text) {
    const std::string path = (env_.root() / name).string();
    std::ofstream(path) << text;
    return path;
  }
  BombarderEnv env_;
};

TEST_F(ProxyCommandTest, BadFlagsAreOneLineUsageErrors) {
  expect_one_line_error(env_.run({"proxy", "--port", "abc"}, 10s), 2, "--port");
  expect_one_line_error(env_.run({"proxy", "--port", "70000"}, 10s), 2, "--port");
  expect_one_line_error(env_.run({"proxy", "--host", "not-an-ip", "--port", "0"}, 10s), 2,
                        "--host 'not-an-ip' is not an IP address");
  expect_one_line_error(env_.run({"proxy", "--bogus"}, 10s), 2, "--bogus");
  expect_one_line_error(
      env_.run({"proxy", "--port", "0", "--config", (env_.root() / "missing.json").string()}, 10s),
      2, "cannot read --config");
}

TEST_F(ProxyCommandTest, AConfigThatToxiproxyWouldRefuseIsAUsageErrorInItsErrorShape) {
  const std::string config = write_file("bad.json", R"([{"name":"x","listen":"127.0.0.1:0"}])");
  expect_one_line_error(env_.run({"proxy", "--port", "0", "--config", config}, 10s), 2,
                        R"("error":"missing required field: upstream at proxy 1")");
  const std::string not_json = write_file("not.json", "[{");
  expect_one_line_error(env_.run({"proxy", "--port", "0", "--config", not_json}, 10s), 2,
                        "bad request body: ");
}

TEST_F(ProxyCommandTest, ATakenApiPortIsAnEnvironmentError) {
  // Hold a listening socket on a free port for the duration of the run.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  const RunResult run = env_.run({"proxy", "--port", port}, 10s);
  ::close(fd);
  expect_one_line_error(run, 3, "cannot serve the API on 127.0.0.1:" + port);
}

TEST_F(ProxyCommandTest, ServesTheConfiguredProxiesAndExitsZeroOnSigterm) {
  const std::string config = write_file(
      "proxies.json", R"([{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}])");
  BackgroundProcess proxy({BOMBARDER_BIN, "proxy", "--port", "0", "--config", config},
                          env_.root() / "proxy.log");
  const uint16_t api_port = wait_for_proxy_api(proxy);
  ASSERT_NE(api_port, 0) << proxy.output();
  const HttpResult listed = http_request(api_port, "GET", "/proxies");
  ASSERT_EQ(listed.status, 200) << listed.describe();
  EXPECT_TRUE(listed.json().contains("a")) << listed.body;
  const ExitStatus ended = proxy.stop();
  EXPECT_TRUE(ended.exited && ended.code == 0) << ended.describe() << "\n" << proxy.output();
}

}  // namespace
}  // namespace integration
