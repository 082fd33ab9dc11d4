#include "policy/policy_loader.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/duration.h"
#include "base/read_file.h"
#include "base/text.h"
#include "base/yaml_tree.h"
#include "net/cidr.h"
#include "policy/limits_loader.h"
#include "policy/policy_values.h"

namespace connwatch {
namespace {

// A rule's own keys and the workload selector's, which every rule kind takes.
std::vector<std::string_view> WithSelector(std::initializer_list<std::string_view> keys) {
  std::vector<std::string_view> all(keys);
  all.insert(all.end(), {"namespace", "workload", "pod", "container", "netns"});
  return all;
}

// A port a rule can name: 1-65535 (port 0 is no port).
std::optional<uint16_t> PolicyPortNumber(std::string_view text) {
  std::optional<uint16_t> port = ParsePortNumber(text);
  return port && *port != 0 ? port : std::nullopt;
}

// Turns the YamlNode tree into a Policy, reporting every problem it finds.
class Checker {
 public:
  explicit Checker(ConfigErrors& errors)
      : errors_(errors), reader_(errors, "process names and exe paths") {}

  void Document(const YamlNode& root, Policy& policy) {
    if (root.kind == YamlNode::Kind::kNull) return;  // "~" alone: the empty policy
    if (root.kind == YamlNode::Kind::kRejected) return;
    if (root.kind != YamlNode::Kind::kMap) {
      ErrorAt(errors_, root, "", "a policy is a mapping of sections, got " + Describe(root));
      return;
    }
    YamlFields fields;
    reader_.ReadFields(root, "",
                       {"zones", "listeners", "expected_services", "network_processes", "paths",
                        "limits", "baseline"},
                       fields);
    // Zones first: paths refer to them, whatever the order in the file.
    if (const YamlNode* zones = YamlReader::Value(fields, "zones")) Zones(*zones, policy.zones);
    if (const YamlNode* listeners = YamlReader::Value(fields, "listeners")) {
      policy.listeners = Listeners(*listeners);
    }
    if (const YamlNode* services = YamlReader::Value(fields, "expected_services")) {
      policy.expected_services = Services(*services);
    }
    if (const YamlNode* processes = YamlReader::Value(fields, "network_processes")) {
      policy.network_processes = NetworkProcesses(*processes);
    }
    if (const YamlNode* paths = YamlReader::Value(fields, "paths")) policy.paths = Paths(*paths);
    if (const YamlNode* limits = YamlReader::Value(fields, "limits")) {
      ReadLimits(reader_, *limits, policy.limits);
    }
    if (const YamlNode* baseline = YamlReader::Value(fields, "baseline")) {
      DurationSection(*baseline, "baseline", "learn_for", true, policy.baseline.learn_for);
    }
    CheckZoneReferences();
  }

 private:
  std::optional<uint16_t> Port(const YamlNode& node, const std::string& path) {
    bool integer = node.kind == YamlNode::Kind::kScalar &&
                   (node.IsPlain() || node.tag == kYamlTagInt) && LooksLikeInteger(node.value);
    if (!integer) {
      reader_.TypeError(node, path, "an integer port");
      return std::nullopt;
    }
    std::string_view digits = node.value;
    if (digits.starts_with('-')) digits.remove_prefix(1);
    if (digits.size() > 1 && digits[0] == '0') {
      ErrorAt(
          errors_, node, path,
          "write ports without leading zeros (YAML 1.1 reads them as octal), got " + node.value);
      return std::nullopt;
    }
    std::optional<uint16_t> port = PolicyPortNumber(node.value);
    if (!port) ErrorAt(errors_, node, path, "port must be 1-65535, got " + node.value);
    return port;
  }

  std::optional<PortRange> RangeOfPorts(const YamlNode& node, const std::string& path) {
    std::optional<std::string> text = reader_.String(node, path);
    if (!text) return std::nullopt;
    size_t dash = text->find('-');
    bool well_formed = dash != std::string::npos && dash > 0 && dash + 1 < text->size() &&
                       LooksLikeInteger(text->substr(0, dash)) &&
                       LooksLikeInteger(text->substr(dash + 1)) && (*text)[dash + 1] != '-';
    if (!well_formed) {
      ErrorAt(errors_, node, path,
              "expected a port range like \"8000-8100\", got " + QuoteBytes(*text));
      return std::nullopt;
    }
    std::optional<uint16_t> low = PolicyPortNumber(text->substr(0, dash));
    std::optional<uint16_t> high = PolicyPortNumber(text->substr(dash + 1));
    if (!low || !high) {
      ErrorAt(errors_, node, path, "ports must be within 1-65535, got " + QuoteBytes(*text));
      return std::nullopt;
    }
    if (*low > *high) {
      ErrorAt(errors_, node, path, "port range is reversed: " + QuoteBytes(*text));
      return std::nullopt;
    }
    return PortRange{*low, *high};
  }

