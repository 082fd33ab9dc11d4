// exporter-toolkit's tls_server_config speaks Go's crypto/tls names and semantics; connwatch
// serves TLS with OpenSSL. These pure functions translate one into the other, so the whole
// mapping is unit-tested without a socket; tls_context.cpp applies the result to an SSL_CTX.
#pragma once

#include <string>
#include <string_view>

namespace connwatch {

struct TlsServerConfig;

// Go's tls.CipherSuites() name -> OpenSSL name; "" when Go does not know the name.
std::string OpenSslCipherName(std::string_view go_name);
// The TLS 1.3 suites: Go accepts their names but never lets a config choose them (its
// cipher_suites only limit TLS 1.0-1.2), so they leave the OpenSSL cipher list alone.
bool IsTls13CipherSuite(std::string_view go_name);
// Go's tls.CurveID name (CurveP256, CurveP384, CurveP521, X25519) -> OpenSSL group name.
std::string OpenSslGroupName(std::string_view go_name);
// "TLS10".."TLS13" -> the wire version (0x0301..0x0304, OpenSSL's TLS1_VERSION..); 0 if unknown.
int TlsProtocolVersion(std::string_view name);

// What client_auth_type asks of a client certificate, as Go's tls.ClientAuthType does.
struct ClientCertRules {
  bool request = false;  // send a CertificateRequest
  bool require = false;  // refuse a client that sends no certificate
  bool verify = false;   // a certificate sent must chain to client_ca_file (or system roots)
};
// NoClientCert, RequestClientCert, RequireAnyClientCert (alias RequireClientCert),
// VerifyClientCertIfGiven, RequireAndVerifyClientCert; false for anything else.
bool ClientCertRulesFor(std::string_view client_auth_type, ClientCertRules& rules);

// Everything to apply to an SSL_CTX, in OpenSSL's terms.
struct TlsSettings {
  std::string cert_file;  // PEM certificate chain: the server's certificate first
  std::string key_file;
  std::string client_ca_file;  // "" = system roots when verifying client certificates
  int min_version = 0x0303;
  int max_version = 0x0304;
  std::string cipher_list;  // OpenSSL cipher string for TLS <= 1.2; "" keeps OpenSSL's default
  std::string groups;       // e.g. "X25519:P-256"; "" keeps OpenSSL's default
  bool server_cipher_preference = true;
  // TLS 1.0 and 1.1 need OpenSSL security level 0 (level 1 and up refuse their SHA-1
  // handshake signatures); set only when min_version asks for them, as Go would serve them.
  bool legacy_security_level = false;
  ClientCertRules client_cert;
};

// `config` as parsed by web_config (names already validated there). False with `error`
// ("tls_server_config.KEY: reason") when no handshake could ever succeed.
bool ToTlsSettings(const TlsServerConfig& config, TlsSettings& settings, std::string& error);

}  // namespace connwatch
