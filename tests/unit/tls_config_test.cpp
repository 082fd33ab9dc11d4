#include "http/tls_config.h"

#include <gtest/gtest.h>

#include <string>

#include "http/web_config.h"

namespace connwatch {
namespace {

TlsServerConfig BaseConfig() {
  TlsServerConfig config;
  config.cert_file = "/etc/connwatch/server.crt";
  config.key_file = "/etc/connwatch/server.key";
  return config;
}

TlsSettings Settings(const TlsServerConfig& config) {
  TlsSettings settings;
  std::string error;
  EXPECT_TRUE(ToTlsSettings(config, settings, error)) << error;
  return settings;
}

std::string SettingsError(const TlsServerConfig& config) {
  TlsSettings settings;
  std::string error;
  EXPECT_FALSE(ToTlsSettings(config, settings, error));
  return error;
}

TEST(TlsConfigTest, CipherNamesFromGoToOpenSsl) {
  EXPECT_EQ(OpenSslCipherName("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(OpenSslCipherName("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
            "ECDHE-ECDSA-CHACHA20-POLY1305");
  EXPECT_EQ(OpenSslCipherName("TLS_RSA_WITH_AES_256_CBC_SHA"), "AES256-SHA");
  EXPECT_EQ(OpenSslCipherName("TLS_AES_128_GCM_SHA256"), "TLS_AES_128_GCM_SHA256");
  // Not in Go's tls.CipherSuites() (insecure or unknown): not accepted.
  EXPECT_EQ(OpenSslCipherName("TLS_RSA_WITH_RC4_128_SHA"), "");
  EXPECT_EQ(OpenSslCipherName("ECDHE-RSA-AES128-GCM-SHA256"), "");
  EXPECT_TRUE(IsTls13CipherSuite("TLS_CHACHA20_POLY1305_SHA256"));
  EXPECT_FALSE(IsTls13CipherSuite("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"));
}

TEST(TlsConfigTest, CurvesAndVersions) {
  EXPECT_EQ(OpenSslGroupName("CurveP256"), "P-256");
  EXPECT_EQ(OpenSslGroupName("CurveP521"), "P-521");
  EXPECT_EQ(OpenSslGroupName("X25519"), "X25519");
  EXPECT_EQ(OpenSslGroupName("P-256"), "");
  EXPECT_EQ(TlsProtocolVersion("TLS10"), 0x0301);
  EXPECT_EQ(TlsProtocolVersion("TLS13"), 0x0304);
  EXPECT_EQ(TlsProtocolVersion("TLS14"), 0);
}

TEST(TlsConfigTest, ClientAuthTypesFollowGo) {
  struct Case {
    const char* name;
    ClientCertRules want;
  };
  for (const Case& c : {Case{"NoClientCert", {false, false, false}},
                        Case{"RequestClientCert", {true, false, false}},
                        Case{"RequireAnyClientCert", {true, true, false}},
                        Case{"RequireClientCert", {true, true, false}},
                        Case{"VerifyClientCertIfGiven", {true, false, true}},
                        Case{"RequireAndVerifyClientCert", {true, true, true}}}) {
    ClientCertRules rules;
    ASSERT_TRUE(ClientCertRulesFor(c.name, rules)) << c.name;
    EXPECT_EQ(rules.request, c.want.request) << c.name;
    EXPECT_EQ(rules.require, c.want.require) << c.name;
    EXPECT_EQ(rules.verify, c.want.verify) << c.name;
  }
  ClientCertRules rules;
  EXPECT_FALSE(ClientCertRulesFor("requireandverifyclientcert", rules));
}

TEST(TlsConfigTest, DefaultsAreExporterToolkits) {
  TlsSettings settings = Settings(BaseConfig());
  EXPECT_EQ(settings.cert_file, "/etc/connwatch/server.crt");
  EXPECT_EQ(settings.min_version, 0x0303);
  EXPECT_EQ(settings.max_version, 0x0304);
  // Issue 17: OpenSSL's default list offered TLS 1.2 suites without forward secrecy and CBC.
  EXPECT_EQ(settings.cipher_list,
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-"
            "SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-"
            "POLY1305");
  EXPECT_EQ(settings.groups, "");
  EXPECT_TRUE(settings.server_cipher_preference);
  EXPECT_FALSE(settings.legacy_security_level);
  EXPECT_FALSE(settings.client_cert.request);
}

TEST(TlsConfigTest, CipherSuitesLimitOnlyTls12AndBelow) {
  TlsServerConfig config = BaseConfig();
  config.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_RSA_WITH_AES_128_CBC_SHA"};
  TlsSettings settings = Settings(config);
  EXPECT_EQ(settings.cipher_list, "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA");
  EXPECT_EQ(settings.min_version, 0x0303);

  // Only TLS 1.3 names: Go has no suite left for TLS 1.2, so only TLS 1.3 can connect.
  config.cipher_suites = {"TLS_AES_128_GCM_SHA256"};
  settings = Settings(config);
  EXPECT_EQ(settings.cipher_list, "");
  EXPECT_EQ(settings.min_version, 0x0304);
  config.max_version = "TLS12";
  EXPECT_EQ(SettingsError(config),
            "tls_server_config: min_version TLS12 is above max_version TLS12 (cipher_suites "
            "lists only TLS 1.3 suites, which need TLS13): no client could connect");

  config.cipher_suites = {"TLS_RSA_WITH_RC4_128_SHA"};
  EXPECT_EQ(SettingsError(config),
            "tls_server_config.cipher_suites: unknown cipher: TLS_RSA_WITH_RC4_128_SHA");
}

TEST(TlsConfigTest, VersionsCurvesAndPreference) {
  TlsServerConfig config = BaseConfig();
  config.min_version = "TLS10";
  config.max_version = "TLS12";
  config.curve_preferences = {"X25519", "CurveP384"};
  config.prefer_server_cipher_suites = false;
  config.client_auth_type = "VerifyClientCertIfGiven";
  config.client_ca_file = "/etc/connwatch/clients.crt";
  TlsSettings settings = Settings(config);
  EXPECT_EQ(settings.min_version, 0x0301);
  EXPECT_EQ(settings.max_version, 0x0303);
  EXPECT_TRUE(settings.legacy_security_level);
  EXPECT_EQ(settings.groups, "X25519:P-384");
  EXPECT_FALSE(settings.server_cipher_preference);
  EXPECT_EQ(settings.client_ca_file, "/etc/connwatch/clients.crt");
  EXPECT_TRUE(settings.client_cert.verify);
  EXPECT_FALSE(settings.client_cert.require);

  config.min_version = "TLS13";
  EXPECT_EQ(SettingsError(config),
            "tls_server_config: min_version TLS13 is above max_version TLS12: no client could "
            "connect");
  config.min_version = "SSL30";
  EXPECT_EQ(SettingsError(config), "tls_server_config.min_version: unknown TLS version: SSL30");
}

}  // namespace
}  // namespace connwatch
