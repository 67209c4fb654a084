// Ed25519 key pairs of the fleet (issue 17): an agent proves possession of its private key at
// registration, the orchestrator signs its tokens and its commands with its own. All of it is
// OpenSSL's EVP API (EVP_PKEY_ED25519); nothing here is hand-written cryptography.
//
// Files are PEM: the private key PKCS#8 ("BEGIN PRIVATE KEY", written 0600), the public key
// SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"). Signatures are the raw 64 bytes Ed25519 defines.
// An Ed25519Key is immutable once made; sign/verify are thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace bombarder {

inline constexpr size_t kEd25519SignatureBytes = 64;
inline constexpr size_t kPublicKeyPemBytesMax = 512;  // an Ed25519 SPKI PEM is 113 bytes

class Ed25519Key {
 public:
  [[nodiscard]] static Ed25519Key generate();
  // Throws Error(kEnvironment) when the file cannot be read, Error(kInvalidInput) when it is not
  // an Ed25519 private key.
  [[nodiscard]] static Ed25519Key load_private_file(const std::filesystem::path& path);
  // The same from PEM text (PKCS#8); Error(kInvalidInput) names `source` when it is not one.
  [[nodiscard]] static Ed25519Key from_private_pem(std::string_view pem, const std::string& source);
  // Throws Error(kInvalidInput) unless `pem` is one Ed25519 public key.
  [[nodiscard]] static Ed25519Key from_public_pem(std::string_view pem);

  // Writes the private key (mode 0600) to `path`, which must not exist yet (a key is never
  // overwritten by accident). Throws Error(kEnvironment) on failure.
  void save_private_file(const std::filesystem::path& path) const;

  [[nodiscard]] bool has_private() const { return has_private_; }
  [[nodiscard]] std::string public_pem() const;
  // PKCS#8 PEM of the private half, for a store that keeps the key itself; Error(kEnvironment)
  // without one.
  [[nodiscard]] std::string private_pem() const;
  // "ed25519:" + the first 16 hex digits of SHA-256 over the raw public key: a short, stable id.
  [[nodiscard]] std::string fingerprint() const;

  // The 64-byte signature of `data`; the key must have its private half (asserted).
  [[nodiscard]] std::string sign(std::string_view data) const;
  // False for a bad signature of any length; never throws.
  [[nodiscard]] bool verify(std::string_view data, std::string_view signature) const;

 private:
  Ed25519Key(std::shared_ptr<EVP_PKEY> key, bool has_private)
      : key_(std::move(key)), has_private_(has_private) {}
  std::shared_ptr<EVP_PKEY> key_;
  bool has_private_ = false;
};

}  // namespace bombarder
