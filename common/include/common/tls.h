// TLS for the HTTP server and clients (Boost.Asio SSL on OpenSSL; issue 14 "TLS (opt-in)"), and
// a throw-away PKI for test clusters (`bombarder cluster start --tls`) and tests.
//
// Policy, in one place:
// - TLS 1.2 or newer, OpenSSL's default cipher list, no compression, no renegotiation.
// - A server context with a CA file asks every client for a certificate and verifies one when
//   it is presented (a certificate that does not verify fails the handshake). A client without
//   one is still served: the HTTP server refuses it on the routes marked as needing one (the
//   peer RPCs, http_server.h RouteOptions), so clients of the API need no certificate.
// - A client verifies the server's certificate against the CA file (or OpenSSL's default trust
//   store when none is given) and against the host it dialled: an IP literal must match an IP
//   SAN, a name a DNS SAN (prepare_client_tls). A client certificate is presented when given.
//
// Errors: the make_* functions return nullptr and a one-line reason naming the file; the
// generate_* functions throw std::runtime_error (they only fail when OpenSSL does).
#pragma once

#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
#include <string>
#include <vector>

namespace common {

using SslContext = boost::asio::ssl::context;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

struct TlsFiles {
  std::string cert_file;  // PEM, leaf first then intermediates; "" = none (clients only)
  std::string key_file;   // PEM private key, unencrypted; given with cert_file
  std::string ca_file;    // PEM CA certificates to verify the other side with; "" = none
};

[[nodiscard]] std::shared_ptr<SslContext> make_server_tls_context(const TlsFiles& files,
                                                                  std::string* error);
[[nodiscard]] std::shared_ptr<SslContext> make_client_tls_context(const TlsFiles& files,
                                                                  std::string* error);

// Before a client handshake on `ssl`: SNI for a host name, and the name or IP the server's
// certificate must carry. False (with *error) only when OpenSSL refuses the parameters.
[[nodiscard]] bool prepare_client_tls(SSL* ssl, const std::string& host, std::string* error);

// True when the other side of this (finished) handshake presented a certificate that verified.
[[nodiscard]] bool peer_certificate_verified(SSL* ssl);
// True when a server context asks clients for certificates (it was made with a CA file).
[[nodiscard]] bool verifies_client_certificates(SslContext& context);

// Throw-away PKI, generated with the OpenSSL API (EC P-256 keys, SHA-256 signatures).
struct PemPair {
  std::string cert_pem;
  std::string key_pem;
};
// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign).
[[nodiscard]] PemPair generate_tls_ca(const std::string& common_name, int valid_days);
// A certificate signed by `ca` for both TLS server and client use (a node is both to its
// peers). `hosts`: IP literals become IP SANs, anything else DNS SANs; at least one.
[[nodiscard]] PemPair generate_tls_leaf(const PemPair& ca, const std::string& common_name,
                                        const std::vector<std::string>& hosts, int valid_days);

}  // namespace common
