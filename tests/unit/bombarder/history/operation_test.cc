// history/operation.h: the operation kinds' names are the "op" field of the history format
// (docs/history.md), read back by `check` and `report` of later releases: they must not change,
// and every kind must have its own.
#include "bombarder/history/operation.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace bombarder {
namespace {

TEST(OperationKind, NamesAreTheHistoryFormatsOpValues) {
  EXPECT_STREQ(to_string(OpKind::kCreate), "create");
  EXPECT_STREQ(to_string(OpKind::kRead), "read");
  EXPECT_STREQ(to_string(OpKind::kUpdate), "update");
  EXPECT_STREQ(to_string(OpKind::kDelete), "delete");
  EXPECT_STREQ(to_string(OpKind::kList), "list");
}

TEST(OperationKind, EveryKindUpToTheCountHasItsOwnName) {
  // kOpKindCount sizes per-kind arrays (load statistics, metrics): a kind added to the enum
  // without raising the count, or without a name, fails here.
  std::set<std::string> names;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const std::string name = to_string(static_cast<OpKind>(k));
    EXPECT_NE(name, "?") << "kind " << k << " has no name";
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kOpKindCount);
  EXPECT_STREQ(to_string(static_cast<OpKind>(kOpKindCount)), "?");
}

TEST(ListedEntry, EqualOnlyWhenIdKeyAndValueAllMatch) {
  const ListedEntry entry{"id-1", "k", "v"};
  EXPECT_EQ(entry, (ListedEntry{"id-1", "k", "v"}));
  EXPECT_NE(entry, (ListedEntry{"id-2", "k", "v"}));
  EXPECT_NE(entry, (ListedEntry{"id-1", "other", "v"}));
  EXPECT_NE(entry, (ListedEntry{"id-1", "k", "other"}));
}

}  // namespace
}  // namespace bombarder
