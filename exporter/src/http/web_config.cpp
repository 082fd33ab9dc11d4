#include "http/web_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "http/tls_config.h"
#include "http/tls_context.h"

namespace connwatch {
namespace {

// A web config is a few hundred bytes; anything this large is not one.
constexpr size_t kMaxWebConfigBytes = 1u << 20;

constexpr std::array<std::string_view, 4> kTlsVersions = {"TLS10", "TLS11", "TLS12", "TLS13"};

constexpr std::array<std::string_view, 6> kClientAuthTypes = {
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",  // exporter-toolkit keeps it as an alias of RequireAnyClientCert
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert"};

// exporter-toolkit's extraHTTPHeaders: the configurable headers and, where fixed, their values.
const std::map<std::string, std::vector<std::string>, std::less<>>& AllowedHeaders() {
  static const auto* headers = new std::map<std::string, std::vector<std::string>, std::less<>>{
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return *headers;
}

struct ParseError {
  std::string message;
};

class Parser {
 public:
  Parser(std::string file, std::string dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  void Parse(const YAML::Node& root, WebConfig& config) {
    if (!root || root.IsNull()) return;
    if (!root.IsMap()) Fail(root, "", "web config must be a mapping");
    NoDuplicates(root, "");
    for (const auto& entry : root) {
      std::string key = Scalar(entry.first, "");
      if (key == "tls_server_config") {
        ParseTls(entry.second, config);
      } else if (key == "http_server_config") {
        ParseHttp(entry.second, config);
      } else if (key == "basic_auth_users") {
        ParseUsers(entry.second, config);
      } else {
        Fail(entry.first, key, "unknown key");
      }
    }
  }

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& key,
                         const std::string& message) const {
    int line = node.Mark().line < 0 ? 0 : node.Mark().line + 1;
    throw ParseError{file_ + ":" + std::to_string(line) + ": " + (key.empty() ? "" : key + ": ") +
                     message};
  }

 private:
  // yaml-cpp keeps the last of duplicate keys; Go's strict YAML (and so promtool) rejects them.
  void NoDuplicates(const YAML::Node& map, const std::string& key) const {
    std::set<std::string> seen;
    for (const auto& entry : map) {
      if (entry.first.IsScalar() && !seen.insert(entry.first.Scalar()).second) {
        Fail(entry.first, key.empty() ? entry.first.Scalar() : key + "." + entry.first.Scalar(),
             "duplicate key");
      }
    }
  }

  std::string Scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) Fail(node, key, "must be a string");
    return node.Scalar();
  }

  std::vector<std::string> List(const YAML::Node& node, const std::string& key) const {
    std::vector<std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsSequence()) Fail(node, key, "must be a list");
    for (const auto& item : node) out.push_back(Scalar(item, key));
    return out;
  }

  bool Bool(const YAML::Node& node, const std::string& key) const {
    std::string value = Scalar(node, key);
    if (value == "true") return true;
    if (value == "false") return false;
    Fail(node, key, "must be true or false, got \"" + value + "\"");
  }

  std::string Path(const YAML::Node& node, const std::string& key) const {
    std::string value = node.IsNull() ? "" : Scalar(node, key);
    if (value.empty() || value.front() == '/') return value;
    return (std::filesystem::path(dir_) / value).string();
  }

  template <size_t N>
  std::string OneOf(const YAML::Node& node, const std::string& key,
                    const std::array<std::string_view, N>& allowed, const std::string& what) const {
    std::string value = Scalar(node, key);
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      Fail(node, key, "unknown " + what + ": " + value);
    }
    return value;
  }

