// What a recorded operation is (docs/history.md): its kind, and what a list returned. Written by
// the load engine, read by the history format and the checker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bombarder {

// kList is a lookup through the key index, GET /api/kv?key=K&limit=N, of a key this run created.
enum class OpKind : uint8_t { kCreate, kRead, kUpdate, kDelete, kList };
inline constexpr size_t kOpKindCount = 5;
[[nodiscard]] const char* to_string(OpKind kind);
// One entry a list returned.
struct ListedEntry {
  std::string id;
  std::string key;
  std::string value;
  bool operator==(const ListedEntry&) const = default;
};

}  // namespace bombarder
