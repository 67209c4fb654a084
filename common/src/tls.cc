#include "common/tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace common {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

// The file must exist and be readable: OpenSSL's own message for a missing file is vague.
bool readable(const std::string& path, const std::string& what, std::string* error) {
  std::ifstream in(path);
  if (in) return true;
  *error = "cannot read the " + what + " " + path + ": " + std::strerror(errno);
  return false;
}

void harden(SslContext& context) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::no_compression);
  SSL_CTX_set_options(context.native_handle(), SSL_OP_NO_RENEGOTIATION);
}

bool load_identity(SslContext& context, const TlsFiles& files, std::string* error) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    *error = "a TLS certificate and its key are given together (one of them is missing)";
    return false;
  }
  if (files.cert_file.empty()) return true;
  if (!readable(files.cert_file, "certificate file", error)) return false;
  if (!readable(files.key_file, "key file", error)) return false;
  boost::system::error_code ec;
  context.use_certificate_chain_file(files.cert_file, ec);
  if (ec) {
    *error = "the certificate file " + files.cert_file + " holds no usable PEM certificate (" +
             ec.message() + ")";
    return false;
  }
  context.use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) {
    *error = "the key file " + files.key_file +
             " is not an unencrypted PEM private key matching the certificate " + files.cert_file +
             " (" + ec.message() + ")";
    return false;
  }
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    ERR_clear_error();
    *error =
        "the key file " + files.key_file + " does not match the certificate " + files.cert_file;
    return false;
  }
  return true;
}

bool load_ca(SslContext& context, const std::string& ca_file, std::string* error) {
  if (!readable(ca_file, "CA file", error)) return false;
  boost::system::error_code ec;
  context.load_verify_file(ca_file, ec);
  if (ec) {
    *error = "the CA file " + ca_file + " holds no usable PEM certificate (" + ec.message() + ")";
    return false;
  }
  return true;
}

// --- throw-away PKI -------------------------------------------------------------------------

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

[[noreturn]] void openssl_failed(const std::string& what) {
  char text[256] = {};
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  ERR_clear_error();
  throw std::runtime_error("OpenSSL: " + what + " failed: " + text);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) openssl_failed("PEM_write_bio_X509");
  return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    openssl_failed("PEM_write_bio_PrivateKey");
  }
  return bio_text(bio.get());
}

KeyPtr new_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) openssl_failed("EVP_EC_gen");
  return key;
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (extension == nullptr) openssl_failed("X509V3_EXT_conf_nid " + value);
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) openssl_failed("X509_add_ext");
}

// A certificate for `key` named `common_name`, valid from an hour ago (clock skew between
// hosts) for `valid_days`, with a random 120-bit serial (RFC 5280 §4.1.2.2: unique per CA).
CertPtr new_cert(EVP_PKEY* key, const std::string& common_name, int valid_days) {
  CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) openssl_failed("X509_new");
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    openssl_failed("serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 86400) ==
          nullptr) {
    openssl_failed("validity");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) openssl_failed("X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    openssl_failed("subject name");
  }
  return cert;
}

}  // namespace

std::shared_ptr<SslContext> make_server_tls_context(const TlsFiles& files, std::string* error) {
  if (files.cert_file.empty()) {
    *error = "a TLS server needs a certificate and its key";
    return nullptr;
  }
  auto context = std::make_shared<SslContext>(SslContext::tls_server);
  harden(*context);
  if (!load_identity(*context, files, error)) return nullptr;
  if (!files.ca_file.empty()) {
    if (!load_ca(*context, files.ca_file, error)) return nullptr;
    // Ask for a client certificate and name the acceptable CAs; a missing one is allowed here
    // and refused per route (see the top of tls.h).
    context->set_verify_mode(ssl::verify_peer);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(context->native_handle(), names);
    // Required by OpenSSL for session resumption once client certificates are verified.
    static constexpr unsigned char kSessionContext[] = "raftkv";
    SSL_CTX_set_session_id_context(context->native_handle(), kSessionContext,
                                   sizeof kSessionContext - 1);
  }
  ERR_clear_error();
  return context;
}

std::shared_ptr<SslContext> make_client_tls_context(const TlsFiles& files, std::string* error) {
  auto context = std::make_shared<SslContext>(SslContext::tls_client);
  harden(*context);
  context->set_verify_mode(ssl::verify_peer);
  if (files.ca_file.empty()) {
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);
    if (ec) {
      *error = "cannot load the system's trusted CAs: " + ec.message();
      return nullptr;
    }
  } else if (!load_ca(*context, files.ca_file, error)) {
    return nullptr;
  }
  if (!load_identity(*context, files, error)) return nullptr;
  ERR_clear_error();
  return context;
}

bool prepare_client_tls(SSL* ssl, const std::string& host, std::string* error) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  bool ok = false;
  if (!ec) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  } else {
    ok = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    *error = "cannot set up certificate verification for host " + host;
  }
  return ok;
}

bool peer_certificate_verified(SSL* ssl) {
  return SSL_get0_peer_certificate(ssl) != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
}

bool verifies_client_certificates(SslContext& context) {
  return (SSL_CTX_get_verify_mode(context.native_handle()) & SSL_VERIFY_PEER) != 0;
}

PemPair generate_tls_ca(const std::string& common_name, int valid_days) {
  KeyPtr key = new_key();
  CertPtr cert = new_cert(key.get(), common_name, valid_days);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    openssl_failed("issuer name");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) openssl_failed("X509_sign");
  return {cert_pem(cert.get()), key_pem(key.get())};
}

PemPair generate_tls_leaf(const PemPair& ca, const std::string& common_name,
                          const std::vector<std::string>& hosts, int valid_days) {
  if (hosts.empty()) throw std::invalid_argument("generate_tls_leaf: no host names");
  BioPtr ca_cert_bio(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
  BioPtr ca_key_bio(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
  if (!ca_cert_bio || !ca_key_bio) openssl_failed("BIO_new_mem_buf");
  CertPtr ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr));
  KeyPtr ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_cert || !ca_key) openssl_failed("reading the CA");

  KeyPtr key = new_key();
  CertPtr cert = new_cert(key.get(), common_name, valid_days);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1) {
    openssl_failed("issuer name");
  }
  std::string names;
  for (const std::string& host : hosts) {
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    if (!names.empty()) names += ',';
    names += ec ? "DNS:" : "IP:";
    names += host;
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement");
  // A node is a TLS server to clients and peers, and a TLS client to its peers.
  add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  add_extension(cert.get(), &ctx, NID_subject_alt_name, names);
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) openssl_failed("X509_sign");
  return {cert_pem(cert.get()), key_pem(key.get())};
}

}  // namespace common
