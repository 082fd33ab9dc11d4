#include "policy/policy_loader.h"

#include <yaml-cpp/binary.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/duration.h"
#include "base/read_file.h"
#include "net/cidr.h"

namespace connwatch {
namespace {

// A policy is four levels deep (zones, the list, a zone, its cidrs). yaml-cpp's own guard
// only stops at 2000 levels, and every level costs stack in its recursive parser.
constexpr size_t kMaxNestingDepth = 16;
// A real policy has a few hundred nodes; a 1 MiB flow list could have half a million.
constexpr size_t kMaxNodes = 100000;
constexpr size_t kMaxErrors = 100;

constexpr const char* kTagStr = "tag:yaml.org,2002:str";
constexpr const char* kTagInt = "tag:yaml.org,2002:int";
constexpr const char* kTagBinary = "tag:yaml.org,2002:binary";
constexpr const char* kTagNull = "tag:yaml.org,2002:null";
constexpr const char* kTagSeq = "tag:yaml.org,2002:seq";
constexpr const char* kTagMap = "tag:yaml.org,2002:map";

const char* const kBuiltinZones[] = {kZoneLoopback, kZoneLinkLocal, kZoneMulticast, kZoneInternal,
                                     kZoneExternal};

// A YAML node as yaml-cpp's event parser reports it. yaml-cpp's own node tree is not used:
// its map lookups hide duplicate keys, and walking it visits every expansion of every
// alias (a few hundred bytes of nested aliases stand for billions of nodes). Built from
// events, aliases are never expanded and every mapping entry is seen.
struct YamlNode {
  enum class Kind : uint8_t {
    kNull,
    kScalar,
    kList,
    kMap,
    kRejected,  // an alias or an unsupported tag, already reported: checked no further
  };
  Kind kind = Kind::kNull;
  int line = 0;  // 1-based
  int column = 0;
  std::string tag;                 // "?" plain scalar, "!" quoted scalar, or a resolved tag
  std::string value;               // scalars
  std::vector<YamlNode> children;  // lists: the items; maps: key, value, key, value, ...

  bool IsPlain() const { return tag == "?"; }
};

// Ends the event walk early. `tree_complete` says whether what was built so far is the
// whole first document (a second document) or a fragment (too deep, too big).
struct StopParsing {
  bool tree_complete;
};

int Line(const YAML::Mark& mark) { return mark.line < 0 ? 0 : mark.line + 1; }
int Column(const YAML::Mark& mark) { return mark.column < 0 ? 0 : mark.column + 1; }

// `text` as a double-quoted string for messages: printable ASCII as is, the rest escaped,
// long values cut.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buffer[8];
      snprintf(buffer, sizeof(buffer), "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "\"";
}

// A key as it appears in a dotted path: printable ASCII, other bytes escaped.
std::string KeyText(std::string_view key) {
  std::string quoted = Quote(key);
  return quoted.substr(1, quoted.size() - 2);
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? KeyText(key) : path + "." + KeyText(key);
}

std::string Index(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string Describe(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      return "null";
    case YamlNode::Kind::kList:
      return "a list";
    case YamlNode::Kind::kMap:
      return "a mapping";
    case YamlNode::Kind::kScalar:
      return node.IsPlain() ? Quote(node.value) : "the string " + Quote(node.value);
    case YamlNode::Kind::kRejected:
      break;
  }
  return "an invalid value";
}

// Length of the valid UTF-8 sequence at `text[i]`, or 0. Rejects overlong forms,
// surrogates and code points above U+10FFFF, like every strict decoder.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Collects PolicyErrors for one file, up to kMaxErrors (a 1 MiB file of aliases would
// otherwise yield half a million); the rest are only counted.
class ErrorSink {
 public:
  ErrorSink(const std::string& file, std::vector<PolicyError>& errors, size_t& dropped)
      : file_(file), errors_(errors), dropped_(dropped) {}

  void At(int line, int column, const std::string& key, std::string message) {
    if (errors_.size() >= kMaxErrors) {
      ++dropped_;
      return;
    }
    errors_.push_back({{file_, line, column}, key, std::move(message)});
  }
  void At(const YamlNode& node, const std::string& key, std::string message) {
    At(node.line, node.column, key, std::move(message));
  }
  const std::string& file() const { return file_; }

 private:
  const std::string& file_;
  std::vector<PolicyError>& errors_;
  size_t& dropped_;
};

// yaml-cpp events -> YamlNode tree, refusing aliases, odd tags, deep nesting, a second
// document and absurd node counts on the way.
class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(ErrorSink& errors) : errors_(errors) {}

  // The first document's root; nullopt for a stream without documents (an empty file).
  std::optional<YamlNode>& root() { return root_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      errors_.At(Line(mark), Column(mark), "",
                 "a policy file holds one YAML document; remove the second one");
      throw StopParsing{true};
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    Add(Make(YamlNode::Kind::kNull, mark, "?"));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    std::string name =
        anchor >= 1 && anchor <= anchor_names_.size() ? "*" + anchor_names_[anchor - 1] + " " : "";
    errors_.At(Line(mark), Column(mark), PathOfNext(),
               "alias " + name + "not allowed: policy files may not use YAML aliases");
    Add(Make(YamlNode::Kind::kRejected, mark, "?"));
  }