  // `port: N` or `ports: "L-H"`, at most one of them; absent: every port.
  void Ports(const YamlFields& fields, const std::string& path, PortRange& span) {
    auto port = fields.find("port");
    auto ports = fields.find("ports");
    if (port != fields.end() && ports != fields.end()) {
      bool port_first = std::pair(port->second.key->line, port->second.key->column) <
                        std::pair(ports->second.key->line, ports->second.key->column);
      const auto& second = port_first ? *ports : *port;
      ErrorAt(errors_, *second.second.key, KeyPath(path, second.first),
              "give either port or ports, not both");
      return;
    }
    if (port != fields.end()) {
      if (auto value = Port(*port->second.value, KeyPath(path, "port"))) span = {*value, *value};
    } else if (ports != fields.end()) {
      if (auto value = RangeOfPorts(*ports->second.value, KeyPath(path, "ports"))) span = *value;
    }
  }

  void Protocol(const YamlNode& node, const std::string& path, ProtocolMatch& protocol) {
    std::optional<std::string> text = reader_.String(node, path);
    if (!text) return;
    if (*text == "tcp") {
      protocol = ProtocolMatch::kTcp;
    } else if (*text == "udp") {
      protocol = ProtocolMatch::kUdp;
    } else {
      ErrorAt(errors_, node, path, "protocol must be tcp or udp, got " + QuoteBytes(*text));
    }
  }

  std::optional<std::chrono::seconds> Duration(const YamlNode& node, const std::string& path,
                                               bool zero_ok) {
    return ReadPolicyDuration(reader_, node, path, zero_ok);
  }

  void Zones(const YamlNode& node, std::vector<Zone>& zones) {
    reader_.ForEachItem(node, "zones", [&](const YamlNode& item, const std::string& path) {
      YamlFields fields;
      if (!reader_.ReadFields(item, path, {"name", "cidrs"}, fields)) return;
      Zone zone;
      bool name_ok = reader_.Require(item, fields, path, "name");
      bool cidrs_ok = reader_.Require(item, fields, path, "cidrs");
      if (name_ok) {
        const YamlNode& name_node = *YamlReader::Value(fields, "name");
        std::string name_path = KeyPath(path, "name");
        if (std::optional<std::string> name = reader_.String(name_node, name_path)) {
          zone.name = *name;
          ZoneName(name_node, name_path, zone.name);
        }
      }
      if (cidrs_ok) Cidrs(*YamlReader::Value(fields, "cidrs"), KeyPath(path, "cidrs"), zone);
      zones.push_back(std::move(zone));
    });
  }

  void Cidrs(const YamlNode& cidrs, const std::string& path, Zone& zone) {
    if (cidrs.kind == YamlNode::Kind::kList && cidrs.children.empty()) {
      ErrorAt(errors_, cidrs, path, "a zone needs at least one CIDR");
    }
    reader_.ForEachItem(cidrs, path, [&](const YamlNode& item, const std::string& cidr_path) {
      std::optional<std::string> text = reader_.String(item, cidr_path);
      if (!text) return;
      if (std::optional<Cidr> cidr = ParseCidr(*text)) {
        zone.cidrs.push_back(*cidr);
      } else {
        ErrorAt(errors_, item, cidr_path, CidrProblem(*text));
      }
    });
  }

  void ZoneName(const YamlNode& node, const std::string& path, const std::string& name) {
    bool well_formed = !name.empty() && name[0] >= 'a' && name[0] <= 'z' &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                       });
    // Known even when bad, so that paths naming it are not reported a second time.
    auto [it, inserted] = zone_names_.try_emplace(name, &node);
    if (!well_formed) {
      ErrorAt(errors_, node, path,
              "zone names must match [a-z][a-z0-9_]*, got " + QuoteBytes(name));
    } else if (IsBuiltinZoneName(name)) {
      ErrorAt(errors_, node, path, "\"" + name + "\" is a built-in zone; choose another name");
    } else if (!inserted) {
      ErrorAt(errors_, node, path,
              "duplicate zone name \"" + name + "\"; first defined at line " +
                  std::to_string(it->second->line));
    }
  }

