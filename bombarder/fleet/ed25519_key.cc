#include "bombarder/fleet/ed25519_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "bombarder/base/errors.h"

namespace bombarder {

namespace {

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

}  // namespace

Ed25519Key Ed25519Key::generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) environment_failure("OpenSSL could not generate an Ed25519 key");
  return {own(key), true};
}

Ed25519Key Ed25519Key::load_private_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) environment_failure("cannot read key file " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return from_private_pem(text.str(), path.string());
}

Ed25519Key Ed25519Key::from_private_pem(std::string_view pem, const std::string& source) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    invalid_input(source + " is not an Ed25519 private key (PEM)");
  }
  return {own(key), true};
}

Ed25519Key Ed25519Key::from_public_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > kPublicKeyPemBytesMax) {
    invalid_input("a public key must be one Ed25519 PEM block");
  }
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    invalid_input("not an Ed25519 public key (PEM \"BEGIN PUBLIC KEY\")");
  }
  return {own(key), false};
}

std::string Ed25519Key::private_pem() const {
  if (!has_private_) environment_failure("no private key to encode");
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    environment_failure("OpenSSL could not encode the private key");
  }
  return bio_text(bio.get());
}

void Ed25519Key::save_private_file(const std::filesystem::path& path) const {
  const std::string pem = private_pem();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    environment_failure("cannot create " + path.string() +
                        (errno == EEXIST ? ": it exists (a key is never overwritten)" : ""));
  }
  const bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  const bool closed = ::close(fd) == 0;
  if (!ok || !closed) environment_failure("cannot write " + path.string());
}

std::string Ed25519Key::public_pem() const {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PUBKEY(bio.get(), key_.get())) {
    environment_failure("OpenSSL could not encode the public key");
  }
  return bio_text(bio.get());
}

std::string Ed25519Key::fingerprint() const {
  unsigned char raw[32];
  size_t raw_size = sizeof(raw);
  if (!EVP_PKEY_get_raw_public_key(key_.get(), raw, &raw_size)) {
    environment_failure("OpenSSL could not read the raw public key");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(raw, raw_size, digest);
  std::string out = "ed25519:";
  char hex[3];
  for (size_t i = 0; i < 8; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    out += hex;
  }
  return out;
}

std::string Ed25519Key::sign(std::string_view data) const {
  if (!has_private_) throw std::logic_error("Ed25519Key::sign without a private key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(kEd25519SignatureBytes, '\0');
  size_t size = signature.size();
  // Ed25519 is a one-shot signature: no digest (nullptr) and EVP_DigestSign, not Update/Final.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    environment_failure("OpenSSL could not sign with the Ed25519 key");
  }
  signature.resize(size);
  return signature;
}

bool Ed25519Key::verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

}  // namespace bombarder
