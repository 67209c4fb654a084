// Fuzz target: the history line reader (bombarder/history/history.h parse_history), which
// `bombarder check` and `bombarder report` run on files that may be truncated, hand-edited or not
// histories.
//
// Input: the file's bytes.
// Oracles: parse_history either returns or throws HistoryError (its contract), never anything
// else; a history it accepts, written back with append_history_line, reads back to the same
// lines (writer and reader agree).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "bombarder/history/history.h"
#include "fuzz_support.h"

namespace {

std::string write_back(const bombarder::History& history) {
  std::string out;
  for (const auto& op : history.ops) bombarder::append_history_line(out, op);
  for (const auto& fault : history.faults) bombarder::append_history_line(out, fault);
  for (const auto& role : history.roles) bombarder::append_history_line(out, role);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  bombarder::History history;
  try {
    history = bombarder::parse_history(in);
  } catch (const bombarder::HistoryError& e) {
    FUZZ_CHECK(e.what()[0] != '\0', "a rejected history says why");
    return 0;
  }
  const std::string written = write_back(history);
  std::istringstream again(written);
  bombarder::History reread;
  try {
    reread = bombarder::parse_history(again);
  } catch (const bombarder::HistoryError& e) {
    FUZZ_CHECK(false, std::string("the reader refuses what the writer wrote: ") + e.what() + "\n" +
                          written);
  }
  FUZZ_CHECK(write_back(reread) == written, "a history survives a write and a read");
  return 0;
}