  // The optional `process` of a rule: a name or glob, !!binary allowed (names need not be
  // UTF-8); "" when absent (any process).
  std::string ProcessPattern(const YamlFields& fields, const std::string& path) {
    const YamlNode* process = YamlReader::Value(fields, "process");
    if (process == nullptr) return "";
    return reader_.String(*process, KeyPath(path, "process"), true).value_or("");
  }

  // The optional `exe` of a rule: "" when absent (any binary). Compared with the kernel's
  // /proc/<pid>/exe, which is absolute and resolved, so a pattern that could never match
  // one is an error rather than a rule that silently allows nothing.
  std::string ExePattern(const YamlFields& fields, const std::string& path) {
    const YamlNode* exe = YamlReader::Value(fields, "exe");
    if (exe == nullptr) return "";
    std::string exe_path = KeyPath(path, "exe");
    std::optional<std::string> text = reader_.String(*exe, exe_path, true);
    if (!text) return "";
    std::string problem;
    if (text->empty()) {
      problem = "exe must not be empty (leave the key out to allow any path)";
    } else if ((*text)[0] != '/') {
      problem = "exe must be an absolute path or glob (starting with /), got " + QuoteBytes(*text);
    } else if (text->find('\0') != std::string::npos) {
      problem = "exe must not contain NUL bytes";
    } else if (text->size() > 1 && text->back() == '/') {
      problem = "exe names a directory, not a binary: " + QuoteBytes(*text);
    } else if ((*text + "/").find("/./") != std::string::npos ||
               (*text + "/").find("/../") != std::string::npos) {
      problem = "exe is matched against the resolved path, which has no . or .. parts, got " +
                QuoteBytes(*text);
    }
    if (problem.empty()) return *text;
    ErrorAt(errors_, *exe, exe_path, problem);
    return "";
  }

  // The optional workload selector of a rule: namespace, workload, pod, container, netns,
  // each a glob naming what the kernel and the node's files label sockets with.
  void Selector(const YamlFields& fields, const std::string& path, WorkloadSelector& selects) {
    const std::pair<const char*, std::string*> keys[] = {{"namespace", &selects.k8s_namespace},
                                                         {"workload", &selects.workload},
                                                         {"pod", &selects.pod},
                                                         {"container", &selects.container},
                                                         {"netns", &selects.netns}};
    for (const auto& [key, value] : keys) {
      const YamlNode* node = YamlReader::Value(fields, key);
      if (node == nullptr) continue;
      std::string key_path = KeyPath(path, key);
      std::optional<std::string> text = reader_.String(*node, key_path);
      if (!text) continue;
      if (text->empty()) {
        ErrorAt(errors_, *node, key_path,
                std::string(key) + " must not be empty (leave the key out to match any)");
        continue;
      }
      *value = *text;
    }
  }

  // What every rule kind has: where it is written, whom it names, which protocol.
  template <typename Rule>
  void RuleBasics(const YamlNode& item, const YamlFields& fields, const std::string& path,
                  Rule& rule) {
    rule.where = reader_.Where(item);
    rule.process = ProcessPattern(fields, path);
    rule.exe = ExePattern(fields, path);
    Selector(fields, path, rule.selects);
    if (const YamlNode* protocol = YamlReader::Value(fields, "protocol")) {
      Protocol(*protocol, KeyPath(path, "protocol"), rule.protocol);
    }
  }

  std::vector<ListenerRule> Listeners(const YamlNode& node) {
    std::vector<ListenerRule> rules;
    reader_.ForEachItem(node, "listeners", [&](const YamlNode& item, const std::string& path) {
      YamlFields fields;
      if (!reader_.ReadFields(item, path,
                              WithSelector({"process", "exe", "port", "ports", "protocol", "bind"}),
                              fields)) {
        return;
      }
      ListenerRule rule;
      RuleBasics(item, fields, path, rule);
      Ports(fields, path, rule.ports);
      if (const YamlNode* bind = YamlReader::Value(fields, "bind")) {
        Bind(*bind, KeyPath(path, "bind"), rule.bind);
      }
      rules.push_back(std::move(rule));
    });
    return rules;
  }

