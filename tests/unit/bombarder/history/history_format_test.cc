// The history file format (docs/history.md): lines written by the engine's writer read back
// identically, faults included, and a bad line is named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bombarder/base/errors.h"
#include "bombarder/history/history.h"

namespace bombarder {
namespace {

// A create, a read, a read of an absent id, a create with an unknown outcome and a fault.
struct SampleLines {
  HistoryOp create, read, absent, unknown;
  HistoryFault fault{"kill", 1, "127.0.0.1:8081", 45, "SIGKILL leader pid 12"};
};

SampleLines sample_lines() {
  SampleLines s;
  HistoryOp& create = s.create;
  create.client = 3;
  create.kind = OpKind::kCreate;
  create.id = "0b7c2f0e-0000-4000-8000-000000000001";
  create.key = "k-1";
  create.value = "v1";
  create.invoke_ns = 10;
  create.complete_ns = 20;
  create.status = 201;
  create.attempts = 2;
  HistoryOp& read = s.read;
  read.client = 4;
  read.kind = OpKind::kRead;
  read.id = create.id;
  read.read_value = "quote\" backslash\\ newline\n";
  read.invoke_ns = 30;
  read.complete_ns = 40;
  read.status = 200;
  HistoryOp& absent = s.absent;
  absent = read;
  absent.read_value.clear();
  absent.read_absent = true;
  absent.status = 404;
  HistoryOp& unknown = s.unknown;
  unknown.kind = OpKind::kCreate;
  unknown.value = "v2";
  unknown.outcome = Outcome::kUnknown;
  unknown.invoke_ns = 50;
  unknown.complete_ns = 5000;
  unknown.status = 504;
  unknown.error = "504 commit_timeout: not confirmed";
  return s;
}

TEST(HistoryFormat, RoundTripsOperationsAndFaults) {
  const SampleLines s = sample_lines();
  const HistoryOp& create = s.create;
  const HistoryOp& read = s.read;
  const HistoryOp& unknown = s.unknown;

  std::string text;
  append_history_line(text, create);
  append_history_line(text, s.fault);
  append_history_line(text, read);
  append_history_line(text, s.absent);
  append_history_line(text, unknown);
  EXPECT_NE(text.find("\"result\":{\"id\":\"0b7c2f0e"), std::string::npos) << text;
  EXPECT_NE(text.find("\"result\":{\"absent\":true}"), std::string::npos) << text;
  EXPECT_NE(text.find("\"op\":\"create\",\"id\":null"), std::string::npos) << text;

  std::istringstream in(text);
  const History h = parse_history(in);
  ASSERT_EQ(h.ops.size(), 4u);
  ASSERT_EQ(h.faults.size(), 1u);
  EXPECT_EQ(h.ops[0].id, create.id);
  EXPECT_EQ(h.ops[0].key, "k-1");
  EXPECT_EQ(h.ops[0].attempts, 2u);
  EXPECT_EQ(h.ops[0].line, 1u);
  EXPECT_EQ(h.ops[1].read_value, read.read_value);
  EXPECT_EQ(h.ops[1].line, 3u);
  EXPECT_TRUE(h.ops[2].read_absent);
  EXPECT_EQ(h.ops[3].outcome, Outcome::kUnknown);
  EXPECT_TRUE(h.ops[3].id.empty());
  EXPECT_EQ(h.ops[3].complete_ns, 5000);
  EXPECT_EQ(h.ops[3].error, unknown.error);
  EXPECT_EQ(h.faults[0].action, "kill");
  EXPECT_EQ(h.faults[0].at_ns, 45);
}

TEST(HistoryFormat, RoundTripsLists) {
  HistoryOp lookup;
  lookup.client = 2;
  lookup.kind = OpKind::kList;
  lookup.key = "k-1";
  lookup.limit = 10;
  lookup.listed = {{"0b7c2f0e-0000-4000-8000-000000000001", "k-1", "v\"1"},
                   {"0b7c2f0e-0000-4000-8000-000000000002", "k-1", "v2"}};
  lookup.invoke_ns = 5;
  lookup.complete_ns = 9;
  lookup.status = 200;
  HistoryOp page;
  page.kind = OpKind::kList;
  page.after = "0b7c2f0e-0000-4000-8000-000000000001";
  page.invoke_ns = 10;
  page.complete_ns = 20;
  page.status = 200;
  HistoryOp refused = page;
  refused.outcome = Outcome::kFail;
  refused.status = 503;
  refused.error = "503 no_leader";
  std::string text;
  append_history_line(text, lookup);
  append_history_line(text, page);
  append_history_line(text, refused);
  EXPECT_NE(text.find("\"op\":\"list\",\"id\":null,\"key\":\"k-1\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"limit\":null"), std::string::npos) << text;
  EXPECT_NE(text.find("\"result\":{\"entries\":[]}"), std::string::npos) << text;
  std::istringstream in(text);
  const History h = parse_history(in);
  ASSERT_EQ(h.ops.size(), 3u);
  EXPECT_EQ(h.ops[0].kind, OpKind::kList);
  EXPECT_EQ(h.ops[0].key, "k-1");
  EXPECT_EQ(h.ops[0].limit, 10u);
  EXPECT_EQ(h.ops[0].listed, lookup.listed);
  EXPECT_TRUE(h.ops[1].key.empty());
  EXPECT_EQ(h.ops[1].after, page.after);
  EXPECT_EQ(h.ops[1].limit, 0u);
  EXPECT_TRUE(h.ops[1].listed.empty());
  EXPECT_EQ(h.ops[2].outcome, Outcome::kFail);
}

TEST(HistoryFormat, BadLinesAreNamed) {
  const auto line_of = [](const std::string& text) -> size_t {
    std::istringstream in(text);
    try {
      (void)parse_history(in);
    } catch (const HistoryError& e) {
      return e.line();
    }
    return 0;
  };
  const std::string good =
      "{\"type\":\"op\",\"client\":0,\"op\":\"read\",\"id\":\"a\",\"invoke_ns\":1,"
      "\"complete_ns\":2,\"outcome\":\"ok\",\"result\":{\"absent\":true}}\n";
  EXPECT_EQ(line_of(good + "\n" + good), 0u);
  EXPECT_EQ(line_of(good + "not json\n"), 2u);
  EXPECT_EQ(line_of(good + good + "{\"type\":\"op\",\"client\":0}\n"), 3u);
  EXPECT_EQ(line_of("{\"type\":\"weird\"}\n"), 1u);
  EXPECT_EQ(line_of("{\"type\":\"op\",\"client\":0,\"op\":\"read\",\"id\":\"a\",\"invoke_ns\":5,"
                    "\"complete_ns\":2,\"outcome\":\"ok\",\"result\":{\"absent\":true}}\n"),
            1u);  // completes before its invocation
}

TEST(HistoryFormat, WriterNumbersClientsAndRecordsFaults) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("history_writer_test_" + std::to_string(::getpid()) + ".jsonl");
  {
    HistoryWriter writer(path);
    EXPECT_EQ(writer.allocate_clients(3), 0u);
    EXPECT_EQ(writer.allocate_clients(2), 3u);
    HistoryOp op;
    op.id = "x";
    op.value = "v";
    std::string lines;
    append_history_line(lines, op);
    writer.write(lines);
    writer.fault("restart", 2, "127.0.0.1:8082", "pid 9 serving after 300 ms");
    writer.close();
    writer.write(lines);  // after close: dropped
  }
  const History h = read_history(path);
  EXPECT_EQ(h.ops.size(), 1u);
  ASSERT_EQ(h.faults.size(), 1u);
  EXPECT_GE(h.faults[0].at_ns, 0);
  std::filesystem::remove(path);
  EXPECT_THROW(HistoryWriter("/nonexistent-dir/h.jsonl"), Error);
  EXPECT_THROW((void)read_history("/nonexistent-dir/h.jsonl"), HistoryError);
}

}  // namespace
}  // namespace bombarder
