#include "bombarder/base/command_line.h"

namespace bombarder {

namespace {

std::vector<std::string>& command_line() {
  static std::vector<std::string> words;
  return words;
}

}  // namespace

void record_command_line(int argc, const char* const* argv) {
  command_line().assign(argv, argv + argc);
}

const std::vector<std::string>& recorded_command_line() { return command_line(); }

}  // namespace bombarder