  void Bind(const YamlNode& node, const std::string& path, BindMatch& bind) {
    std::optional<std::string> text = reader_.String(node, path);
    if (!text) return;
    if (*text == "any") {
      bind.scope = BindScope::kWildcard;
    } else if (*text == "loopback") {
      bind.scope = BindScope::kLoopback;
    } else if (std::optional<IpAddress> address = ParseIpAddress(*text)) {
      bind.scope = BindScope::kAddress;
      bind.address = *address;
    } else {
      ErrorAt(errors_, node, path,
              "bind must be any, loopback or an IP address, got " + QuoteBytes(*text));
    }
  }

  std::vector<ExpectedService> Services(const YamlNode& node) {
    std::vector<ExpectedService> services;
    std::map<std::string, const YamlNode*> names;
    reader_.ForEachItem(
        node, "expected_services", [&](const YamlNode& item, const std::string& path) {
          YamlFields fields;
          if (!reader_.ReadFields(item, path,
                                  WithSelector({"name", "port", "protocol", "process", "exe"}),
                                  fields)) {
            return;
          }
          ExpectedService service;
          RuleBasics(item, fields, path, service);
          if (reader_.Require(item, fields, path, "name")) {
            const YamlNode& name_node = *YamlReader::Value(fields, "name");
            std::string name_path = KeyPath(path, "name");
            if (std::optional<std::string> name = reader_.String(name_node, name_path)) {
              service.name = *name;
              ServiceName(name_node, name_path, *name, names);
            }
          }
          if (reader_.Require(item, fields, path, "port")) {
            service.port =
                Port(*YamlReader::Value(fields, "port"), KeyPath(path, "port")).value_or(0);
          }
          services.push_back(std::move(service));
        });
    return services;
  }

  // The name becomes the `service` label of connwatch_expected_service_up.
  void ServiceName(const YamlNode& node, const std::string& path, const std::string& name,
                   std::map<std::string, const YamlNode*>& names) {
    if (name.empty()) {
      ErrorAt(errors_, node, path, "service name must not be empty");
      return;
    }
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }) ||
        !IsValidUtf8(name)) {
      ErrorAt(errors_, node, path,
              "service name must be UTF-8 without control characters, got " + QuoteBytes(name));
      return;
    }
    auto [it, inserted] = names.try_emplace(name, &node);
    if (!inserted) {
      ErrorAt(errors_, node, path,
              "duplicate service name " + QuoteBytes(name) + "; first defined at line " +
                  std::to_string(it->second->line));
    }
  }

  // A name (glob) or a mapping {process: GLOB, exe: GLOB} with at least one of them.
  std::vector<NetworkProcessRule> NetworkProcesses(const YamlNode& node) {
    std::vector<NetworkProcessRule> rules;
    reader_.ForEachItem(
        node, "network_processes", [&](const YamlNode& item, const std::string& path) {
          NetworkProcessRule rule{"", reader_.Where(item), "", {}};
          const YamlNode* name_node = &item;
          std::string name_path = path;
          if (item.kind == YamlNode::Kind::kMap) {
            YamlFields fields;
            if (!reader_.ReadFields(item, path, WithSelector({"process", "exe"}), fields)) return;
            rule.exe = ExePattern(fields, path);
            Selector(fields, path, rule.selects);
            name_node = YamlReader::Value(fields, "process");
            name_path = KeyPath(path, "process");
            if (name_node == nullptr) {
              if (item.children.empty()) {
                ErrorAt(errors_, item, path, "give process, exe or both");
              } else if (!rule.exe.empty()) {
                rules.push_back(std::move(rule));
              }
              return;
            }
          }
          std::optional<std::string> name = reader_.String(*name_node, name_path, true);
          if (!name) return;
          // An empty pattern matches every process, which here would silently allow all.
          if (name->empty()) {
            ErrorAt(errors_, *name_node, name_path,
                    "process name must not be empty (\"*\" allows every process)");
            return;
          }
          rule.process = *name;
          rules.push_back(std::move(rule));
        });
    return rules;
  }

  std::vector<PathRule> Paths(const YamlNode& node) {
    std::vector<PathRule> rules;
    reader_.ForEachItem(node, "paths", [&](const YamlNode& item, const std::string& path) {
      YamlFields fields;
      if (!reader_.ReadFields(item, path,
                              WithSelector({"process", "exe", "direction", "remote_zone", "port",
                                            "ports", "protocol", "beacon"}),
                              fields)) {
        return;
      }
      PathRule rule;
      RuleBasics(item, fields, path, rule);
      if (const YamlNode* direction = YamlReader::Value(fields, "direction")) {
        std::string direction_path = KeyPath(path, "direction");
        if (std::optional<std::string> text = reader_.String(*direction, direction_path)) {
          if (*text == "inbound") {
            rule.direction = Direction::kInbound;
          } else if (*text == "outbound") {
            rule.direction = Direction::kOutbound;
          } else {
            ErrorAt(errors_, *direction, direction_path,
                    "direction must be inbound or outbound, got " + QuoteBytes(*text));
          }
        }
      }
      if (const YamlNode* zone = YamlReader::Value(fields, "remote_zone")) {
        std::string zone_path = KeyPath(path, "remote_zone");
        if (std::optional<std::string> text = reader_.String(*zone, zone_path)) {
          rule.remote_zone = *text;
          zone_references_.push_back({zone, zone_path});
        }
      }
      Ports(fields, path, rule.ports);
      if (const YamlNode* beacon = YamlReader::Value(fields, "beacon")) {
        std::string beacon_path = KeyPath(path, "beacon");
        if (std::optional<std::string> text = reader_.String(*beacon, beacon_path)) {
          if (*text == "allowed") {
            rule.beacon_allowed = true;
          } else {
            ErrorAt(errors_, *beacon, beacon_path,
                    "beacon must be allowed (or absent), got " + QuoteBytes(*text));
          }
        }
      }
      rules.push_back(std::move(rule));
    });
    return rules;
  }
  // A section holding one duration (baseline.learn_for).
  void DurationSection(const YamlNode& node, const std::string& section, const char* key,
                       bool zero_ok, std::chrono::seconds& out) {
    YamlFields fields;
    if (!reader_.ReadFields(node, section, {key}, fields)) return;
    const YamlNode* value = YamlReader::Value(fields, key);
    if (value == nullptr) return;
    if (auto duration = Duration(*value, KeyPath(section, key), zero_ok)) out = *duration;
  }

  void CheckZoneReferences() {
    for (const auto& [node, path] : zone_references_) {
      const std::string& name = node->value;
      if (IsBuiltinZoneName(name) || zone_names_.contains(name)) continue;
      std::string known;
      for (const auto& [zone, unused] : zone_names_) known += zone + ", ";
      for (const char* zone : BuiltinZoneNames()) known += std::string(zone) + ", ";
      known.resize(known.size() - 2);
      ErrorAt(errors_, *node, path, "unknown zone " + QuoteBytes(name) + "; known zones: " + known);
    }
  }

  ConfigErrors& errors_;
  YamlReader reader_;
  std::map<std::string, const YamlNode*> zone_names_;
  std::vector<std::pair<const YamlNode*, std::string>> zone_references_;
};

}  // namespace

