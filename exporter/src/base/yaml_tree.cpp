#include "base/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <unordered_map>

#include "base/text.h"

namespace connwatch {
namespace {

constexpr std::string_view kTagSeq = "tag:yaml.org,2002:seq";
constexpr std::string_view kTagMap = "tag:yaml.org,2002:map";
constexpr std::string_view kMergeKey = "<<";

// Ends the event walk early. `tree_complete` says whether what was built so far is the
// whole first document (a second document began) or a fragment (too deep, too big).
struct StopParsing {
  bool tree_complete;
};

int Line(const YAML::Mark& mark) { return mark.line < 0 ? 0 : mark.line + 1; }
int Column(const YAML::Mark& mark) { return mark.column < 0 ? 0 : mark.column + 1; }

size_t CountNodes(const YamlNode& node) {
  size_t count = 1;
  for (const YamlNode& child : node.children) count += CountNodes(child);
  return count;
}

bool IsMergeKey(const YamlNode& key) {
  return key.kind == YamlNode::Kind::kScalar && key.IsPlain() && key.value == kMergeKey;
}

// yaml-cpp events -> YamlNode tree, applying the rules on the way.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const YamlRules& rules, ConfigErrors& errors) : rules_(rules), errors_(errors) {}

  // The first document's root; nullopt for a stream without documents (an empty file).
  std::optional<YamlNode>& root() { return root_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 1) return;
    if (!rules_.later_documents) {
      errors_.At(Line(mark), Column(mark), "",
                 "a " + rules_.document + " holds one YAML document; remove the second one");
    }
    throw StopParsing{true};
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Add(Make(YamlNode::Kind::kNull, mark, "?"), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto anchored = anchored_.find(anchor);
    if (!rules_.aliases || anchored == anchored_.end()) {
      std::string name = anchor >= 1 && anchor <= anchor_names_.size()
                             ? "*" + anchor_names_[anchor - 1] + " "
                             : "";
      errors_.At(Line(mark), Column(mark), PathOfNext(),
                 !rules_.aliases ? "alias " + name + "not allowed: " + rules_.document +
                                       "s may not use YAML aliases"
                                 : "alias " + name + "refers to a node that encloses it");
      Add(Make(YamlNode::Kind::kRejected, mark, "?"), 0);
      return;
    }
    CountAgainstBudget(CountNodes(anchored->second), mark);
    Add(anchored->second, 0);
  }

  void OnAnchor(const YAML::Mark&, const std::string& name) override {
    // yaml-cpp numbers anchors from 1 in order of appearance; aliases refer to the number.
    anchor_names_.push_back(name);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode node = Make(YamlNode::Kind::kScalar, mark, tag);
    node.value = value;
    if (!TagAllowed(tag, {kYamlTagStr, kYamlTagInt, kYamlTagBinary, kYamlTagNull})) Reject(node);
    Add(std::move(node), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    YamlNode node = Make(YamlNode::Kind::kList, mark, tag);
    if (!TagAllowed(tag, {kTagSeq})) Reject(node);
    Push(std::move(node), mark, anchor);
  }
  void OnSequenceEnd() override { Pop(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    YamlNode node = Make(YamlNode::Kind::kMap, mark, tag);
    if (!TagAllowed(tag, {kTagMap})) Reject(node);
    Push(std::move(node), mark, anchor);
  }
  void OnMapEnd() override {
    if (rules_.merge_keys) Merge(*stack_.back());
    Pop();
  }

 private:
  bool TagAllowed(const std::string& tag, std::initializer_list<std::string_view> known) const {
    if (rules_.any_tag || tag == "?" || tag == "!") return true;
    return std::find(known.begin(), known.end(), tag) != known.end();
  }

  void CountAgainstBudget(size_t nodes, const YAML::Mark& mark) {
    nodes_ += nodes;
    if (nodes_ <= rules_.max_nodes) return;
    errors_.At(
        Line(mark), Column(mark), "",
        "more than " + std::to_string(rules_.max_nodes) + " YAML nodes; not a " + rules_.document);
    throw StopParsing{false};
  }

  YamlNode Make(YamlNode::Kind kind, const YAML::Mark& mark, const std::string& tag) {
    CountAgainstBudget(1, mark);
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
    ErrorAt(errors_, node, PathOfNext(), "unsupported YAML tag " + QuoteBytes(tag));
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
        path = IndexPath(path, child);
      } else if (child % 2 == 1 && container.children[child - 1].kind == YamlNode::Kind::kScalar) {
        path = KeyPath(path, container.children[child - 1].value);
      }
    }
    return path;
  }

