// Ed25519 keys through OpenSSL (ed25519_key.h): signatures verify only for the data and key they
// were made with; keys survive a round trip through their PEM files; files are never overwritten.
#include "bombarder/fleet/ed25519_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/temp_data_root.h"
#include "common/tls.h"
#include "error_message.h"

namespace bombarder {
namespace {

using KeyFileTest = test::TempDataRootTest;

TEST(Ed25519KeyTest, ASignatureVerifiesForItsDataOnly) {
  const Ed25519Key key = Ed25519Key::generate();
  const std::string signature = key.sign("hello");
  EXPECT_EQ(signature.size(), kEd25519SignatureBytes);
  EXPECT_TRUE(key.verify("hello", signature));
  EXPECT_FALSE(key.verify("hellO", signature));
  std::string flipped = signature;
  flipped[10] ^= 1;
  EXPECT_FALSE(key.verify("hello", flipped));
  EXPECT_FALSE(key.verify("hello", signature.substr(1)));
  EXPECT_FALSE(Ed25519Key::generate().verify("hello", signature));
}

TEST(Ed25519KeyTest, ThePublicHalfVerifiesAndHasTheSameFingerprint) {
  const Ed25519Key key = Ed25519Key::generate();
  const Ed25519Key pub = Ed25519Key::from_public_pem(key.public_pem());
  EXPECT_FALSE(pub.has_private());
  EXPECT_TRUE(pub.verify("data", key.sign("data")));
  EXPECT_EQ(pub.fingerprint(), key.fingerprint());
  EXPECT_EQ(key.fingerprint().size(), std::string("ed25519:").size() + 16);
  EXPECT_NE(key.fingerprint(), Ed25519Key::generate().fingerprint());
}

TEST(Ed25519KeyTest, APublicKeyOfAnotherAlgorithmOrGarbageIsRefused) {
  EXPECT_NE(test::runtime_error_message([] { (void)Ed25519Key::from_public_pem("not a key"); }),
            test::kNoError);
  EXPECT_NE(test::runtime_error_message([] { (void)Ed25519Key::from_public_pem(""); }),
            test::kNoError);
}

TEST_F(KeyFileTest, APrivateKeyFileRoundTripsWithMode0600) {
  const Ed25519Key key = Ed25519Key::generate();
  const auto path = root_ / "agent.pem";
  key.save_private_file(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const Ed25519Key loaded = Ed25519Key::load_private_file(path);
  EXPECT_EQ(loaded.fingerprint(), key.fingerprint());
  EXPECT_TRUE(key.verify("x", loaded.sign("x")));
}

TEST_F(KeyFileTest, AnExistingKeyFileIsNeverOverwritten) {
  const auto path = root_ / "agent.pem";
  Ed25519Key::generate().save_private_file(path);
  const std::string message =
      test::runtime_error_message([&] { Ed25519Key::generate().save_private_file(path); });
  EXPECT_NE(message.find("never overwritten"), std::string::npos) << message;
}

TEST_F(KeyFileTest, AnEcKeyFileIsNotAnEd25519Key) {
  const auto path = root_ / "ec.pem";
  std::ofstream(path) << common::generate_tls_ca("test", 1).key_pem;
  const std::string message =
      test::runtime_error_message([&] { (void)Ed25519Key::load_private_file(path); });
  EXPECT_NE(message.find("not an Ed25519 private key"), std::string::npos) << message;
  EXPECT_NE(test::runtime_error_message(
                [&] { (void)Ed25519Key::load_private_file(root_ / "missing.pem"); }),
            test::kNoError);
}

}  // namespace
}  // namespace bombarder
