#include "http/tls_context.h"

#include <gtest/gtest.h>

#include <string>

namespace connwatch {
namespace {

const std::string kCerts = std::string(CONNWATCH_FIXTURES_DIR) + "/web_config/certs";

TlsSettings Pair(const std::string& cert, const std::string& key) {
  TlsSettings settings;
  settings.cert_file = kCerts + "/" + cert;
  settings.key_file = kCerts + "/" + key;
  return settings;
}

TEST(TlsContextTest, MatchingPairLoads) {
  std::string error;
  EXPECT_TRUE(CheckTlsSettings(Pair("server.crt", "server.key"), error)) << error;
}

TEST(TlsContextTest, MismatchedPairNamesBothFiles) {
  std::string error;
  EXPECT_FALSE(CheckTlsSettings(Pair("server.crt", "ca.key"), error));
  EXPECT_EQ(error.rfind("tls_server_config.key_file: " + kCerts + "/ca.key does not match the " +
                            "certificate in cert_file " + kCerts + "/server.crt (",
                        0),
            0u)
      << error;
}

TEST(TlsContextTest, UnreadableFilesAreNamed) {
  std::string error;
  EXPECT_FALSE(CheckTlsSettings(Pair("server.key", "server.key"), error));
  EXPECT_EQ(error.rfind("tls_server_config.cert_file: " + kCerts + "/server.key: ", 0), 0u)
      << error;
  EXPECT_FALSE(CheckTlsSettings(Pair("server.crt", "server.crt"), error));
  EXPECT_EQ(error.rfind("tls_server_config.key_file: " + kCerts + "/server.crt: ", 0), 0u) << error;
  TlsSettings settings = Pair("server.crt", "server.key");
  settings.client_cert = {true, true, true};
  settings.client_ca_file = kCerts + "/ca.key";
  EXPECT_FALSE(CheckTlsSettings(settings, error));
  EXPECT_EQ(error.rfind("tls_server_config.client_ca_file: " + kCerts + "/ca.key", 0), 0u) << error;
  settings.client_ca_file = kCerts + "/ca.crt";
  EXPECT_TRUE(CheckTlsSettings(settings, error)) << error;
}

}  // namespace
}  // namespace connwatch
