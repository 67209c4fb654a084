#include "bombarder/cluster/cluster_tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bombarder/base/errors.h"
#include "bombarder/cluster/cluster_record.h"
#include "common/tls.h"

namespace bombarder {

namespace fs = std::filesystem;

namespace {

// Throw-away certificates outlive any test cluster by far; a year keeps a long-lived local
// cluster working without renewal.
constexpr int kValidDays = 365;

void write_file(const fs::path& path, const std::string& text, mode_t mode) {
  // Created with its final mode: a key is never readable by others, not even for a moment.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) environment_failure("cannot write " + path.string() + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      environment_failure("cannot write " + path.string() + ": " + why);
    }
    written += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);  // O_CREAT's mode only applies to a new file
  ::close(fd);
}

}  // namespace

GeneratedTls generate_cluster_tls(const fs::path& dir, size_t nodes, const std::string& host) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) environment_failure("cannot create " + dir.string() + ": " + ec.message());
  std::vector<std::string> hosts = {host};
  for (const char* local : {"127.0.0.1", "localhost"}) {
    if (host != local) hosts.emplace_back(local);
  }
  GeneratedTls out;
  try {
    const common::PemPair ca = common::generate_tls_ca("bombarder throw-away CA", kValidDays);
    out.ca_file = dir / "ca.crt";
    write_file(out.ca_file, ca.cert_pem, 0644);
    for (size_t i = 0; i < nodes; ++i) {
      const std::string name = "node-" + std::to_string(i);
      const common::PemPair leaf = common::generate_tls_leaf(ca, name, hosts, kValidDays);
      out.node_cert_files.push_back(dir / (name + ".crt"));
      out.node_key_files.push_back(dir / (name + ".key"));
      write_file(out.node_cert_files.back(), leaf.cert_pem, 0644);
      write_file(out.node_key_files.back(), leaf.key_pem, 0600);
    }
    const common::PemPair client = common::generate_tls_leaf(ca, "bombarder", hosts, kValidDays);
    out.client_cert_file = dir / "client.crt";
    out.client_key_file = dir / "client.key";
    write_file(out.client_cert_file, client.cert_pem, 0644);
    write_file(out.client_key_file, client.key_pem, 0600);
  } catch (const Error&) {
    throw;  // already one line for the user (a file that cannot be written)
  } catch (const std::runtime_error& e) {
    environment_failure(std::string("cannot generate the cluster's certificates: ") + e.what());
  }
  return out;
}

std::optional<RecordedNodeTls> recorded_cluster_tls() {
  const std::optional<ClusterRecord> record = load_cluster_record();
  if (!record || !record->tls) return std::nullopt;
  const TlsRecord& tls = *record->tls;
  return RecordedNodeTls{tls.ca_file, tls.client_cert_file, tls.client_key_file,
                         "the cluster recorded in " + cluster_record_path().string()};
}

}  // namespace bombarder
