#include "bombarder/cluster/cluster_secrets.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "bombarder/base/data_root.h"
#include "bombarder/base/errors.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

namespace fs = std::filesystem;

namespace {

constexpr size_t kSecretBytes = 32;

void write_private_file(const fs::path& path, const std::string& content) {
  const fs::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  ::unlink(temp.c_str());
  // Created 0600 from the start: never a moment where another user could read it.
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) environment_failure("cannot create " + temp.string() + ": " + std::strerror(errno));
  const bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) fs::rename(temp, path, ec);
  if (!written || ec) {
    fs::remove(temp, ec);
    environment_failure("cannot write " + path.string());
  }
}

std::string trimmed_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    environment_failure("OpenSSL RAND_bytes failed: no random secret could be made");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : raw) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  return hex;
}

ClusterSecrets create_cluster_secrets(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) environment_failure("cannot create " + dir.string() + ": " + ec.message());
  ClusterSecrets secrets{dir / "cluster-secret", dir / "admin-token"};
  write_private_file(secrets.cluster_secret_file, random_hex(kSecretBytes) + "\n");
  write_private_file(secrets.admin_token_file, random_hex(kSecretBytes) + "\n");
  return secrets;
}

std::vector<std::pair<std::string, std::string>> admin_auth_headers() {
  fs::path token_file = data_root() / "admin-token";
  if (const auto record = load_cluster_record(); record && !record->admin_token_file.empty()) {
    token_file = record->admin_token_file;
  }
  std::error_code ec;
  if (!fs::is_regular_file(token_file, ec)) return {};
  const std::string token = trimmed_file(token_file);
  if (token.empty()) return {};
  return {{"Authorization", "Bearer " + token}};
}

}  // namespace bombarder