  void ParseTls(const YAML::Node& node, WebConfig& config) {
    TlsServerConfig tls;
    tls.client_auth_type.clear();  // "" until set, to tell "no TLS" apart below
    if (node.IsNull()) return;
    if (!node.IsMap()) Fail(node, "tls_server_config", "must be a mapping");
    NoDuplicates(node, "tls_server_config");
    for (const auto& entry : node) {
      std::string name = Scalar(entry.first, "tls_server_config");
      std::string key = "tls_server_config." + name;
      const YAML::Node& value = entry.second;
      if (name == "cert_file") {
        tls.cert_file = Path(value, key);
      } else if (name == "key_file") {
        tls.key_file = Path(value, key);
      } else if (name == "client_ca_file") {
        tls.client_ca_file = Path(value, key);
      } else if (name == "client_auth_type") {
        tls.client_auth_type = value.IsNull() ? "" : Scalar(value, key);
      } else if (name == "min_version") {
        tls.min_version = OneOf(value, key, kTlsVersions, "TLS version");
      } else if (name == "max_version") {
        tls.max_version = OneOf(value, key, kTlsVersions, "TLS version");
      } else if (name == "cipher_suites") {
        for (const std::string& cipher : List(value, key)) {
          if (OpenSslCipherName(cipher).empty()) Fail(value, key, "unknown cipher: " + cipher);
          tls.cipher_suites.push_back(cipher);
        }
      } else if (name == "curve_preferences") {
        for (const std::string& curve : List(value, key)) {
          if (OpenSslGroupName(curve).empty()) Fail(value, key, "unknown curve: " + curve);
          tls.curve_preferences.push_back(curve);
        }
      } else if (name == "prefer_server_cipher_suites") {
        tls.prefer_server_cipher_suites = Bool(value, key);
      } else {
        Fail(entry.first, key, "unknown key");
      }
    }
    // exporter-toolkit: a block with none of these set means "no TLS" (errNoTLSConfig).
    if (tls.cert_file.empty() && tls.key_file.empty() && tls.client_auth_type.empty() &&
        tls.client_ca_file.empty()) {
      return;
    }
    ValidateTls(node, tls);
    config.tls = std::move(tls);
  }

  void ValidateTls(const YAML::Node& node, TlsServerConfig& tls) const {
    const std::string key = "tls_server_config";
    if (tls.cert_file.empty()) Fail(node, key + ".cert_file", "missing cert_file");
    if (tls.key_file.empty()) Fail(node, key + ".key_file", "missing key_file");
    CheckPem(node, key + ".cert_file", tls.cert_file, "CERTIFICATE-----");
    CheckPem(node, key + ".key_file", tls.key_file, "PRIVATE KEY-----");
    if (!tls.client_ca_file.empty()) {
      CheckPem(node, key + ".client_ca_file", tls.client_ca_file, "CERTIFICATE-----");
    }
    if (tls.client_auth_type.empty()) tls.client_auth_type = "NoClientCert";
    if (std::find(kClientAuthTypes.begin(), kClientAuthTypes.end(), tls.client_auth_type) ==
        kClientAuthTypes.end()) {
      Fail(node["client_auth_type"], key + ".client_auth_type",
           "invalid client_auth_type: " + tls.client_auth_type);
    }
    if (tls.client_auth_type == "RequireClientCert") tls.client_auth_type = "RequireAnyClientCert";
    if (!tls.client_ca_file.empty() && tls.client_auth_type == "NoClientCert") {
      Fail(node["client_ca_file"], key + ".client_ca_file",
           "client_ca_file is set without a client_auth_type");
    }
    // promtool loads the pair (Go's tls.LoadX509KeyPair) and so rejects a key that does not
    // match its certificate; OpenSSL loads everything here the way serving will.
    TlsSettings settings;
    std::string error;
    if (!ToTlsSettings(tls, settings, error) || !CheckTlsSettings(settings, error)) {
      size_t colon = error.find(": ");  // "tls_server_config.KEY: message"
      std::string failed_key = error.substr(0, colon);
      const YAML::Node at = node[failed_key.substr(failed_key.find('.') + 1)];
      Fail(at.IsDefined() ? at : node, failed_key, error.substr(colon + 2));
    }
  }

  void CheckPem(const YAML::Node& node, const std::string& key, const std::string& path,
                std::string_view marker) const {
    std::ifstream in(path, std::ios::binary);
    if (!in) Fail(node, key, "cannot read " + path);
    std::string text(kMaxWebConfigBytes, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.find(marker) == std::string::npos) {
      Fail(node, key, path + " contains no PEM " + std::string(marker.substr(0, marker.find('-'))));
    }
  }

  void ParseHttp(const YAML::Node& node, WebConfig& config) {
    if (node.IsNull()) return;
    if (!node.IsMap()) Fail(node, "http_server_config", "must be a mapping");
    NoDuplicates(node, "http_server_config");
    for (const auto& entry : node) {
      std::string name = Scalar(entry.first, "http_server_config");
      std::string key = "http_server_config." + name;
      if (name == "http2") {
        config.http2 = Bool(entry.second, key);
      } else if (name == "headers") {
        ParseHeaders(entry.second, config);
      } else {
        Fail(entry.first, key, "unknown key");
      }
    }
  }

