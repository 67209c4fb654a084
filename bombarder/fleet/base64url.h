// Base64url without padding (RFC 4648 §5), the encoding of JWT parts (RFC 7515 §2) and of the
// signatures and nonces in fleet messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bombarder {

[[nodiscard]] std::string base64url_encode(std::string_view bytes);
// nullopt on any character outside the alphabet, padding, or an impossible length.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bombarder
