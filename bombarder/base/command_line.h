// The command line bombarder was started with, kept for the records a run leaves
// (summary.json's "command_line": `bombarder compare` shows it, so that a run can be repeated).
// Set once by main() before any command runs; read-only afterwards.
#pragma once

#include <string>
#include <vector>

namespace bombarder {

void record_command_line(int argc, const char* const* argv);
// argv as recorded (argv[0] included); empty when main() did not record it (unit tests).
[[nodiscard]] const std::vector<std::string>& recorded_command_line();

}  // namespace bombarder
