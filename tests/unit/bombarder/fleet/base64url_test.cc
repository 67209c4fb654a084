// base64url without padding (RFC 4648 §5 and its test vectors of §10).
#include "bombarder/fleet/base64url.h"

#include <gtest/gtest.h>

namespace bombarder {
namespace {

TEST(Base64urlTest, Rfc4648VectorsEncodeWithoutPadding) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64url_encode(plain), encoded);
    EXPECT_EQ(base64url_decode(encoded), plain);
  }
}

TEST(Base64urlTest, TheUrlAlphabetReplacesPlusAndSlash) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64urlTest, PaddingForeignCharactersAndImpossibleLengthsAreRefused) {
  EXPECT_EQ(base64url_decode("Zg=="), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm+v"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9vY"), std::nullopt);
  // "Zh" carries non-zero bits past the byte: a second encoding of "f" is not accepted.
  EXPECT_EQ(base64url_decode("Zh"), std::nullopt);
}

}  // namespace
}  // namespace bombarder
