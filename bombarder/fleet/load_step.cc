#include "bombarder/fleet/load_step.h"

#include <stdexcept>

namespace bombarder {

namespace {

LoadCommands& installed() {
  static LoadCommands commands;
  return commands;
}

}  // namespace

void install_load_commands(LoadCommands commands) { installed() = std::move(commands); }

const LoadCommands& load_commands() {
  const LoadCommands& commands = installed();
  if (!commands.check || !commands.run) {
    throw std::logic_error("load steps need the load commands (install_load_commands)");
  }
  return commands;
}

}  // namespace bombarder