  // Adds a node to the current container (or as the root) and returns where it now lives.
  // A finished anchored node is remembered for the aliases that name it.
  YamlNode* Add(YamlNode node, YAML::anchor_t anchor) {
    YamlNode* added;
    if (stack_.empty()) {
      root_ = std::move(node);
      added = &*root_;
    } else {
      YamlNode& parent = *stack_.back();
      // yaml-cpp places an empty value ("port:") at the next token, often on the next line;
      // the key is where a reader looks.
      if (parent.kind == YamlNode::Kind::kMap && parent.children.size() % 2 == 1 &&
          node.kind == YamlNode::Kind::kNull) {
        node.line = parent.children.back().line;
        node.column = parent.children.back().column;
      }
      parent.children.push_back(std::move(node));
      added = &parent.children.back();
    }
    bool container = added->kind == YamlNode::Kind::kList || added->kind == YamlNode::Kind::kMap;
    if (rules_.aliases && anchor != 0 && !container) anchored_[anchor] = *added;
    return added;
  }

  // Pointers on the stack stay valid: only the innermost container grows.
  void Push(YamlNode node, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() >= rules_.max_depth) {
      errors_.At(Line(mark), Column(mark), "",
                 "nested deeper than " + std::to_string(rules_.max_depth) + " levels; not a " +
                     rules_.document);
      throw StopParsing{false};
    }
    stack_.push_back(Add(std::move(node), 0));
    stack_anchors_.push_back(anchor);
  }

  void Pop() {
    if (rules_.aliases && stack_anchors_.back() != 0) {
      anchored_[stack_anchors_.back()] = *stack_.back();
    }
    stack_.pop_back();
    stack_anchors_.pop_back();
  }

  // YAML's merge key: the entries of "<<: {...}" (or of each mapping of "<<: [...]") join
  // the mapping, unless it states the key itself; earlier sources win over later ones.
  void Merge(YamlNode& map) {
    std::vector<YamlNode> entries, merged;
    for (size_t i = 0; i + 1 < map.children.size(); i += 2) {
      if (!IsMergeKey(map.children[i])) {
        entries.push_back(std::move(map.children[i]));
        entries.push_back(std::move(map.children[i + 1]));
        continue;
      }
      const YamlNode& value = map.children[i + 1];
      std::vector<const YamlNode*> sources;
      if (value.kind == YamlNode::Kind::kList) {
        for (const YamlNode& item : value.children) sources.push_back(&item);
      } else {
        sources.push_back(&value);
      }
      for (const YamlNode* source : sources) {
        if (source->kind != YamlNode::Kind::kMap) {
          ErrorAt(
              errors_, *source, KeyPath(PathOfNext(), kMergeKey),
              "a merge key (<<) takes a mapping or a list of mappings, got " + Describe(*source));
          continue;
        }
        merged.insert(merged.end(), source->children.begin(), source->children.end());
      }
    }
    std::set<std::string> stated;
    for (size_t i = 0; i < entries.size(); i += 2) stated.insert(entries[i].value);
    for (size_t i = 0; i + 1 < merged.size(); i += 2) {
      if (!stated.insert(merged[i].value).second) continue;
      entries.push_back(std::move(merged[i]));
      entries.push_back(std::move(merged[i + 1]));
    }
    map.children = std::move(entries);
  }

  const YamlRules& rules_;
  ConfigErrors& errors_;
  std::optional<YamlNode> root_;
  std::vector<YamlNode*> stack_;
  std::vector<YAML::anchor_t> stack_anchors_;  // parallel to stack_
  std::unordered_map<YAML::anchor_t, YamlNode> anchored_;
  std::vector<std::string> anchor_names_;
  int documents_ = 0;
  size_t nodes_ = 0;
};

// YAML 1.2 forbids C0 controls other than tab and line breaks, and yaml-cpp takes 0x04 for
// end of input; the files connwatch reads are UTF-8 text. The offset of the first bad byte
// and what is wrong with it.
std::optional<std::pair<size_t, std::string>> CheckText(std::string_view text,
                                                        const std::string& document) {
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    char buffer[32];
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      snprintf(buffer, sizeof(buffer), "0x%02x", c);
      return std::pair(
          i, "control character " + std::string(buffer) + " is not allowed in a " + document);
    }
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      snprintf(buffer, sizeof(buffer), "0x%02x", c);
      return std::pair(
          i, "not valid UTF-8 (byte " + std::string(buffer) + "); " + document + "s are UTF-8");
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

}  // namespace

