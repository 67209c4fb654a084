#include "bombarder/client/node_tls.h"

#include <utility>

#include "bombarder/base/errors.h"
#include "common/tls.h"

namespace bombarder {

namespace {

RecordedNodeTlsLookup& recorded_lookup() {
  static RecordedNodeTlsLookup lookup;
  return lookup;
}

std::optional<RecordedNodeTls> recorded_node_tls() {
  const RecordedNodeTlsLookup& lookup = recorded_lookup();
  if (!lookup) return std::nullopt;
  return lookup();
}

}  // namespace

NodeTlsFlags& node_tls_flags() {
  static NodeTlsFlags flags;
  return flags;
}

void set_recorded_node_tls(RecordedNodeTlsLookup lookup) { recorded_lookup() = std::move(lookup); }

bool node_tls_configured() {
  const NodeTlsFlags& f = node_tls_flags();
  if (!f.cacert.empty() || !f.cert.empty()) return true;
  return recorded_node_tls().has_value();
}

std::shared_ptr<boost::asio::ssl::context> node_tls_context() {
  const NodeTlsFlags& f = node_tls_flags();
  std::string error;
  if (!f.cacert.empty() || !f.cert.empty() || !f.key.empty()) {
    if (f.cacert.empty()) invalid_input("--cert/--key need --cacert (the CA of the nodes)");
    auto context = common::make_client_tls_context({f.cert, f.key, f.cacert}, &error);
    if (!context) invalid_input(error);
    return context;
  }
  const std::optional<RecordedNodeTls> tls = recorded_node_tls();
  if (!tls) return nullptr;
  auto context = common::make_client_tls_context(
      {tls->client_cert_file.string(), tls->client_key_file.string(), tls->ca_file.string()},
      &error);
  if (!context) {
    environment_failure("the TLS files of " + tls->source + " are unusable: " + error);
  }
  return context;
}

}  // namespace bombarder