  void OnAnchor(const YAML::Mark&, const std::string& name) override {
    // yaml-cpp numbers anchors from 1 in order of appearance; aliases refer to the number.
    anchor_names_.push_back(name);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    YamlNode node = Make(YamlNode::Kind::kScalar, mark, tag);
    node.value = value;
    if (tag != "?" && tag != "!" && tag != kTagStr && tag != kTagInt && tag != kTagBinary &&
        tag != kTagNull) {
      Reject(node);
    }
    Add(std::move(node));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    YamlNode node = Make(YamlNode::Kind::kList, mark, tag);
    if (tag != "?" && tag != "!" && tag != kTagSeq) Reject(node);
    Push(std::move(node), mark);
  }
  void OnSequenceEnd() override { stack_.pop_back(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    YamlNode node = Make(YamlNode::Kind::kMap, mark, tag);
    if (tag != "?" && tag != "!" && tag != kTagMap) Reject(node);
    Push(std::move(node), mark);
  }
  void OnMapEnd() override { stack_.pop_back(); }

 private:
  YamlNode Make(YamlNode::Kind kind, const YAML::Mark& mark, const std::string& tag) {
    if (++nodes_ > kMaxNodes) {
      errors_.At(Line(mark), Column(mark), "",
                 "more than " + std::to_string(kMaxNodes) + " YAML nodes; not a policy file");
      throw StopParsing{false};
    }
    YamlNode node;
    node.kind = kind;
    node.line = Line(mark);
    node.column = Column(mark);
    node.tag = tag;
    return node;
  }

  void Reject(YamlNode& node) {
    std::string tag = node.tag.starts_with("tag:yaml.org,2002:")
                          ? "!!" + node.tag.substr(strlen("tag:yaml.org,2002:"))
                          : node.tag;
    errors_.At(node, PathOfNext(), "unsupported YAML tag " + Quote(tag));
    node.kind = YamlNode::Kind::kRejected;
    node.children.clear();
  }

  // The dotted path ("listeners[1].port") of the node about to be added, for the errors
  // found while building. A node in key position gets its mapping's path.
  std::string PathOfNext() const {
    std::string path;
    for (size_t level = 0; level < stack_.size(); ++level) {
      const YamlNode& container = *stack_[level];
      size_t size = container.children.size();
      bool innermost = level + 1 == stack_.size();
      // In an outer container the child being built is the last one; in the innermost one
      // it is the next.
      size_t child = innermost ? size : size - 1;
      if (container.kind == YamlNode::Kind::kList) {
        path = Index(path, child);
      } else if (child % 2 == 1 && container.children[child - 1].kind == YamlNode::Kind::kScalar) {
        path = Join(path, container.children[child - 1].value);
      }
    }
    return path;
  }

  // Adds a node to the current container (or as the root) and returns where it now lives.
  YamlNode* Add(YamlNode node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return &*root_;
    }
    YamlNode& parent = *stack_.back();
    // yaml-cpp places an empty value ("port:") at the next token, often on the next line;
    // the key is where a reader looks.
    if (parent.kind == YamlNode::Kind::kMap && parent.children.size() % 2 == 1 &&
        node.kind == YamlNode::Kind::kNull) {
      node.line = parent.children.back().line;
      node.column = parent.children.back().column;
    }
    parent.children.push_back(std::move(node));
    return &parent.children.back();
  }

  // Pointers on the stack stay valid: only the innermost container grows.
  void Push(YamlNode node, const YAML::Mark& mark) {
    if (stack_.size() >= kMaxNestingDepth) {
      errors_.At(
          Line(mark), Column(mark), "",
          "nested deeper than " + std::to_string(kMaxNestingDepth) + " levels; not a policy file");
      throw StopParsing{false};
    }
    stack_.push_back(Add(std::move(node)));
  }

