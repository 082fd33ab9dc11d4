#include "policy/policy_yaml.h"

#include <yaml-cpp/binary.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/text.h"
#include "net/cidr.h"

namespace connwatch {
namespace {

// ASCII only: the C library's classes follow the locale.
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Words some YAML reader takes for null or a boolean when plain.
bool IsReservedWord(std::string word) {
  for (char& c : word) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  static const std::set<std::string> kWords = {"null", "true", "false", "yes", "no",
                                               "on",   "off",  "y",     "n"};
  return kWords.contains(word);
}

// A string as a YAML scalar: plain when that is unambiguous to every YAML reader, else
// double-quoted with escapes. Bytes that are not UTF-8 (process names come from the kernel
// and can be anything) cannot be written in YAML text; such names become !!binary (base64),
// which the loader accepts for process names, with a readable rendering in `comment`.
struct YamlScalar {
  std::string text;
  std::string comment;
};

YamlScalar YamlString(const std::string& text) {
  if (!IsValidUtf8(text)) {
    std::string encoded =
        YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(text.data()), text.size());
    return {"!!binary \"" + encoded + "\"", QuoteBytes(text) + " (not UTF-8)"};
  }
  bool plain = !text.empty() && IsAsciiLetter(text[0]) &&
               std::all_of(text.begin(), text.end(),
                           [](char c) {
                             return IsAsciiLetter(c) || IsAsciiDigit(c) || c == '_' || c == '-' ||
                                    c == '.' || c == '/' || c == '+';
                           }) &&
               !IsReservedWord(text);
  if (plain) return {text, ""};
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = Utf8SequenceLength(text, i);
    uint32_t code_point = DecodeUtf8(text, i, length);
    char buffer[16];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(buffer, sizeof(buffer), "\\x%02x", c);
      out += buffer;
    } else if ((code_point >= 0x80 && code_point <= 0x9f) || code_point == 0x2028 ||
               code_point == 0x2029 || code_point == 0xfeff) {
      // C1 controls, line separators and the BOM: legal UTF-8, invisible or line-breaking
      // in a reviewer's terminal.
      snprintf(buffer, sizeof(buffer), "\\u%04x", code_point);
      out += buffer;
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  return {out + "\"", ""};
}

void EmitScalar(const YamlScalar& scalar, std::ostringstream& out) {
  out << scalar.text;
  if (!scalar.comment.empty()) out << "  # " << scalar.comment;
  out << "\n";
}

// Writes one list item of a rule section: "  - key: value\n    key: value\n", or "  - {}"
// for a rule without keys (it matches everything).
void EmitItem(const std::vector<std::pair<std::string, YamlScalar>>& entries,
              std::ostringstream& out) {
  if (entries.empty()) {
    out << "  - {}\n";
    return;
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    out << (i == 0 ? "  - " : "    ") << entries[i].first << ": ";
    EmitScalar(entries[i].second, out);
  }
}

// A rule's process and exe, when given.
void AddIdentity(const std::string& process, const std::string& exe,
                 std::vector<std::pair<std::string, YamlScalar>>& entries) {
  if (!process.empty()) entries.push_back({"process", YamlString(process)});
  if (!exe.empty()) entries.push_back({"exe", YamlString(exe)});
}

// A rule's workload selector, the keys that are set.
void AddSelector(const WorkloadSelector& selects,
                 std::vector<std::pair<std::string, YamlScalar>>& entries) {
  const std::pair<const char*, const std::string*> keys[] = {{"namespace", &selects.k8s_namespace},
                                                             {"workload", &selects.workload},
                                                             {"pod", &selects.pod},
                                                             {"container", &selects.container},
                                                             {"netns", &selects.netns}};
  for (const auto& [key, value] : keys) {
    if (!value->empty()) entries.push_back({key, YamlString(*value)});
  }
}

void AddPorts(const PortRange& ports, std::vector<std::pair<std::string, YamlScalar>>& entries) {
  if (ports.IsAny()) return;
  if (ports.low == ports.high) {
    entries.push_back({"port", {std::to_string(ports.low), ""}});
  } else {
    entries.push_back(
        {"ports",
         {"\"" + std::to_string(ports.low) + "-" + std::to_string(ports.high) + "\"", ""}});
  }
}

// A plain name, or a mapping when the rule says where the binary lives.
void EmitNetworkProcesses(const std::vector<NetworkProcessRule>& rules, std::ostringstream& out) {
  for (const NetworkProcessRule& rule : rules) {
    if (rule.exe.empty() && rule.selects.IsAny()) {
      out << "  - ";
      EmitScalar(YamlString(rule.process), out);
      continue;
    }
    std::vector<std::pair<std::string, YamlScalar>> entries;
    AddIdentity(rule.process, rule.exe, entries);
    AddSelector(rule.selects, entries);
    EmitItem(entries, out);
  }
}

void EmitLimits(const Limits& limits, std::ostringstream& out) {
  out << "limits:\n  long_connection: " << FormatDuration(limits.long_connection) << "\n";
  out << "  udp_server_after: " << limits.udp_server_after << "\n";
  out << "  finding_hold: " << FormatDuration(limits.finding_hold) << "\n";
  out << "  beacon:\n    window: " << FormatDuration(limits.beacon.window) << "\n";
  out << "    min_connections: " << limits.beacon.min_connections << "\n";
  out << "    min_score: " << limits.beacon.min_score << "\n";
  out << "  scan:\n    targets: " << limits.scan.targets << "\n";
  out << "    ports: " << limits.scan.ports << "\n";
}

}  // namespace

