// A throw-away PKI in a fresh temporary directory for tests of TLS code (common/tls.h, bombarder's
// node TLS and load connections): a CA, certificates it signed, and a second, unrelated CA with
// its own certificate for 127.0.0.1 (what an attacker could make). Removed on destruction.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/tls.h"

namespace common::test {

class TestPki {
 public:
  // ca.crt; node.{crt,key} for 127.0.0.1 and localhost; elsewhere.{crt,key} for 10.9.8.7;
  // rogue-ca.crt and rogue.{crt,key} for 127.0.0.1 from the rogue CA.
  TestPki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "test_pki.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    ca_ = generate_tls_ca("test CA", 1);
    write("ca.crt", ca_.cert_pem);
    add_leaf("node", {"127.0.0.1", "localhost"});
    add_leaf("elsewhere", {"10.9.8.7"});
    const PemPair rogue_ca = generate_tls_ca("rogue CA", 1);
    write("rogue-ca.crt", rogue_ca.cert_pem);
    write_pair("rogue", generate_tls_leaf(rogue_ca, "rogue", {"127.0.0.1"}, 1));
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // Another certificate `name`.{crt,key} from the test CA for `hosts`.
  void add_leaf(const std::string& name, const std::vector<std::string>& hosts) {
    write_pair(name, generate_tls_leaf(ca_, name, hosts, 1));
  }

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // cert, key and CA for `name` ("node", "rogue", ...; "" for none) verified by `ca` ("ca" or
  // "rogue-ca").
  [[nodiscard]] TlsFiles files(const std::string& name, const std::string& ca = "ca") const {
    return {name.empty() ? "" : path(name + ".crt"), name.empty() ? "" : path(name + ".key"),
            path(ca + ".crt")};
  }

 private:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  void write_pair(const std::string& name, const PemPair& pair) {
    write(name + ".crt", pair.cert_pem);
    write(name + ".key", pair.key_pem);
  }

  std::filesystem::path dir_;
  PemPair ca_;
};

}  // namespace common::test
