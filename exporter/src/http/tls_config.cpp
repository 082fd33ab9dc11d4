#include "http/tls_config.h"

#include <algorithm>
#include <array>
#include <utility>

#include "http/web_config.h"

namespace connwatch {
namespace {

// Go 1.19's tls.CipherSuites() (the list exporter-toolkit accepts) and OpenSSL's names.
constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kCiphers = {{
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
}};

constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurves = {
    {{"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}, {"X25519", "X25519"}}};

constexpr std::array<std::pair<std::string_view, int>, 4> kVersions = {
    {{"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}}};

template <typename Table>
auto Find(const Table& table, std::string_view key) {
  return std::find_if(table.begin(), table.end(),
                      [&](const auto& row) { return row.first == key; });
}

}  // namespace

std::string OpenSslCipherName(std::string_view go_name) {
  auto it = Find(kCiphers, go_name);
  return it == kCiphers.end() ? "" : std::string(it->second);
}

bool IsTls13CipherSuite(std::string_view go_name) {
  return go_name == "TLS_AES_128_GCM_SHA256" || go_name == "TLS_AES_256_GCM_SHA384" ||
         go_name == "TLS_CHACHA20_POLY1305_SHA256";
}

std::string OpenSslGroupName(std::string_view go_name) {
  auto it = Find(kCurves, go_name);
  return it == kCurves.end() ? "" : std::string(it->second);
}

int TlsProtocolVersion(std::string_view name) {
  auto it = Find(kVersions, name);
  return it == kVersions.end() ? 0 : it->second;
}

bool ClientCertRulesFor(std::string_view client_auth_type, ClientCertRules& rules) {
  if (client_auth_type == "NoClientCert") {
    rules = {false, false, false};
  } else if (client_auth_type == "RequestClientCert") {
    rules = {true, false, false};
  } else if (client_auth_type == "RequireAnyClientCert" ||
             client_auth_type == "RequireClientCert") {
    rules = {true, true, false};
  } else if (client_auth_type == "VerifyClientCertIfGiven") {
    rules = {true, false, true};
  } else if (client_auth_type == "RequireAndVerifyClientCert") {
    rules = {true, true, true};
  } else {
    return false;
  }
  return true;
}

bool ToTlsSettings(const TlsServerConfig& config, TlsSettings& settings, std::string& error) {
  settings = TlsSettings{};
  settings.cert_file = config.cert_file;
  settings.key_file = config.key_file;
  settings.client_ca_file = config.client_ca_file;
  settings.server_cipher_preference = config.prefer_server_cipher_suites;
  settings.min_version = TlsProtocolVersion(config.min_version);
  settings.max_version = TlsProtocolVersion(config.max_version);
  if (settings.min_version == 0) {
    error = "tls_server_config.min_version: unknown TLS version: " + config.min_version;
    return false;
  }
  if (settings.max_version == 0) {
    error = "tls_server_config.max_version: unknown TLS version: " + config.max_version;
    return false;
  }
  if (!ClientCertRulesFor(config.client_auth_type, settings.client_cert)) {
    error =
        "tls_server_config.client_auth_type: invalid client_auth_type: " + config.client_auth_type;
    return false;
  }
  // No cipher_suites: exporter-toolkit's defaults, ECDHE (forward secrecy) with AEAD only.
  // OpenSSL's own default list would also offer plain-RSA key exchange and CBC with SHA-1.
  if (config.cipher_suites.empty()) settings.cipher_list = kDefaultTls12Ciphers;
  bool tls13_only_suites = !config.cipher_suites.empty();
  for (const std::string& go_name : config.cipher_suites) {
    std::string openssl = OpenSslCipherName(go_name);
    if (openssl.empty()) {
      error = "tls_server_config.cipher_suites: unknown cipher: " + go_name;
      return false;
    }
    if (IsTls13CipherSuite(go_name)) continue;
    tls13_only_suites = false;
    if (!settings.cipher_list.empty()) settings.cipher_list += ':';
    settings.cipher_list += openssl;
  }
  // Go with only TLS 1.3 names listed has no suite left for TLS 1.0-1.2: only 1.3 can work.
  if (tls13_only_suites) settings.min_version = std::max(settings.min_version, 0x0304);
  if (settings.min_version > settings.max_version) {
    error =
        "tls_server_config: min_version " + config.min_version + " is above max_version " +
        config.max_version +
        (tls13_only_suites ? " (cipher_suites lists only TLS 1.3 suites, which need TLS13)" : "") +
        ": no client could connect";
    return false;
  }
  for (const std::string& go_name : config.curve_preferences) {
    std::string group = OpenSslGroupName(go_name);
    if (group.empty()) {
      error = "tls_server_config.curve_preferences: unknown curve: " + go_name;
      return false;
    }
    if (!settings.groups.empty()) settings.groups += ':';
    settings.groups += group;
  }
  settings.legacy_security_level = settings.min_version < 0x0303;
  return true;
}

}  // namespace connwatch