std::optional<YamlNode> ParseYamlTree(std::string_view text, const YamlRules& rules,
                                      ConfigErrors& errors) {
  if (text.size() > rules.max_bytes) {
    errors.At(0, 0, "",
              "file is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                  std::to_string(rules.max_bytes) + "; refusing to parse it");
    return std::nullopt;
  }
  if (auto problem = CheckText(text, rules.document)) {
    auto [line, column] = LineColumn(text, problem->first);
    errors.At(line, column, "", problem->second);
    return std::nullopt;
  }
  TreeBuilder builder(rules, errors);
  std::istringstream stream{std::string(text)};
  try {
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const StopParsing& stop) {
    if (!stop.tree_complete) return std::nullopt;
  } catch (const YAML::Exception& e) {
    errors.At(Line(e.mark), Column(e.mark), "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  return builder.root() ? std::move(*builder.root()) : YamlNode();
}

std::string KeyPath(const std::string& path, std::string_view key) {
  std::string text = EscapeBytes(key, EscapeStyle::kBackslashEscapes);
  return path.empty() ? text : path + "." + text;
}

std::string IndexPath(const std::string& path, size_t index) {
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
      return node.IsPlain() ? QuoteBytes(node.value) : "the string " + QuoteBytes(node.value);
    case YamlNode::Kind::kRejected:
      break;
  }
  return "an invalid value";
}

void YamlReader::TypeError(const YamlNode& node, const std::string& path, const char* expected) {
  if (node.kind == YamlNode::Kind::kRejected) return;
  ErrorAt(errors_, node, path, std::string("expected ") + expected + ", got " + Describe(node));
}

bool YamlReader::IsList(const YamlNode& node, const std::string& path) {
  if (node.kind == YamlNode::Kind::kList) return true;
  if (node.kind == YamlNode::Kind::kNull) {
    ErrorAt(errors_, node, path, "expected a list, got null (write [] for an empty list)");
    return false;
  }
  TypeError(node, path, "a list");
  return false;
}

bool YamlReader::ForEachItem(
    const YamlNode& node, const std::string& path,
    const std::function<void(const YamlNode& item, const std::string& path)>& visit) {
  if (!IsList(node, path)) return false;
  for (size_t i = 0; i < node.children.size(); ++i) visit(node.children[i], IndexPath(path, i));
  return true;
}

void YamlReader::StringKeys(
    const YamlNode& node, const std::string& path,
    const std::function<void(const YamlNode& key, const YamlNode& value)>& visit) {
  for (size_t i = 0; i + 1 < node.children.size(); i += 2) {
    const YamlNode& key = node.children[i];
    if (key.kind == YamlNode::Kind::kScalar) {
      visit(key, node.children[i + 1]);
    } else if (key.kind != YamlNode::Kind::kRejected) {
      ErrorAt(errors_, key, path, "keys must be strings, got " + Describe(key));
    }
  }
}

bool YamlReader::FirstOfKey(const YamlNode& key, const std::string& path, YamlFields& fields,
                            const YamlNode& value) {
  auto [it, inserted] = fields.try_emplace(key.value, YamlField{&key, &value});
  if (!inserted) {
    ErrorAt(errors_, key, KeyPath(path, key.value),
            "duplicate key; first given at line " + std::to_string(it->second.key->line) +
                ", column " + std::to_string(it->second.key->column));
  }
  return inserted;
}

bool YamlReader::ForEachEntry(
    const YamlNode& node, const std::string& path,
    const std::function<void(const YamlNode& key, const YamlNode& value)>& visit) {
  if (node.kind != YamlNode::Kind::kMap) {
    TypeError(node, path, "a mapping");
    return false;
  }
  YamlFields seen;
  StringKeys(node, path, [&](const YamlNode& key, const YamlNode& value) {
    if (FirstOfKey(key, path, seen, value)) visit(key, value);
  });
  return true;
}

bool YamlReader::ReadFields(const YamlNode& node, const std::string& path,
                            std::span<const std::string_view> known, YamlFields& fields) {
  if (node.kind != YamlNode::Kind::kMap) {
    TypeError(node, path, "a mapping");
    return false;
  }
  // Unknown keys are reported wherever they stand, repeated or not; of known keys the first
  // counts (yaml-cpp keeps both entries, and its lookups return the first).
  StringKeys(node, path, [&](const YamlNode& key, const YamlNode& value) {
    if (std::find(known.begin(), known.end(), key.value) != known.end()) {
      FirstOfKey(key, path, fields, value);
      return;
    }
    std::string allowed;
    for (std::string_view name : known)
      allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    ErrorAt(errors_, key, KeyPath(path, key.value), "unknown key; expected one of: " + allowed);
  });
  return true;
}

bool YamlReader::Require(const YamlNode& node, const YamlFields& fields, const std::string& path,
                         std::string_view key) {
  if (fields.contains(key)) return true;
  ErrorAt(errors_, node, path, "missing required key \"" + std::string(key) + "\"");
  return false;
}

const YamlNode* YamlReader::Value(const YamlFields& fields, std::string_view key) {
  auto it = fields.find(key);
  return it == fields.end() ? nullptr : it->second.value;
}

std::optional<std::string> YamlReader::String(const YamlNode& node, const std::string& path,
                                              bool binary_ok) {
  if (node.kind != YamlNode::Kind::kScalar || node.tag == kYamlTagNull) {
    TypeError(node, path, "a string");
    return std::nullopt;
  }
  if (node.tag != kYamlTagBinary) return node.value;
  if (!binary_ok) {
    ErrorAt(errors_, node, path,
            binary_use_.empty() ? "!!binary values are not allowed here"
                                : "!!binary is only allowed for " + binary_use_);
    return std::nullopt;
  }
  std::optional<std::string> bytes = DecodeBase64(node.value);
  if (!bytes) {
    ErrorAt(errors_, node, path, "invalid base64 in !!binary value " + QuoteBytes(node.value));
    return std::nullopt;
  }
  return bytes;
}

}  // namespace connwatch
