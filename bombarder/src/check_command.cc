// PLACEHOLDER: being written (issue 5); registers nothing yet.
#include "commands.h"

namespace bombarder {

void add_check_command(CLI::App&, int&) {}

}  // namespace bombarder