  ErrorSink& errors_;
  std::optional<YamlNode> root_;
  std::vector<YamlNode*> stack_;
  std::vector<std::string> anchor_names_;
  int documents_ = 0;
  size_t nodes_ = 0;
};

// An optional minus sign, then decimal digits.
bool LooksLikeInteger(std::string_view text) {
  if (text.starts_with('-')) text.remove_prefix(1);
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<uint16_t> ParsePortNumber(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

struct Field {
  const YamlNode* key = nullptr;
  const YamlNode* value = nullptr;
};
using Fields = std::map<std::string, Field, std::less<>>;

// Turns the YamlNode tree into a Policy, reporting every problem it finds.
class Checker {
 public:
  explicit Checker(ErrorSink& errors) : errors_(errors) {}

  void Document(const YamlNode& root, Policy& policy) {
    if (root.kind == YamlNode::Kind::kNull) return;  // "~" alone: the empty policy
    if (root.kind == YamlNode::Kind::kRejected) return;
    if (root.kind != YamlNode::Kind::kMap) {
      errors_.At(root, "", "a policy is a mapping of sections, got " + Describe(root));
      return;
    }
    Fields fields;
    ReadFields(root, "",
               {"zones", "listeners", "expected_services", "network_processes", "paths", "limits",
                "baseline"},
               fields);
    // Zones first: paths refer to them, whatever the order in the file.
    if (const YamlNode* zones = Value(fields, "zones")) Zones(*zones, policy.zones);
    if (const YamlNode* listeners = Value(fields, "listeners")) {
      policy.listeners = Listeners(*listeners);
    }
    if (const YamlNode* services = Value(fields, "expected_services")) {
      policy.expected_services = Services(*services);
    }
    if (const YamlNode* processes = Value(fields, "network_processes")) {
      policy.network_processes = NetworkProcesses(*processes);
    }
    if (const YamlNode* paths = Value(fields, "paths")) policy.paths = Paths(*paths);
    if (const YamlNode* limits = Value(fields, "limits")) ReadLimits(*limits, policy.limits);
    if (const YamlNode* baseline = Value(fields, "baseline")) {
      ReadBaseline(*baseline, policy.baseline);
    }
    CheckZoneReferences();
  }

 private:
  SourceLocation Where(const YamlNode& node) const {
    return {errors_.file(), node.line, node.column};
  }

  static const YamlNode* Value(const Fields& fields, std::string_view key) {
    auto it = fields.find(key);
    return it == fields.end() ? nullptr : it->second.value;
  }

  void TypeError(const YamlNode& node, const std::string& path, const char* expected) {
    if (node.kind == YamlNode::Kind::kRejected) return;
    errors_.At(node, path, std::string("expected ") + expected + ", got " + Describe(node));
  }

  bool IsList(const YamlNode& node, const std::string& path) {
    if (node.kind == YamlNode::Kind::kList) return true;
    if (node.kind == YamlNode::Kind::kNull) {
      errors_.At(node, path, "expected a list, got null (write [] for an empty list)");
      return false;
    }
    TypeError(node, path, "a list");
    return false;
  }

  // Checks that every key of the mapping is a string, known and not repeated; the first of
  // repeated keys counts (yaml-cpp keeps both entries, and its lookups return the first).
  bool ReadFields(const YamlNode& node, const std::string& path,
                  std::initializer_list<std::string_view> known, Fields& fields) {
    if (node.kind != YamlNode::Kind::kMap) {
      TypeError(node, path, "a mapping");
      return false;
    }
    for (size_t i = 0; i + 1 < node.children.size(); i += 2) {
      const YamlNode& key = node.children[i];
      if (key.kind != YamlNode::Kind::kScalar) {
        if (key.kind != YamlNode::Kind::kRejected) {
          errors_.At(key, path, "keys must be strings, got " + Describe(key));
        }
        continue;
      }
      std::string key_path = Join(path, key.value);
      if (std::find(known.begin(), known.end(), key.value) == known.end()) {
        std::string allowed;
        for (std::string_view name : known) {
          allowed += (allowed.empty() ? "" : ", ") + std::string(name);
        }
        errors_.At(key, key_path, "unknown key; expected one of: " + allowed);
        continue;
      }
      auto [it, inserted] = fields.try_emplace(key.value, Field{&key, &node.children[i + 1]});
      if (!inserted) {
        errors_.At(key, key_path,
                   "duplicate key; first given at line " + std::to_string(it->second.key->line) +
                       ", column " + std::to_string(it->second.key->column));
      }
    }
    return true;
  }

  bool Require(const YamlNode& node, const Fields& fields, const std::string& path,
               std::string_view key) {
    if (fields.contains(key)) return true;
    errors_.At(node, path, "missing required key \"" + std::string(key) + "\"");
    return false;
  }

  // Any scalar reads as a string ("process: 123" is the process "123"). A !!binary scalar
  // (base64) is accepted where `binary_ok`: process names, which are bytes the kernel
  // reports and need not be UTF-8; PolicyToYaml writes such names that way.
  std::optional<std::string> String(const YamlNode& node, const std::string& path,
                                    bool binary_ok = false) {
    if (node.kind != YamlNode::Kind::kScalar) {
      TypeError(node, path, "a string");
      return std::nullopt;
    }
    if (node.tag == kTagNull) {
      TypeError(node, path, "a string");
      return std::nullopt;
    }
    if (node.tag == kTagBinary) {
      if (!binary_ok) {
        errors_.At(node, path, "!!binary is only allowed for process names");
        return std::nullopt;
      }
      std::vector<unsigned char> bytes = YAML::DecodeBase64(node.value);
      if (bytes.empty() && node.value.find_first_not_of(" \t\r\n") != std::string::npos) {
        errors_.At(node, path, "invalid base64 in !!binary value " + Quote(node.value));
        return std::nullopt;
      }
      return std::string(bytes.begin(), bytes.end());
    }
    return node.value;
  }

  std::optional<uint16_t> Port(const YamlNode& node, const std::string& path) {
    bool integer = node.kind == YamlNode::Kind::kScalar &&
                   (node.IsPlain() || node.tag == kTagInt) && LooksLikeInteger(node.value);
    if (!integer) {
      TypeError(node, path, "an integer port");
      return std::nullopt;
    }
    std::string_view digits = node.value;
    if (digits.starts_with('-')) digits.remove_prefix(1);
    if (digits.size() > 1 && digits[0] == '0') {
      errors_.At(
          node, path,
          "write ports without leading zeros (YAML 1.1 reads them as octal), got " + node.value);
      return std::nullopt;
    }
    std::optional<uint16_t> port = ParsePortNumber(node.value);
    if (!port) errors_.At(node, path, "port must be 1-65535, got " + node.value);
    return port;
  }

  std::optional<PortRange> RangeOfPorts(const YamlNode& node, const std::string& path) {
    std::optional<std::string> text = String(node, path);
    if (!text) return std::nullopt;
    size_t dash = text->find('-');
    bool well_formed = dash != std::string::npos && dash > 0 && dash + 1 < text->size() &&
                       LooksLikeInteger(text->substr(0, dash)) &&
                       LooksLikeInteger(text->substr(dash + 1)) && (*text)[dash + 1] != '-';
    if (!well_formed) {
      errors_.At(node, path, "expected a port range like \"8000-8100\", got " + Quote(*text));
      return std::nullopt;
    }
    std::optional<uint16_t> low = ParsePortNumber(text->substr(0, dash));
    std::optional<uint16_t> high = ParsePortNumber(text->substr(dash + 1));
    if (!low || !high) {
      errors_.At(node, path, "ports must be within 1-65535, got " + Quote(*text));
      return std::nullopt;
    }
    if (*low > *high) {
      errors_.At(node, path, "port range is reversed: " + Quote(*text));
      return std::nullopt;
    }
    return PortRange{*low, *high};
  }

  // `port: N` or `ports: "L-H"`, at most one of them; absent: every port.
  void Ports(const Fields& fields, const std::string& path, PortRange& span) {
    auto port = fields.find("port");
    auto ports = fields.find("ports");
    if (port != fields.end() && ports != fields.end()) {
      bool port_first = std::pair(port->second.key->line, port->second.key->column) <
                        std::pair(ports->second.key->line, ports->second.key->column);
      const auto& second = port_first ? *ports : *port;
      errors_.At(*second.second.key, Join(path, second.first),
                 "give either port or ports, not both");
      return;
    }
    if (port != fields.end()) {
      if (auto value = Port(*port->second.value, Join(path, "port"))) span = {*value, *value};
    } else if (ports != fields.end()) {
      if (auto value = RangeOfPorts(*ports->second.value, Join(path, "ports"))) span = *value;
    }
  }

  void Protocol(const YamlNode& node, const std::string& path, ProtocolMatch& protocol) {
    std::optional<std::string> text = String(node, path);
    if (!text) return;
    if (*text == "tcp") {
      protocol = ProtocolMatch::kTcp;
    } else if (*text == "udp") {
      protocol = ProtocolMatch::kUdp;
    } else {
      errors_.At(node, path, "protocol must be tcp or udp, got " + Quote(*text));
    }
  }

  // "0" (learning off) only where `zero_ok`; otherwise Prometheus duration syntax in whole
  // seconds.
  std::optional<std::chrono::seconds> Duration(const YamlNode& node, const std::string& path,
                                               bool zero_ok) {
    if (node.kind == YamlNode::Kind::kScalar && node.tag == kTagBinary) {
      TypeError(node, path, "a duration");
      return std::nullopt;
    }
    std::optional<std::string> text = String(node, path);
    if (!text) return std::nullopt;
    if (*text == "0") {
      if (zero_ok) return std::chrono::seconds(0);
      errors_.At(node, path, "duration must be greater than 0");
      return std::nullopt;
    }
    if (text->starts_with('-')) {
      errors_.At(node, path, "duration must not be negative, got " + Quote(*text));
      return std::nullopt;
    }
    if (LooksLikeInteger(*text)) {
      errors_.At(node, path,
                 "duration needs a unit (ms, s, m, h, d), e.g. " + *text + "s, got " + *text);
      return std::nullopt;
    }
    std::optional<std::chrono::milliseconds> parsed = ParseDuration(*text);
    if (!parsed) {
      errors_.At(node, path,
                 "invalid duration " + Quote(*text) + "; use e.g. 90s, 30m, 1h, 1h30m, 7d");
      return std::nullopt;
    }
    if (parsed->count() % 1000 != 0) {
      errors_.At(node, path, "duration must be whole seconds, got " + Quote(*text));
      return std::nullopt;
    }
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
    if (seconds.count() == 0 && !zero_ok) {
      errors_.At(node, path, "duration must be greater than 0");
      return std::nullopt;
    }
    return seconds;
  }

  void Zones(const YamlNode& node, std::vector<Zone>& zones) {
    if (!IsList(node, "zones")) return;
    for (size_t i = 0; i < node.children.size(); ++i) {
      const YamlNode& item = node.children[i];
      std::string path = Index("zones", i);
      Fields fields;
      if (!ReadFields(item, path, {"name", "cidrs"}, fields)) continue;
      Zone zone;
      bool name_ok = Require(item, fields, path, "name");
      bool cidrs_ok = Require(item, fields, path, "cidrs");
      if (name_ok) {
        const YamlNode& name_node = *Value(fields, "name");
        std::string name_path = Join(path, "name");
        if (std::optional<std::string> name = String(name_node, name_path)) {
          zone.name = *name;
          ZoneName(name_node, name_path, zone.name);
        }
      }
      if (cidrs_ok) {
        const YamlNode& cidrs = *Value(fields, "cidrs");
        std::string cidrs_path = Join(path, "cidrs");
        if (IsList(cidrs, cidrs_path)) {
          if (cidrs.children.empty()) {
            errors_.At(cidrs, cidrs_path, "a zone needs at least one CIDR");
          }
          for (size_t j = 0; j < cidrs.children.size(); ++j) {
            std::string cidr_path = Index(cidrs_path, j);
            std::optional<std::string> text = String(cidrs.children[j], cidr_path);
            if (!text) continue;
            if (std::optional<Cidr> cidr = ParseCidr(*text)) {
              zone.cidrs.push_back(*cidr);
            } else {
              errors_.At(cidrs.children[j], cidr_path, CidrProblem(*text));
            }
          }
        }
      }
      zones.push_back(std::move(zone));
    }
  }

  void ZoneName(const YamlNode& node, const std::string& path, const std::string& name) {
    bool well_formed = !name.empty() && name[0] >= 'a' && name[0] <= 'z' &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                       });
    // Known even when bad, so that paths naming it are not reported a second time.
    auto [it, inserted] = zone_names_.try_emplace(name, &node);
    if (!well_formed) {
      errors_.At(node, path, "zone names must match [a-z][a-z0-9_]*, got " + Quote(name));
    } else if (std::find(std::begin(kBuiltinZones), std::end(kBuiltinZones), name) !=
               std::end(kBuiltinZones)) {
      errors_.At(node, path, "\"" + name + "\" is a built-in zone; choose another name");
    } else if (!inserted) {
      errors_.At(node, path,
                 "duplicate zone name \"" + name + "\"; first defined at line " +
                     std::to_string(it->second->line));
    }
  }

  static std::string CidrProblem(const std::string& text) {
    // Tell a typo'd network ("10.0.0.1/8") from garbage: ParseCidr refuses both.
    size_t slash = text.find('/');
    std::optional<IpAddress> address = ParseIpAddress(text.substr(0, slash));
    if (address && slash != std::string::npos) {
      int max_length = address->family == Family::kIpv4 ? 32 : 128;
      int length = -1;
      std::string_view digits = std::string_view(text).substr(slash + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
      if (ec == std::errc() && end == digits.data() + digits.size() && length >= 0 &&
          length <= max_length) {
        IpAddress network = *address;
        for (int bit = length; bit < max_length; ++bit) {
          network.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
        }
        return "invalid CIDR " + Quote(text) + ": host bits are set (the network is " +
               FormatCidr({network, length}) + ")";
      }
    }
    return "invalid CIDR " + Quote(text) + "; expected an address/prefix like 10.0.0.0/8";
  }

  std::vector<ListenerRule> Listeners(const YamlNode& node) {
    std::vector<ListenerRule> rules;
    if (!IsList(node, "listeners")) return rules;
    for (size_t i = 0; i < node.children.size(); ++i) {
      const YamlNode& item = node.children[i];
      std::string path = Index("listeners", i);
      Fields fields;
      if (!ReadFields(item, path, {"process", "port", "ports", "protocol", "bind"}, fields)) {
        continue;
      }
      ListenerRule rule;
      rule.where = Where(item);
      if (const YamlNode* process = Value(fields, "process")) {
        rule.process = String(*process, Join(path, "process"), true).value_or("");
      }
      Ports(fields, path, rule.ports);
      if (const YamlNode* protocol = Value(fields, "protocol")) {
        Protocol(*protocol, Join(path, "protocol"), rule.protocol);
      }
      if (const YamlNode* bind = Value(fields, "bind")) Bind(*bind, Join(path, "bind"), rule.bind);
      rules.push_back(std::move(rule));
    }
    return rules;
  }

  void Bind(const YamlNode& node, const std::string& path, BindMatch& bind) {
    std::optional<std::string> text = String(node, path);
    if (!text) return;
    if (*text == "any") {
      bind.scope = BindScope::kWildcard;
    } else if (*text == "loopback") {
      bind.scope = BindScope::kLoopback;
    } else if (std::optional<IpAddress> address = ParseIpAddress(*text)) {
      bind.scope = BindScope::kAddress;
      bind.address = *address;
    } else {
      errors_.At(node, path, "bind must be any, loopback or an IP address, got " + Quote(*text));
    }
  }

  std::vector<ExpectedService> Services(const YamlNode& node) {
    std::vector<ExpectedService> services;
    if (!IsList(node, "expected_services")) return services;
    std::map<std::string, const YamlNode*> names;
    for (size_t i = 0; i < node.children.size(); ++i) {
      const YamlNode& item = node.children[i];
      std::string path = Index("expected_services", i);
      Fields fields;
      if (!ReadFields(item, path, {"name", "port", "protocol", "process"}, fields)) continue;
      ExpectedService service;
      service.where = Where(item);
      if (Require(item, fields, path, "name")) {
        const YamlNode& name_node = *Value(fields, "name");
        std::string name_path = Join(path, "name");
        if (std::optional<std::string> name = String(name_node, name_path)) {
          service.name = *name;
          ServiceName(name_node, name_path, *name, names);
        }
      }
      if (Require(item, fields, path, "port")) {
        service.port = Port(*Value(fields, "port"), Join(path, "port")).value_or(0);
      }
      if (const YamlNode* protocol = Value(fields, "protocol")) {
        Protocol(*protocol, Join(path, "protocol"), service.protocol);
      }
      if (const YamlNode* process = Value(fields, "process")) {
        service.process = String(*process, Join(path, "process"), true).value_or("");
      }
      services.push_back(std::move(service));
    }
    return services;
  }

  // The name becomes the `service` label of connwatch_expected_service_up.
  void ServiceName(const YamlNode& node, const std::string& path, const std::string& name,
                   std::map<std::string, const YamlNode*>& names) {
    if (name.empty()) {
      errors_.At(node, path, "service name must not be empty");
      return;
    }
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }) ||
        !IsValidUtf8(name)) {
      errors_.At(node, path,
                 "service name must be UTF-8 without control characters, got " + Quote(name));
      return;
    }
    auto [it, inserted] = names.try_emplace(name, &node);
    if (!inserted) {
      errors_.At(node, path,
                 "duplicate service name " + Quote(name) + "; first defined at line " +
                     std::to_string(it->second->line));
    }
  }

  std::vector<NetworkProcessRule> NetworkProcesses(const YamlNode& node) {
    std::vector<NetworkProcessRule> rules;
    if (!IsList(node, "network_processes")) return rules;
    for (size_t i = 0; i < node.children.size(); ++i) {
      const YamlNode& item = node.children[i];
      std::string path = Index("network_processes", i);
      std::optional<std::string> name = String(item, path, true);
      if (!name) continue;
      // An empty pattern matches every process, which here would silently allow all.
      if (name->empty()) {
        errors_.At(item, path, "process name must not be empty (\"*\" allows every process)");
        continue;
      }
      rules.push_back({*name, Where(item)});
    }
    return rules;
  }

  std::vector<PathRule> Paths(const YamlNode& node) {
    std::vector<PathRule> rules;
    if (!IsList(node, "paths")) return rules;
    for (size_t i = 0; i < node.children.size(); ++i) {
      const YamlNode& item = node.children[i];
      std::string path = Index("paths", i);
      Fields fields;
      if (!ReadFields(item, path,
                      {"process", "direction", "remote_zone", "port", "ports", "protocol"},
                      fields)) {
        continue;
      }
      PathRule rule;
      rule.where = Where(item);
      if (const YamlNode* process = Value(fields, "process")) {
        rule.process = String(*process, Join(path, "process"), true).value_or("");
      }
      if (const YamlNode* direction = Value(fields, "direction")) {
        std::string direction_path = Join(path, "direction");
        if (std::optional<std::string> text = String(*direction, direction_path)) {
          if (*text == "inbound") {
            rule.direction = Direction::kInbound;
          } else if (*text == "outbound") {
            rule.direction = Direction::kOutbound;
          } else {
            errors_.At(*direction, direction_path,
                       "direction must be inbound or outbound, got " + Quote(*text));
          }
        }
      }
      if (const YamlNode* zone = Value(fields, "remote_zone")) {
        std::string zone_path = Join(path, "remote_zone");
        if (std::optional<std::string> text = String(*zone, zone_path)) {
          rule.remote_zone = *text;
          zone_references_.push_back({zone, zone_path});
        }
      }
      Ports(fields, path, rule.ports);
      if (const YamlNode* protocol = Value(fields, "protocol")) {
        Protocol(*protocol, Join(path, "protocol"), rule.protocol);
      }
      rules.push_back(std::move(rule));
    }
    return rules;
  }

  void ReadLimits(const YamlNode& node, Limits& limits) {
    Fields fields;
    if (!ReadFields(node, "limits", {"long_connection"}, fields)) return;
    if (const YamlNode* value = Value(fields, "long_connection")) {
      if (auto duration = Duration(*value, "limits.long_connection", false)) {
        limits.long_connection = *duration;
      }
    }
  }

  void ReadBaseline(const YamlNode& node, BaselineSettings& baseline) {
    Fields fields;
    if (!ReadFields(node, "baseline", {"learn_for"}, fields)) return;
    if (const YamlNode* value = Value(fields, "learn_for")) {
      if (auto duration = Duration(*value, "baseline.learn_for", true)) {
        baseline.learn_for = *duration;
      }
    }
  }

  void CheckZoneReferences() {
    for (const auto& [node, path] : zone_references_) {
      const std::string& name = node->value;
      bool builtin = std::find(std::begin(kBuiltinZones), std::end(kBuiltinZones), name) !=
                     std::end(kBuiltinZones);
      if (builtin || zone_names_.contains(name)) continue;
      std::string known;
      for (const auto& [zone, unused] : zone_names_) known += zone + ", ";
      for (const char* zone : kBuiltinZones) known += std::string(zone) + ", ";
      known.resize(known.size() - 2);
      errors_.At(*node, path, "unknown zone " + Quote(name) + "; known zones: " + known);
    }
  }

  ErrorSink& errors_;
  std::map<std::string, const YamlNode*> zone_names_;
  std::vector<std::pair<const YamlNode*, std::string>> zone_references_;
};