YamlRules PolicyYamlRules() {
  YamlRules rules;
  rules.document = "policy file";
  rules.max_bytes = kMaxPolicyFileBytes;
  return rules;
}

PolicyLoadResult ParsePolicy(std::string_view text, const std::string& file_name) {
  PolicyLoadResult result;
  ConfigErrors errors(file_name);
  Policy policy;
  policy.source = file_name;
  try {
    // An empty file (or one with only comments) is the empty policy: no section, so no check
    // is active, and no learning (learn_for stays 0).
    if (std::optional<YamlNode> root = ParseYamlTree(text, PolicyYamlRules(), errors)) {
      Checker(errors).Document(*root, policy);
    }
  } catch (const std::exception& e) {
    // Nothing may escape: a reload runs inside the serving process.
    errors.At(0, 0, "", std::string("loading failed: ") + e.what());
  } catch (...) {
    errors.At(0, 0, "", "loading failed: unknown exception");
  }
  if (errors.empty()) {
    result.policy = std::move(policy);
  } else {
    result.errors = errors.Take();
  }
  return result;
}

PolicyLoadResult LoadPolicyFile(const std::string& path) {
  FileLoad file = LoadFileCapped(path, kMaxPolicyFileBytes);
  if (file.ok()) return ParsePolicy(file.text, path);
  PolicyLoadResult result;
  std::string problem = file.status == FileLoad::Status::kTooLarge
                            ? "file is larger than the limit of " +
                                  std::to_string(kMaxPolicyFileBytes) +
                                  " bytes; refusing to parse it"
                            : std::string("cannot read: ") + strerror(file.error);
  result.errors.push_back({{path, 0, 0}, "", problem});
  return result;
}

}  // namespace connwatch
