// Which kind of store a command talks to (`--system stress_node|etcd|redis`, issue 18). Its adapter
// is in store_adapter.h; this small header is what records (cluster.json) need.
#pragma once

#include <cstdint>
#include <string_view>

namespace bombarder {

enum class StoreSystem : uint8_t { kStressNode, kEtcd, kRedis };
[[nodiscard]] const char* to_string(StoreSystem system);
// "stress_node", "etcd" or "redis"; throws Error(kInvalidInput) naming the accepted values
// otherwise.
[[nodiscard]] StoreSystem parse_store_system(std::string_view text);

}  // namespace bombarder
