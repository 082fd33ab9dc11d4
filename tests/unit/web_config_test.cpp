#include "http/web_config.h"

#include <gtest/gtest.h>

#include <string>

namespace connwatch {
namespace {

const std::string kDir = std::string(CONNWATCH_FIXTURES_DIR) + "/web_config/good";
constexpr const char* kHash = "$2b$10$bKrezo3bkgkE3tWCivp2UOirmosToujAJdrF9rASoWKy8BPBVXHE.";

std::string ParseError(const std::string& text) {
  WebConfig config;
  std::string error;
  EXPECT_FALSE(ParseWebConfig(text, "web.yml", kDir, config, error)) << text;
  return error;
}

TEST(WebConfigTest, EmptyFileIsNoAuthNoTls) {
  WebConfig config;
  std::string error;
  ASSERT_TRUE(ParseWebConfig("", "web.yml", kDir, config, error)) << error;
  EXPECT_FALSE(config.tls);
  EXPECT_TRUE(config.basic_auth_users.empty());
  EXPECT_TRUE(config.http2);
}

TEST(WebConfigTest, ParsesUsersHeadersAndTls) {
  std::string text = std::string("basic_auth_users:\n  alice: ") + kHash +
                     "\nhttp_server_config:\n  http2: false\n  headers:\n"
                     "    X-Frame-Options: deny\n    Content-Security-Policy: default-src 'self'\n"
                     "tls_server_config:\n  cert_file: ../certs/server.crt\n"
                     "  key_file: /abs/../" +
                     "x\n";
  // key_file is absolute and missing: reported at its value.
  EXPECT_EQ(ParseError(text), "web.yml:10:13: tls_server_config.key_file: cannot read /abs/../x");

  text = std::string("basic_auth_users:\n  alice: ") + kHash +
         "\nhttp_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
         "    Content-Security-Policy: default-src 'self'\n"
         "tls_server_config:\n  cert_file: ../certs/server.crt\n  key_file: ../certs/server.key\n"
         "  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
         "  curve_preferences: [X25519]\n";
  WebConfig config;
  std::string error;
  ASSERT_TRUE(ParseWebConfig(text, "web.yml", kDir, config, error)) << error;
  EXPECT_EQ(config.basic_auth_users.at("alice"), kHash);
  EXPECT_FALSE(config.http2);
  ASSERT_EQ(config.headers.size(), 2u);
  EXPECT_EQ(config.headers[0].first, "Content-Security-Policy");
  EXPECT_EQ(config.headers[1], (std::pair<std::string, std::string>{"X-Frame-Options", "deny"}));
  ASSERT_TRUE(config.tls);
  EXPECT_EQ(config.tls->cert_file, kDir + "/../certs/server.crt");
  EXPECT_EQ(config.tls->min_version, "TLS13");
  EXPECT_EQ(config.tls->max_version, "TLS13");
  EXPECT_EQ(config.tls->client_auth_type, "NoClientCert");
  EXPECT_EQ(config.tls->cipher_suites,
            std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
  EXPECT_EQ(config.tls->curve_preferences, std::vector<std::string>{"X25519"});
}

TEST(WebConfigTest, EmptyTlsBlockIsNoTls) {
  WebConfig config;
  std::string error;
  ASSERT_TRUE(ParseWebConfig("tls_server_config: {}\n", "web.yml", kDir, config, error));
  EXPECT_FALSE(config.tls);
}

TEST(WebConfigTest, EveryErrorNamesFileLineColumnAndKey) {
  EXPECT_EQ(ParseError("http_server_config:\n  headers: {}\nfoo: 1\n"),
            "web.yml:3:1: foo: unknown key; expected one of: tls_server_config, "
            "http_server_config, basic_auth_users");
  EXPECT_EQ(ParseError("tls_server_config:\n  cert_file: a\n  min_version: TLS14\n"),
            "web.yml:2:3: tls_server_config.key_file: missing key_file\n"
            "web.yml:2:14: tls_server_config.cert_file: cannot read " +
                kDir +
                "/a\nweb.yml:3:16: tls_server_config.min_version: unknown TLS version: TLS14");
  EXPECT_EQ(ParseError("tls_server_config:\n  cert_file: ../certs/server.crt\n"),
            "web.yml:2:3: tls_server_config.key_file: missing key_file");
  EXPECT_EQ(ParseError("http_server_config:\n  headers:\n    Server: x\n"),
            "web.yml:3:5: http_server_config.headers.Server: HTTP header \"Server\" can not be "
            "configured");
  EXPECT_EQ(ParseError("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
            "web.yml:3:22: http_server_config.headers.X-Frame-Options: invalid value \"allow\", "
            "expected one of: \"deny\" \"sameorigin\"");
  EXPECT_EQ(ParseError("basic_auth_users:\n  alice: hunter2\n"),
            "web.yml:2:10: basic_auth_users.alice: not a bcrypt hash (too short)");
  EXPECT_EQ(
      ParseError("tls_server_config:\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"),
      "web.yml:2:18: tls_server_config.cipher_suites: unknown cipher: TLS_RSA_WITH_RC4_128_SHA");
  EXPECT_EQ(ParseError("basic_auth_users:\n  a: x\nbasic_auth_users:\n  b: y\n"),
            "web.yml:2:6: basic_auth_users.a: not a bcrypt hash (too short)\n"
            "web.yml:3:1: basic_auth_users: duplicate key; first given at line 1, column 1");
  EXPECT_EQ(ParseError("http_server_config:\n  http2: maybe\n"),
            "web.yml:2:10: http_server_config.http2: must be true or false, got \"maybe\"");
}

TEST(WebConfigTest, BcryptHashForm) {
  std::string error;
  EXPECT_TRUE(IsBcryptHash(kHash, error));
  EXPECT_FALSE(IsBcryptHash(std::string("$1$") + std::string(kHash).substr(3), error));
  EXPECT_FALSE(IsBcryptHash(std::string("$2b$03$") + std::string(kHash).substr(7), error));
  EXPECT_EQ(error, "bcrypt cost 03 is outside 4-31");
}

TEST(WebConfigTest, KeyMustMatchCertificate) {
  // As promtool: "failed to load X509KeyPair: tls: private key does not match public key".
  std::string error = ParseError(
      "tls_server_config:\n  cert_file: ../certs/server.crt\n  key_file: ../certs/ca.key\n");
  EXPECT_EQ(error.rfind("web.yml:3:13: tls_server_config.key_file: " + kDir +
                            "/../certs/ca.key does not match the certificate in cert_file " + kDir +
                            "/../certs/server.crt (",
                        0),
            0u)
      << error;
  // Settings no client could use are refused too (promtool only checks the names).
  EXPECT_EQ(ParseError("tls_server_config:\n  cert_file: ../certs/server.crt\n"
                       "  key_file: ../certs/server.key\n  min_version: TLS13\n"
                       "  max_version: TLS12\n"),
            "web.yml:2:3: tls_server_config: min_version TLS13 is above max_version TLS12: no "
            "client could connect");
}

TEST(WebConfigTest, LoadResolvesPathsAgainstTheFile) {
  WebConfig config;
  std::string error;
  ASSERT_TRUE(LoadWebConfigFile(kDir + "/tls_client_ca.yml", config, error)) << error;
  ASSERT_TRUE(config.tls);
  EXPECT_EQ(config.tls->client_ca_file, kDir + "/../certs/ca.crt");
  EXPECT_EQ(config.tls->client_auth_type, "RequireAndVerifyClientCert");
}

}  // namespace
}  // namespace connwatch
