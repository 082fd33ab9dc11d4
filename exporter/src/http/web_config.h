// The exporter-toolkit web configuration file (`--web.config.file`): tls_server_config,
// http_server_config and basic_auth_users. Accepts and rejects what `promtool check web-config`
// does for the same file, including that certificate and key files exist and load.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connwatch {

struct TlsServerConfig {
  std::string cert_file;  // absolute after loading (relative paths resolve against the file)
  std::string key_file;
  std::string client_auth_type = "NoClientCert";
  std::string client_ca_file;
  std::string min_version = "TLS12";
  std::string max_version = "TLS13";
  std::vector<std::string> cipher_suites;      // Go names as written (tls_config maps them)
  std::vector<std::string> curve_preferences;  // Go names as written
  bool prefer_server_cipher_suites = true;
};

struct WebConfig {
  // Set when TLS is configured (exporter-toolkit's rule: any of cert, key, client auth, CA set).
  std::optional<TlsServerConfig> tls;
  std::vector<std::pair<std::string, std::string>> headers;  // sorted by name
  bool http2 = true;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
};

// True for `$2?$NN$` + 53 characters, the form Go's bcrypt.Cost accepts (cost 4-31).
bool IsBcryptHash(std::string_view hash, std::string& error);

// Parses `text`; errors read "FILE:LINE: KEY: message". `dir` resolves relative paths. Checks
// that TLS files exist and load, and that the key matches the certificate, as promtool does;
// stricter than promtool only where no client could ever connect (min_version > max_version).
bool ParseWebConfig(std::string_view text, const std::string& file_name, const std::string& dir,
                    WebConfig& config, std::string& error);
bool LoadWebConfigFile(const std::string& path, WebConfig& config, std::string& error);

}  // namespace connwatch