std::string PolicyToYaml(const Policy& policy) {
  using Entries = std::vector<std::pair<std::string, YamlScalar>>;
  std::ostringstream out;
  if (!policy.zones.empty()) {
    out << "zones:\n";
    for (const Zone& zone : policy.zones) {
      out << "  - name: " << YamlString(zone.name).text << "\n    cidrs: [";
      for (size_t i = 0; i < zone.cidrs.size(); ++i) {
        out << (i == 0 ? "" : ", ") << YamlString(FormatCidr(zone.cidrs[i])).text;
      }
      out << "]\n";
    }
  }
  if (policy.listeners) {
    out << "listeners:" << (policy.listeners->empty() ? " []" : "") << "\n";
    for (const ListenerRule& rule : *policy.listeners) {
      Entries entries;
      AddIdentity(rule.process, rule.exe, entries);
      AddSelector(rule.selects, entries);
      AddPorts(rule.ports, entries);
      if (rule.protocol != ProtocolMatch::kAny) {
        entries.push_back({"protocol", {ProtocolMatchName(rule.protocol), ""}});
      }
      switch (rule.bind.scope) {
        case BindScope::kUnspecified:
          break;
        case BindScope::kWildcard:
          entries.push_back({"bind", {"any", ""}});
          break;
        case BindScope::kLoopback:
          entries.push_back({"bind", {"loopback", ""}});
          break;
        case BindScope::kAddress:
          entries.push_back({"bind", YamlString(FormatIpAddress(rule.bind.address))});
          break;
      }
      EmitItem(entries, out);
    }
  }
  if (policy.expected_services) {
    out << "expected_services:" << (policy.expected_services->empty() ? " []" : "") << "\n";
    for (const ExpectedService& service : *policy.expected_services) {
      Entries entries = {{"name", YamlString(service.name)},
                         {"port", {std::to_string(service.port), ""}}};
      if (service.protocol != ProtocolMatch::kAny) {
        entries.push_back({"protocol", {ProtocolMatchName(service.protocol), ""}});
      }
      AddIdentity(service.process, service.exe, entries);
      AddSelector(service.selects, entries);
      EmitItem(entries, out);
    }
  }
  if (policy.network_processes) {
    out << "network_processes:" << (policy.network_processes->empty() ? " []" : "") << "\n";
    EmitNetworkProcesses(*policy.network_processes, out);
  }
  if (policy.paths) {
    out << "paths:" << (policy.paths->empty() ? " []" : "") << "\n";
    for (const PathRule& rule : *policy.paths) {
      Entries entries;
      AddIdentity(rule.process, rule.exe, entries);
      AddSelector(rule.selects, entries);
      if (rule.direction != Direction::kNone) {
        entries.push_back({"direction", {DirectionName(rule.direction), ""}});
      }
      if (!rule.remote_zone.empty())
        entries.push_back({"remote_zone", YamlString(rule.remote_zone)});
      AddPorts(rule.ports, entries);
      if (rule.protocol != ProtocolMatch::kAny) {
        entries.push_back({"protocol", {ProtocolMatchName(rule.protocol), ""}});
      }
      if (rule.beacon_allowed) entries.push_back({"beacon", {"allowed", ""}});
      EmitItem(entries, out);
    }
  }
  EmitLimits(policy.limits, out);
  out << "baseline:\n  learn_for: " << FormatDuration(policy.baseline.learn_for) << "\n";
  return out.str();
}

}  // namespace connwatch
