// `bombarder orchestratr`: CLI11 alone answers "A subcommand is required", which does not say
// what was wrong; this names the word and the nearest subcommand (issue 16).
#include <algorithm>
#include <numeric>
#include <string_view>

#include "bombarder/commands/commands.h"

namespace bombarder {

namespace {

// Levenshtein distance: insertions, deletions and substitutions of one character.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> unknown_subcommand_message(const CLI::App& app,
                                                      const std::vector<std::string>& args) {
  if (args.empty() || args[0].empty() || args[0][0] == '-') return std::nullopt;
  const std::string& word = args[0];
  const std::vector<const CLI::App*> subcommands = app.get_subcommands(
      [](const CLI::App* sub) { return !sub->get_name().empty(); });  // not option groups
  for (const CLI::App* sub : subcommands) {
    if (sub->check_name(word)) return std::nullopt;
  }
  std::string nearest;
  size_t nearest_distance = 0;
  // In the order of --help; hidden subcommands (no group) are not suggested.
  for (const CLI::App* sub : subcommands) {
    if (sub->get_group().empty()) continue;
    const size_t distance = edit_distance(word, sub->get_name());
    if (nearest.empty() || distance < nearest_distance) {
      nearest = sub->get_name();
      nearest_distance = distance;
    }
  }
  std::string message = "unknown subcommand '" + word + "'";
  if (!nearest.empty()) message += "; the nearest is '" + nearest + "'";
  return message;
}

}  // namespace bombarder
