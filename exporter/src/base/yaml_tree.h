// A YAML file read strictly, as a tree of nodes that know their line and column, and the
// checks every strict reader of such a tree makes (string keys, no duplicates, no unknown
// keys, types), each problem collected as file:line:column: key: message. The policy, the
// learned baseline and the web config are read through it; it is the only code that
// includes yaml-cpp.
//
// The tree is built from yaml-cpp's event parser, not from its node tree: the node tree's
// map lookups hide duplicate keys, and walking it visits every expansion of every alias (a
// few hundred bytes of nested aliases stand for billions of nodes). Built from events,
// every mapping entry is seen, and aliases are refused or expanded within a node budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/config_error.h"

namespace connwatch {

// The tags of YAML's core schema that a strict reader tells apart.
inline constexpr std::string_view kYamlTagStr = "tag:yaml.org,2002:str";
inline constexpr std::string_view kYamlTagInt = "tag:yaml.org,2002:int";
inline constexpr std::string_view kYamlTagBinary = "tag:yaml.org,2002:binary";
inline constexpr std::string_view kYamlTagNull = "tag:yaml.org,2002:null";

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

// What a kind of file allows. The policy refuses aliases, merge keys, a second document and
// tags it does not know; the web config reads what Go's yaml.v2 (and so promtool) reads.
struct YamlRules {
  std::string document = "file";  // "policy file": messages say what the file should be
  size_t max_bytes = 1u << 20;
  // A policy is four levels deep (zones, the list, a zone, its cidrs). yaml-cpp's own guard
  // only stops at 2000 levels, and every level costs stack in its recursive parser.
  size_t max_depth = 16;
  // A real policy has a few hundred nodes; a 1 MiB flow list could have half a million.
  // Expanded aliases count, so an alias bomb stops here.
  size_t max_nodes = 100000;
  bool aliases = false;          // false: an error; true: expanded in place
  bool merge_keys = false;       // "<<: {...}" merges a mapping into its parent
  bool later_documents = false;  // false: a second document is an error; true: ignored
  bool any_tag = false;          // false: only !!str, !!int, !!binary, !!null, !!seq, !!map
};

inline void ErrorAt(ConfigErrors& errors, const YamlNode& node, const std::string& key,
                    std::string message) {
  errors.At(node.line, node.column, key, std::move(message));
}

// The first document of `text`; its root is kNull for a file without one (empty, or
// comments only). nullopt when the text is not YAML this reader takes (errors say why):
// too big, not UTF-8, control characters, a syntax error, too deep, too many nodes.
std::optional<YamlNode> ParseYamlTree(std::string_view text, const YamlRules& rules,
                                      ConfigErrors& errors);

// "a.b" and "a[2]": the dotted paths of keys in messages (bytes that are not printable
// ASCII escaped).
std::string KeyPath(const std::string& path, std::string_view key);
std::string IndexPath(const std::string& path, size_t index);
// "null", "a list", "a mapping", "\"80\"" (plain), "the string \"80\"" (quoted).
std::string Describe(const YamlNode& node);

struct YamlField {
  const YamlNode* key = nullptr;
  const YamlNode* value = nullptr;
};
using YamlFields = std::map<std::string, YamlField, std::less<>>;

// The checks of a strict reader, reporting into ConfigErrors. Errors on rejected nodes
// (already reported while building) are not repeated.
class YamlReader {
 public:
  // `binary_use` names what may be written as !!binary ("process names"); "" allows nothing.
  explicit YamlReader(ConfigErrors& errors, std::string binary_use = "")
      : errors_(errors), binary_use_(std::move(binary_use)) {}

  ConfigErrors& errors() { return errors_; }
  SourceLocation Where(const YamlNode& node) const {
    return {errors_.file(), node.line, node.column};
  }

  void TypeError(const YamlNode& node, const std::string& path, const char* expected);
  bool IsList(const YamlNode& node, const std::string& path);
  // Visits each item of a list with its path ("zones[2]"). False (and an error) when `node` is
  // no list.
  bool ForEachItem(const YamlNode& node, const std::string& path,
                   const std::function<void(const YamlNode& item, const std::string& path)>& visit);
  // Visits every entry of a mapping whose key is a string, in order; the first of repeated
  // keys counts, later ones are errors. False (and an error) when `node` is no mapping.
  bool ForEachEntry(const YamlNode& node, const std::string& path,
                    const std::function<void(const YamlNode& key, const YamlNode& value)>& visit);
  // The entries of a mapping of known keys: unknown keys are errors naming the known ones.
  bool ReadFields(const YamlNode& node, const std::string& path,
                  std::initializer_list<std::string_view> known, YamlFields& fields) {
    return ReadFields(node, path, std::span<const std::string_view>(known.begin(), known.size()),
                      fields);
  }
  bool ReadFields(const YamlNode& node, const std::string& path,
                  std::span<const std::string_view> known, YamlFields& fields);
  bool Require(const YamlNode& node, const YamlFields& fields, const std::string& path,
               std::string_view key);
  static const YamlNode* Value(const YamlFields& fields, std::string_view key);
  // Any scalar reads as a string ("process: 123" is the process "123"), !!null does not. A
  // !!binary scalar (base64) is decoded where `binary_ok` (binary_use says where that is).
  std::optional<std::string> String(const YamlNode& node, const std::string& path,
                                    bool binary_ok = false);

 private:
  // Visits the entries whose key is a scalar; other keys are errors.
  void StringKeys(const YamlNode& node, const std::string& path,
                  const std::function<void(const YamlNode& key, const YamlNode& value)>& visit);
  // Adds the entry unless its key is there already (then an error naming the first).
  bool FirstOfKey(const YamlNode& key, const std::string& path, YamlFields& fields,
                  const YamlNode& value);

  ConfigErrors& errors_;
  std::string binary_use_;
};

}  // namespace connwatch
