#include "http/web_config.h"

#include <algorithm>
#include <array>
#include <filesystem>

#include "base/read_file.h"
#include "base/yaml_tree.h"
#include "http/tls_config.h"
#include "http/tls_context.h"

namespace connwatch {
namespace {

// A web config is a few hundred bytes; anything this large is not one.
constexpr size_t kMaxWebConfigBytes = 1u << 20;
// Certificate and key files: a long chain is a few tens of KiB.
constexpr size_t kMaxPemFileBytes = 1u << 20;

constexpr std::array<std::string_view, 4> kTlsVersions = {"TLS10", "TLS11", "TLS12", "TLS13"};

constexpr std::array<std::string_view, 6> kClientAuthTypes = {
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",  // exporter-toolkit keeps it as an alias of RequireAnyClientCert
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert"};

// exporter-toolkit's extraHTTPHeaders: the configurable headers and, where fixed, their values.
struct AllowedHeader {
  std::string_view name;
  std::array<std::string_view, 2> values;  // empty: any value
};
constexpr std::array<AllowedHeader, 5> kAllowedHeaders = {{
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff"}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}},
}};

// What Go's yaml.v2 (and so exporter-toolkit and `promtool check web-config`) reads: aliases
// and merge keys, any tag, only the first document.
YamlRules WebConfigYamlRules() {
  YamlRules rules;
  rules.document = "web config file";
  rules.max_bytes = kMaxWebConfigBytes;
  rules.aliases = true;
  rules.merge_keys = true;
  rules.later_documents = true;
  rules.any_tag = true;
  return rules;
}

// Turns the tree into a WebConfig, reporting every problem it finds. The TLS files are only
// loaded (as promtool does) once the names in tls_server_config are all valid.
class WebConfigReader {
 public:
  WebConfigReader(ConfigErrors& errors, std::string dir)
      : errors_(errors), reader_(errors), dir_(std::move(dir)) {}

  void Document(const YamlNode& root, WebConfig& config) {
    if (root.kind == YamlNode::Kind::kNull) return;
    YamlFields fields;
    if (!reader_.ReadFields(
            root, "", {"tls_server_config", "http_server_config", "basic_auth_users"}, fields)) {
      return;
    }
    if (const YamlNode* tls = YamlReader::Value(fields, "tls_server_config")) Tls(*tls, config);
    if (const YamlNode* http = YamlReader::Value(fields, "http_server_config")) Http(*http, config);
    if (const YamlNode* users = YamlReader::Value(fields, "basic_auth_users"))
      Users(*users, config);
  }

 private:
  std::optional<std::string> Scalar(const YamlNode& node, const std::string& key) {
    if (node.kind == YamlNode::Kind::kScalar) return node.value;
    if (node.kind != YamlNode::Kind::kRejected) ErrorAt(errors_, node, key, "must be a string");
    return std::nullopt;
  }
  // A null value is the empty string, as Go unmarshals it.
  std::string ScalarOrEmpty(const YamlNode& node, const std::string& key) {
    return node.kind == YamlNode::Kind::kNull ? "" : Scalar(node, key).value_or("");
  }

  std::vector<std::string> List(const YamlNode& node, const std::string& key) {
    std::vector<std::string> out;
    if (node.kind == YamlNode::Kind::kNull) return out;
    if (node.kind != YamlNode::Kind::kList) {
      ErrorAt(errors_, node, key, "must be a list");
      return out;
    }
    for (const YamlNode& item : node.children) {
      if (auto value = Scalar(item, key)) out.push_back(*value);
    }
    return out;
  }

  // The booleans of YAML 1.1, as Go's yaml.v2 resolves them: plain or tagged !!bool; a
  // quoted "true" is a string.
  std::optional<bool> Bool(const YamlNode& node, const std::string& key) {
    std::optional<std::string> value = Scalar(node, key);
    if (!value) return std::nullopt;
    static constexpr std::string_view kTrue[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                                 "True", "TRUE", "on",  "On",  "ON"};
    static constexpr std::string_view kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                                  "False", "FALSE", "off", "Off", "OFF"};
    if (node.IsPlain() || node.tag == "tag:yaml.org,2002:bool") {
      if (std::find(std::begin(kTrue), std::end(kTrue), *value) != std::end(kTrue)) return true;
      if (std::find(std::begin(kFalse), std::end(kFalse), *value) != std::end(kFalse)) return false;
    }
    ErrorAt(errors_, node, key, "must be true or false, got " + Describe(node));
    return std::nullopt;
  }

  // Relative paths resolve against the web config file's directory.
  std::string Path(const YamlNode& node, const std::string& key) {
    std::string value = ScalarOrEmpty(node, key);
    if (value.empty() || value.front() == '/') return value;
    return (std::filesystem::path(dir_) / value).string();
  }

  template <size_t N>
  std::optional<std::string> OneOf(const YamlNode& node, const std::string& key,
                                   const std::array<std::string_view, N>& allowed,
                                   const std::string& what) {
    std::optional<std::string> value = Scalar(node, key);
    if (value && std::find(allowed.begin(), allowed.end(), *value) == allowed.end()) {
      ErrorAt(errors_, node, key, "unknown " + what + ": " + *value);
      return std::nullopt;
    }
    return value;
  }

  // Names Go's crypto/tls knows (tls_config.h maps them); `known` tells them apart.
  std::vector<std::string> Names(const YamlNode& node, const std::string& key, const char* what,
                                 std::string (*known)(std::string_view)) {
    std::vector<std::string> names;
    for (const std::string& name : List(node, key)) {
      if (known(name).empty()) {
        ErrorAt(errors_, node, key, std::string("unknown ") + what + ": " + name);
      } else {
        names.push_back(name);
      }
    }
    return names;
  }

  void TlsEntry(const YamlNode& key_node, const YamlNode& value, TlsServerConfig& tls) {
    const std::string& name = key_node.value;
    std::string key = "tls_server_config." + name;
    if (name == "cert_file") {
      tls.cert_file = Path(value, key);
    } else if (name == "key_file") {
      tls.key_file = Path(value, key);
    } else if (name == "client_ca_file") {
      tls.client_ca_file = Path(value, key);
    } else if (name == "client_auth_type") {
      tls.client_auth_type = ScalarOrEmpty(value, key);
    } else if (name == "min_version") {
      tls.min_version = OneOf(value, key, kTlsVersions, "TLS version").value_or(tls.min_version);
    } else if (name == "max_version") {
      tls.max_version = OneOf(value, key, kTlsVersions, "TLS version").value_or(tls.max_version);
    } else if (name == "cipher_suites") {
      tls.cipher_suites = Names(value, key, "cipher", &OpenSslCipherName);
    } else if (name == "curve_preferences") {
      tls.curve_preferences = Names(value, key, "curve", &OpenSslGroupName);
    } else if (name == "prefer_server_cipher_suites") {
      tls.prefer_server_cipher_suites = Bool(value, key).value_or(tls.prefer_server_cipher_suites);
    } else {
      ErrorAt(errors_, key_node, key, "unknown key");
    }
  }

  void Tls(const YamlNode& node, WebConfig& config) {
    if (node.kind == YamlNode::Kind::kNull) return;
    if (node.kind != YamlNode::Kind::kMap) {
      ErrorAt(errors_, node, "tls_server_config", "must be a mapping");
      return;
    }
    const size_t errors_before = errors_.count();
    TlsServerConfig tls;
    tls.client_auth_type.clear();  // "" until set, to tell "no TLS" apart below
    std::map<std::string, const YamlNode*> values;
    reader_.ForEachEntry(node, "tls_server_config",
                         [&](const YamlNode& key, const YamlNode& value) {
                           values[key.value] = &value;
                           TlsEntry(key, value, tls);
                         });
    // exporter-toolkit: a block with none of these set means "no TLS" (errNoTLSConfig).
    if (tls.cert_file.empty() && tls.key_file.empty() && tls.client_auth_type.empty() &&
        tls.client_ca_file.empty()) {
      return;
    }
    ValidateTls(node, values, errors_before, tls);
    config.tls = std::move(tls);
  }

  const YamlNode& At(const YamlNode& block, const std::map<std::string, const YamlNode*>& values,
                     const std::string& name) {
    auto it = values.find(name);
    return it == values.end() ? block : *it->second;
  }

  void ValidateTls(const YamlNode& node, const std::map<std::string, const YamlNode*>& values,
                   size_t errors_before, TlsServerConfig& tls) {
    const std::string key = "tls_server_config";
    if (tls.cert_file.empty()) ErrorAt(errors_, node, key + ".cert_file", "missing cert_file");
    if (tls.key_file.empty()) ErrorAt(errors_, node, key + ".key_file", "missing key_file");
    CheckPem(At(node, values, "cert_file"), key + ".cert_file", tls.cert_file, "CERTIFICATE-----");
    CheckPem(At(node, values, "key_file"), key + ".key_file", tls.key_file, "PRIVATE KEY-----");
    if (!tls.client_ca_file.empty()) {
      CheckPem(At(node, values, "client_ca_file"), key + ".client_ca_file", tls.client_ca_file,
               "CERTIFICATE-----");
    }
    if (tls.client_auth_type.empty()) tls.client_auth_type = "NoClientCert";
    if (std::find(kClientAuthTypes.begin(), kClientAuthTypes.end(), tls.client_auth_type) ==
        kClientAuthTypes.end()) {
      ErrorAt(errors_, At(node, values, "client_auth_type"), key + ".client_auth_type",
              "invalid client_auth_type: " + tls.client_auth_type);
    }
    if (tls.client_auth_type == "RequireClientCert") tls.client_auth_type = "RequireAnyClientCert";
    if (!tls.client_ca_file.empty() && tls.client_auth_type == "NoClientCert") {
      ErrorAt(errors_, At(node, values, "client_ca_file"), key + ".client_ca_file",
              "client_ca_file is set without a client_auth_type");
    }
    if (errors_.count() != errors_before) return;
    // promtool loads the pair (Go's tls.LoadX509KeyPair) and so rejects a key that does not
    // match its certificate; OpenSSL loads everything here the way serving will.
    TlsSettings settings;
    std::string error;
    if (!ToTlsSettings(tls, settings, error) || !CheckTlsSettings(settings, error)) {
      size_t colon = error.find(": ");  // "tls_server_config.KEY: message"
      std::string failed_key = error.substr(0, colon);
      std::string name = failed_key.substr(failed_key.find('.') + 1);
      ErrorAt(errors_, At(node, values, name), failed_key, error.substr(colon + 2));
    }
  }

  void CheckPem(const YamlNode& node, const std::string& key, const std::string& path,
                std::string_view marker) {
    if (path.empty()) return;  // reported as missing
    FileLoad file = LoadFileCapped(path, kMaxPemFileBytes);
    if (!file.ok()) {
      ErrorAt(errors_, node, key,
              file.status == FileLoad::Status::kTooLarge ? file.Problem("", path, kMaxPemFileBytes)
                                                         : "cannot read " + path);
    } else if (file.text.find(marker) == std::string::npos) {
      ErrorAt(errors_, node, key,
              path + " contains no PEM " + std::string(marker.substr(0, marker.find('-'))));
    }
  }

  void Http(const YamlNode& node, WebConfig& config) {
    if (node.kind == YamlNode::Kind::kNull) return;
    if (node.kind != YamlNode::Kind::kMap) {
      ErrorAt(errors_, node, "http_server_config", "must be a mapping");
      return;
    }
    reader_.ForEachEntry(node, "http_server_config",
                         [&](const YamlNode& key, const YamlNode& value) {
                           std::string path = "http_server_config." + key.value;
                           if (key.value == "http2") {
                             config.http2 = Bool(value, path).value_or(config.http2);
                           } else if (key.value == "headers") {
                             Headers(value, config);
                           } else {
                             ErrorAt(errors_, key, path, "unknown key");
                           }
                         });
  }

  void Header(const YamlNode& key, const YamlNode& value, WebConfig& config) {
    std::string path = "http_server_config.headers." + key.value;
    std::string text = ScalarOrEmpty(value, path);
    auto allowed =
        std::find_if(kAllowedHeaders.begin(), kAllowedHeaders.end(),
                     [&](const AllowedHeader& header) { return header.name == key.value; });
    if (allowed == kAllowedHeaders.end()) {
      ErrorAt(errors_, key, path, "HTTP header \"" + key.value + "\" can not be configured");
      return;
    }
    std::string expected;
    bool fixed = false, matches = false;
    for (std::string_view candidate : allowed->values) {
      if (candidate.empty()) continue;
      fixed = true;
      matches |= candidate == text;
      expected += " \"" + std::string(candidate) + "\"";
    }
    if (fixed && !matches) {
      ErrorAt(errors_, value, path, "invalid value \"" + text + "\", expected one of:" + expected);
    } else if (text.find_first_of("\r\n") != std::string::npos) {
      ErrorAt(errors_, value, path, "header value must not contain a line break");
    } else {
      config.headers.emplace_back(key.value, text);
    }
  }

  void Headers(const YamlNode& node, WebConfig& config) {
    if (node.kind == YamlNode::Kind::kNull) return;
    if (node.kind != YamlNode::Kind::kMap) {
      ErrorAt(errors_, node, "http_server_config.headers", "must be a mapping");
      return;
    }
    reader_.ForEachEntry(
        node, "http_server_config.headers",
        [&](const YamlNode& key, const YamlNode& value) { Header(key, value, config); });
    std::sort(config.headers.begin(), config.headers.end());
  }

  void Users(const YamlNode& node, WebConfig& config) {
    if (node.kind == YamlNode::Kind::kNull) return;
    if (node.kind != YamlNode::Kind::kMap) {
      ErrorAt(errors_, node, "basic_auth_users", "must be a mapping");
      return;
    }
    reader_.ForEachEntry(node, "basic_auth_users", [&](const YamlNode& key, const YamlNode& value) {
      std::string path = "basic_auth_users." + key.value;
      std::string hash = ScalarOrEmpty(value, path);
      std::string error;
      if (!IsBcryptHash(hash, error)) {
        ErrorAt(errors_, value, path, error);
      } else {
        config.basic_auth_users[key.value] = hash;
      }
    });
  }

  ConfigErrors& errors_;
  YamlReader reader_;
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
  ConfigErrors errors(file_name);
  try {
    if (std::optional<YamlNode> root = ParseYamlTree(text, WebConfigYamlRules(), errors)) {
      WebConfigReader(errors, dir).Document(*root, config);
    }
  } catch (const std::exception& e) {
    errors.At(0, 0, "", std::string("loading failed: ") + e.what());
  }
  if (errors.empty()) return true;
  error = JoinErrors(errors.Take());
  return false;
}

bool LoadWebConfigFile(const std::string& path, WebConfig& config, std::string& error) {
  FileLoad file = LoadFileCapped(path, kMaxWebConfigBytes);
  if (!file.ok()) {
    error = file.Problem("web config file", path, kMaxWebConfigBytes);
    return false;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return ParseWebConfig(file.text, path, dir, config, error);
}

}  // namespace connwatch