  void ParseHeaders(const YAML::Node& node, WebConfig& config) {
    if (node.IsNull()) return;
    if (!node.IsMap()) Fail(node, "http_server_config.headers", "must be a mapping");
    NoDuplicates(node, "http_server_config.headers");
    for (const auto& entry : node) {
      std::string name = Scalar(entry.first, "http_server_config.headers");
      std::string key = "http_server_config.headers." + name;
      std::string value = entry.second.IsNull() ? "" : Scalar(entry.second, key);
      auto allowed = AllowedHeaders().find(name);
      if (allowed == AllowedHeaders().end()) {
        Fail(entry.first, key, "HTTP header \"" + name + "\" can not be configured");
      }
      if (!allowed->second.empty() && std::find(allowed->second.begin(), allowed->second.end(),
                                                value) == allowed->second.end()) {
        std::string expected;
        for (const std::string& v : allowed->second) expected += " \"" + v + "\"";
        Fail(entry.second, key, "invalid value \"" + value + "\", expected one of:" + expected);
      }
      if (value.find_first_of("\r\n") != std::string::npos) {
        Fail(entry.second, key, "header value must not contain a line break");
      }
      config.headers.emplace_back(name, value);
    }
    std::sort(config.headers.begin(), config.headers.end());
  }

  void ParseUsers(const YAML::Node& node, WebConfig& config) {
    if (node.IsNull()) return;
    if (!node.IsMap()) Fail(node, "basic_auth_users", "must be a mapping");
    NoDuplicates(node, "basic_auth_users");
    for (const auto& entry : node) {
      std::string user = Scalar(entry.first, "basic_auth_users");
      std::string key = "basic_auth_users." + user;
      std::string hash = entry.second.IsNull() ? "" : Scalar(entry.second, key);
      std::string error;
      if (!IsBcryptHash(hash, error)) Fail(entry.second, key, error);
      config.basic_auth_users[user] = hash;
    }
  }

  std::string file_;
  std::string dir_;
};

}  // namespace

bool IsBcryptHash(std::string_view hash, std::string& error) {
  // Go's bcrypt: 59+ bytes, "$2", optional minor letter, "$", two-digit cost 4-31, "$".
  if (hash.size() < 59) {
    error = "not a bcrypt hash (too short)";
    return false;
  }
  size_t pos = 3;
  if (hash.substr(0, 2) != "$2") {
    error = "not a bcrypt hash (want a $2a$, $2b$ or $2y$ prefix)";
    return false;
  }
  if (hash[2] != '$') {
    if (hash[3] != '$') {
      error = "not a bcrypt hash (bad version)";
      return false;
    }
    pos = 4;
  }
  std::string_view cost = hash.substr(pos, 2);
  if (cost.find_first_not_of("0123456789") != std::string_view::npos || hash[pos + 2] != '$') {
    error = "not a bcrypt hash (bad cost)";
    return false;
  }
  int value = (cost[0] - '0') * 10 + (cost[1] - '0');
  if (value < 4 || value > 31) {
    error = "bcrypt cost " + std::string(cost) + " is outside 4-31";
    return false;
  }
  return true;
}

bool ParseWebConfig(std::string_view text, const std::string& file_name, const std::string& dir,
                    WebConfig& config, std::string& error) {
  config = WebConfig{};
  Parser parser(file_name, dir);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    parser.Parse(root, config);
  } catch (const ParseError& parse_error) {
    error = parse_error.message;
    return false;
  } catch (const YAML::Exception& yaml_error) {
    int line = yaml_error.mark.line < 0 ? 0 : yaml_error.mark.line + 1;
    error = file_name + ":" + std::to_string(line) + ": " + yaml_error.msg;
    return false;
  }
  return true;
}

bool LoadWebConfigFile(const std::string& path, WebConfig& config, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read web config file";
    return false;
  }
  std::string text(kMaxWebConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxWebConfigBytes) {
    error = path + ": web config file is larger than 1 MiB";
    return false;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return ParseWebConfig(text, path, dir, config, error);
}

}  // namespace connwatch