// YAML 1.2 forbids C0 controls other than tab and line breaks, and yaml-cpp takes 0x04 for
// end of input; a policy file is UTF-8 text. Returns the offset of the first bad byte.
std::optional<std::pair<size_t, std::string>> CheckText(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      char buffer[64];
      snprintf(buffer, sizeof(buffer), "control character 0x%02x is not allowed in a policy file",
               c);
      return std::pair(i, std::string(buffer));
    }
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      char buffer[64];
      snprintf(buffer, sizeof(buffer), "not valid UTF-8 (byte 0x%02x); policy files are UTF-8", c);
      return std::pair(i, std::string(buffer));
    }
    i += length;
  }
  return std::nullopt;
}

std::pair<int, int> LineColumn(std::string_view text, size_t offset) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, static_cast<int>(offset - line_start) + 1};
}

void Parse(std::string_view text, const std::string& file_name, PolicyLoadResult& result,
           size_t& dropped) {
  ErrorSink errors(file_name, result.errors, dropped);
  if (text.size() > kMaxPolicyFileBytes) {
    errors.At(0, 0, "",
              "file is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                  std::to_string(kMaxPolicyFileBytes) + "; refusing to parse it");
    return;
  }
  if (auto problem = CheckText(text)) {
    auto [line, column] = LineColumn(text, problem->first);
    errors.At(line, column, "", problem->second);
    return;
  }

  TreeBuilder builder(errors);
  bool tree_complete = true;
  std::istringstream stream{std::string(text)};
  try {
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const StopParsing& stop) {
    tree_complete = stop.tree_complete;
  } catch (const YAML::Exception& e) {
    errors.At(Line(e.mark), Column(e.mark), "", "YAML syntax error: " + e.msg);
    tree_complete = false;
  }
  if (!tree_complete) return;

  Policy policy;
  policy.source = file_name;
  // An empty file (or one with only comments) is the empty policy: no section, so no check
  // is active, and no learning (learn_for stays 0).
  if (builder.root()) Checker(errors).Document(*builder.root(), policy);
  if (result.errors.empty()) result.policy = std::move(policy);
}

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
    return {"!!binary \"" + encoded + "\"", Quote(text) + " (not UTF-8)"};
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
    uint32_t code_point = c;
    if (length == 2) {
      code_point = ((c & 0x1fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3fu);
    } else if (length == 3) {
      code_point = ((c & 0x0fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3fu) << 6) |
                   (static_cast<unsigned char>(text[i + 2]) & 0x3fu);
    }
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

const char* ProtocolName(ProtocolMatch protocol) {
  return protocol == ProtocolMatch::kTcp ? "tcp" : protocol == ProtocolMatch::kUdp ? "udp" : "";
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

std::string PluralCount(size_t count, const char* singular, const char* plural) {
  return std::to_string(count) + " " + (count == 1 ? singular : plural);
}

}  // namespace

std::string PolicyError::ToString() const {
  // "FILE:LINE:COL: KEY: MESSAGE"; the position is left out when unknown (an unreadable
  // file), the key when the problem is not under one (YAML syntax, aliases).
  std::string out = where.file;
  if (where.line > 0) {
    out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

PolicyLoadResult ParsePolicy(std::string_view text, const std::string& file_name) {
  PolicyLoadResult result;
  size_t dropped = 0;
  try {
    Parse(text, file_name, result, dropped);
  } catch (const std::exception& e) {
    // Nothing may escape: a reload runs inside the serving process.
    result.errors.push_back({{file_name, 0, 0}, "", std::string("loading failed: ") + e.what()});
  } catch (...) {
    result.errors.push_back({{file_name, 0, 0}, "", "loading failed: unknown exception"});
  }
  if (!result.errors.empty()) {
    result.policy.reset();
    std::stable_sort(
        result.errors.begin(), result.errors.end(), [](const PolicyError& a, const PolicyError& b) {
          return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
        });
    if (dropped > 0) {
      result.errors.push_back(
          {{file_name, 0, 0}, "", "and " + std::to_string(dropped) + " more errors not shown"});
    }
  }
  return result;
}

PolicyLoadResult LoadPolicyFile(const std::string& path) {
  std::string text;
  bool truncated = false;
  // One byte over the cap tells "too big" from "exactly at the cap".
  int error = ReadFileCapped(path, kMaxPolicyFileBytes + 1, text, &truncated);
  if (error != 0) {
    PolicyLoadResult result;
    result.errors.push_back({{path, 0, 0}, "", std::string("cannot read: ") + strerror(error)});
    return result;
  }
  if (truncated || text.size() > kMaxPolicyFileBytes) {
    PolicyLoadResult result;
    result.errors.push_back({{path, 0, 0},
                             "",
                             "file is larger than the limit of " +
                                 std::to_string(kMaxPolicyFileBytes) +
                                 " bytes; refusing to parse it"});
    return result;
  }
  return ParsePolicy(text, path);
}

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
      if (!rule.process.empty()) entries.push_back({"process", YamlString(rule.process)});
      AddPorts(rule.ports, entries);
      if (rule.protocol != ProtocolMatch::kAny) {
        entries.push_back({"protocol", {ProtocolName(rule.protocol), ""}});
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
        entries.push_back({"protocol", {ProtocolName(service.protocol), ""}});
      }
      if (!service.process.empty()) entries.push_back({"process", YamlString(service.process)});
      EmitItem(entries, out);
    }
  }
  if (policy.network_processes) {
    out << "network_processes:" << (policy.network_processes->empty() ? " []" : "") << "\n";
    for (const NetworkProcessRule& rule : *policy.network_processes) {
      out << "  - ";
      EmitScalar(YamlString(rule.process), out);
    }
  }
  if (policy.paths) {
    out << "paths:" << (policy.paths->empty() ? " []" : "") << "\n";
    for (const PathRule& rule : *policy.paths) {
      Entries entries;
      if (!rule.process.empty()) entries.push_back({"process", YamlString(rule.process)});
      if (rule.direction != Direction::kNone) {
        entries.push_back({"direction", {DirectionName(rule.direction), ""}});
      }
      if (!rule.remote_zone.empty())
        entries.push_back({"remote_zone", YamlString(rule.remote_zone)});
      AddPorts(rule.ports, entries);
      if (rule.protocol != ProtocolMatch::kAny) {
        entries.push_back({"protocol", {ProtocolName(rule.protocol), ""}});
      }
      EmitItem(entries, out);
    }
  }
  out << "limits:\n  long_connection: " << FormatDuration(policy.limits.long_connection) << "\n";
  out << "baseline:\n  learn_for: " << FormatDuration(policy.baseline.learn_for) << "\n";
  return out.str();
}

std::string SummarizePolicy(const Policy& policy) {
  std::ostringstream out;
  out << "policy: " << policy.source << "\n";
  out << "zones: ";
  if (policy.zones.empty()) {
    out << "built-in only\n";
  } else {
    out << PluralCount(policy.zones.size(), "policy zone", "policy zones")
        << ", matched first in this order, then the built-ins\n";
    for (const Zone& zone : policy.zones) {
      out << "  " << zone.name << ":";
      for (const Cidr& cidr : zone.cidrs) out << " " << FormatCidr(cidr);
      out << "\n";
    }
  }
  out << "  built-in: loopback, link_local, multicast, internal, external (everything else)\n";

  auto section = [&](const char* title, const auto& rules, const char* singular,
                     const char* plural) {
    out << "  " << title << ": ";
    if (rules) {
      out << "active (" << PluralCount(rules->size(), singular, plural) << ")\n";
    } else {
      out << "inactive (section absent)\n";
    }
  };
  out << "checks:\n";
  section("unexpected listeners", policy.listeners, "allowed listener", "allowed listeners");
  section("expected services", policy.expected_services, "service", "services");
  if (policy.expected_services) {
    for (const ExpectedService& service : *policy.expected_services) {
      out << "    " << service.name << ": " << ProtocolName(service.protocol) << "/"
          << service.port;
      if (!service.process.empty()) out << " owned by " << Quote(service.process);
      out << "\n";
    }
  }
  section("network processes", policy.network_processes, "allowed process pattern",
          "allowed process patterns");
  section("paths", policy.paths, "allowed path", "allowed paths");
  out << "  long connections: longer than " << FormatDuration(policy.limits.long_connection)
      << "\n";
  out << "baseline learning: ";
  if (policy.baseline.learn_for.count() == 0) {
    out << "off (learn_for 0)\n";
  } else {
    out << "learns for " << FormatDuration(policy.baseline.learn_for)
        << ", then adds the learned rules to the sections above (activating absent ones)\n";
  }
  return out.str();
}

}  // namespace connwatch
