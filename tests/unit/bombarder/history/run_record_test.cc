// history/run_record.h: what a load run leaves under $STRESS_TEST_DATA/runs/<id>/ is what
// `verify` reads back, field for field, by id, by directory or as "last"; a damaged record is
// a one-line error naming the file and line, never a crash or a silently empty record.
#include "bombarder/history/run_record.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>

#include "base/temp_data_root.h"

namespace bombarder {
namespace {

namespace fs = std::filesystem;

AckedWrite written(std::string key, std::string value) {
  AckedWrite w;
  w.key = std::move(key);
  w.value = std::move(value);
  return w;
}

class RunRecordTest : public test::TempDataRootTest {
 protected:
  // A record of one run with every kind of acknowledged write: a live value, a deletion, an
  // update and a delete whose outcomes are unknown.
  static RunRecord filled(RunRecord record) {
    record.summary = {{"command", "storm"}, {"requests", 4}, {"passed", true}};
    record.acked["id-live"] = written("k1", "v1");
    record.acked["id-deleted"] = written("k2", "v2");
    record.acked["id-deleted"].deleted = true;
    AckedWrite& update = record.acked["id-unknown-update"] = written("k3", "v3");
    update.uncertain = true;
    update.uncertain_value = "v3b";
    AckedWrite& erase = record.acked["id-unknown-delete"] = written("k4", "v4");
    erase.uncertain = true;
    erase.uncertain_delete = true;
    return record;
  }

  static void expect_same_writes(const RunRecord& a, const RunRecord& b) {
    ASSERT_EQ(a.acked.size(), b.acked.size());
    for (const auto& [id, w] : a.acked) {
      const auto it = b.acked.find(id);
      ASSERT_NE(it, b.acked.end()) << id;
      EXPECT_EQ(it->second.key, w.key) << id;
      EXPECT_EQ(it->second.value, w.value) << id;
      EXPECT_EQ(it->second.deleted, w.deleted) << id;
      EXPECT_EQ(it->second.uncertain, w.uncertain) << id;
      EXPECT_EQ(it->second.uncertain_value, w.uncertain_value) << id;
      EXPECT_EQ(it->second.uncertain_delete, w.uncertain_delete) << id;
    }
  }

  static void write_acked(const RunRecord& record, const std::string& text) {
    std::ofstream(record.dir / "acked.jsonl", std::ios::trunc) << text;
  }
};

TEST_F(RunRecordTest, ANewRunIsNamedByUtcTimeCommandAndPidUnderRuns) {
  const RunRecord record = begin_run_record("storm");
  EXPECT_TRUE(std::regex_match(record.id, std::regex(R"(\d{8}T\d{6}-storm-\d+)"))) << record.id;
  EXPECT_TRUE(record.id.ends_with("-" + std::to_string(::getpid()))) << record.id;
  EXPECT_EQ(record.dir, root_ / "runs" / record.id);
  EXPECT_TRUE(fs::is_directory(record.dir));
}

TEST_F(RunRecordTest, SavedRunLoadsBackAsTheLastFieldForField) {
  const RunRecord saved = filled(begin_run_record("storm"));
  save_run_record(saved);
  for (const char* which : {"", "last"}) {
    const std::optional<RunRecord> loaded = load_run_record(which);
    ASSERT_TRUE(loaded) << "which=\"" << which << "\"";
    EXPECT_EQ(loaded->id, saved.id);
    EXPECT_EQ(loaded->dir, saved.dir);
    EXPECT_EQ(loaded->summary, saved.summary);
    expect_same_writes(saved, *loaded);
  }
}

TEST_F(RunRecordTest, ARunIsFoundByItsIdAndByItsDirectory) {
  const RunRecord saved = filled(begin_run_record("flood"));
  save_run_record(saved);
  const std::optional<RunRecord> by_id = load_run_record(saved.id);
  ASSERT_TRUE(by_id);
  expect_same_writes(saved, *by_id);
  const std::optional<RunRecord> by_dir = load_run_record(saved.dir.string());
  ASSERT_TRUE(by_dir);
  EXPECT_EQ(by_dir->id, saved.id);
  expect_same_writes(saved, *by_dir);
}

TEST_F(RunRecordTest, LastPointsAtTheLatestSavedRun) {
  RunRecord first = filled(begin_run_record("storm"));
  save_run_record(first);
  // A second run of the same command in the same second would get the same id: name it apart.
  RunRecord second;
  second.id = first.id + "-second";
  second.dir = root_ / "runs" / second.id;
  fs::create_directories(second.dir);
  second.acked["only-in-second"] = written("k", "v");
  save_run_record(second);
  const std::optional<RunRecord> last = load_run_record("last");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->id, second.id);
  expect_same_writes(second, *last);
  EXPECT_FALSE(fs::exists(root_ / "runs" / ("last.tmp." + std::to_string(::getpid()))));
}

TEST_F(RunRecordTest, NoRunYetIsNotAnErrorForTheDefaultButIsForANamedRun) {
  EXPECT_FALSE(load_run_record(""));
  EXPECT_FALSE(load_run_record("last"));
  try {
    (void)load_run_record("20260101T000000-storm-1");
    FAIL() << "a named run that does not exist must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no run record at"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("20260101T000000-storm-1"), std::string::npos) << e.what();
  }
}

TEST_F(RunRecordTest, LastNamingAVanishedRunIsAnError) {
  const RunRecord saved = filled(begin_run_record("storm"));
  save_run_record(saved);
  fs::remove_all(saved.dir);
  EXPECT_THROW((void)load_run_record("last"), std::runtime_error);
}

TEST_F(RunRecordTest, AMalformedAckedLineIsNamedByFileAndLine) {
  const RunRecord saved = filled(begin_run_record("storm"));
  save_run_record(saved);
  write_acked(saved, R"({"id":"a","key":"k","value":"v","deleted":false})"
                     "\n\n"
                     R"({"id":"b","key":"k","deleted":false})"
                     "\n");
  try {
    (void)load_run_record(saved.id);
    FAIL() << "a line without its value must be refused";
  } catch (const std::runtime_error& e) {
    // Line 3: the blank line between is skipped but still counted.
    const std::string expected = (saved.dir / "acked.jsonl").string() + ":3: ";
    EXPECT_TRUE(std::string(e.what()).starts_with(expected)) << e.what();
  }
}

TEST_F(RunRecordTest, ALineThatIsNotJsonIsAnErrorNotACrash) {
  const RunRecord saved = filled(begin_run_record("storm"));
  save_run_record(saved);
  write_acked(saved, "{\"id\": \"a\", \"key\n");
  try {
    (void)load_run_record(saved.id);
    FAIL() << "a truncated line must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("acked.jsonl:1: "), std::string::npos) << e.what();
  }
}

TEST_F(RunRecordTest, AMissingAckedFileIsAnError) {
  const RunRecord saved = filled(begin_run_record("storm"));
  save_run_record(saved);
  fs::remove(saved.dir / "acked.jsonl");
  try {
    (void)load_run_record(saved.id);
    FAIL() << "a run directory without acked.jsonl must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read"), std::string::npos) << e.what();
  }
}

TEST_F(RunRecordTest, SavingIntoAVanishedDirectoryIsAnError) {
  RunRecord record = filled(begin_run_record("storm"));
  fs::remove_all(record.dir);
  EXPECT_THROW(save_run_record(record), std::runtime_error);
  // runs/last was not moved to a run that was never written.
  EXPECT_FALSE(load_run_record("last"));
}

}  // namespace
}  // namespace bombarder
