// The strict YAML tree on its own: positions, the rules of each kind of file (aliases,
// merge keys, documents, tags, caps) and the reader's checks. The policy's and the web
// config's own tests go through it too (policy_loader_test, web_config_test).
#include "base/yaml_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace connwatch {
namespace {

YamlRules Strict() {
  YamlRules rules;
  rules.document = "test file";
  return rules;
}

YamlRules Lenient() {
  YamlRules rules = Strict();
  rules.aliases = true;
  rules.merge_keys = true;
  rules.later_documents = true;
  rules.any_tag = true;
  return rules;
}

struct Parsed {
  std::optional<YamlNode> root;
  std::vector<std::string> errors;
};

Parsed Parse(std::string_view text, const YamlRules& rules) {
  ConfigErrors errors("t.yaml");
  Parsed parsed;
  parsed.root = ParseYamlTree(text, rules, errors);
  for (const ConfigError& error : errors.Take()) parsed.errors.push_back(error.ToString());
  return parsed;
}

// A tree as text: scalars as their value, lists in [], maps in {k: v}.
std::string Shape(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      return "~";
    case YamlNode::Kind::kScalar:
      return node.value;
    case YamlNode::Kind::kRejected:
      return "!rejected";
    case YamlNode::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < node.children.size(); ++i) {
        out += (i ? ", " : "") + Shape(node.children[i]);
      }
      return out + "]";
    }
    case YamlNode::Kind::kMap: {
      std::string out = "{";
      for (size_t i = 0; i + 1 < node.children.size(); i += 2) {
        out += (i ? ", " : "") + Shape(node.children[i]) + ": " + Shape(node.children[i + 1]);
      }
      return out + "}";
    }
  }
  return "?";
}

TEST(YamlTreeTest, NodesKnowTheirLineAndColumn) {
  Parsed parsed = Parse("a:\n  - 1\n  - two\nb:\n", Strict());
  ASSERT_TRUE(parsed.root) << parsed.errors[0];
  const YamlNode& root = *parsed.root;
  EXPECT_EQ(Shape(root), "{a: [1, two], b: ~}");
  const YamlNode& list = root.children[1];
  EXPECT_EQ(std::pair(list.children[1].line, list.children[1].column), std::pair(3, 5));
  // An empty value stands where its key does: that is where a reader looks.
  const YamlNode& empty = root.children[3];
  EXPECT_EQ(std::pair(empty.line, empty.column), std::pair(4, 1));
  EXPECT_TRUE(root.children[0].IsPlain());
  EXPECT_FALSE(Parse("\"a\": 1\n", Strict()).root->children[0].IsPlain());
}

TEST(YamlTreeTest, AnEmptyFileIsANullDocument) {
  for (const char* text : {"", "# only a comment\n", "~\n"}) {
    Parsed parsed = Parse(text, Strict());
    ASSERT_TRUE(parsed.root) << text;
    EXPECT_EQ(parsed.root->kind, YamlNode::Kind::kNull) << text;
    EXPECT_TRUE(parsed.errors.empty()) << text;
  }
}

TEST(YamlTreeTest, AliasesAreRefusedOrExpanded) {
  const char* text = "a: &x [1, 2]\nb: *x\n";
  Parsed strict = Parse(text, Strict());
  ASSERT_TRUE(strict.root);
  EXPECT_EQ(Shape(*strict.root), "{a: [1, 2], b: !rejected}");
  EXPECT_EQ(strict.errors, std::vector<std::string>{
                               "t.yaml:2:4: b: alias *x not allowed: test files may not use YAML "
                               "aliases"});
  Parsed lenient = Parse(text, Lenient());
  ASSERT_TRUE(lenient.root);
  EXPECT_TRUE(lenient.errors.empty()) << lenient.errors[0];
  EXPECT_EQ(Shape(*lenient.root), "{a: [1, 2], b: [1, 2]}");
}

TEST(YamlTreeTest, ExpandedAliasesCountAgainstTheNodeBudget) {
  // Each level doubles: 2^20 nodes from a few hundred bytes.
  std::string bomb = "a0: &a0 [x, x]\n";
  for (int i = 1; i <= 20; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
            ", *a" + std::to_string(i - 1) + "]\n";
  }
  YamlRules rules = Lenient();
  rules.max_nodes = 10000;
  Parsed parsed = Parse(bomb, rules);
  EXPECT_FALSE(parsed.root);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].find("more than 10000 YAML nodes; not a test file"), std::string::npos)
      << parsed.errors[0];
}

TEST(YamlTreeTest, MergeKeysJoinTheirMappingButStatedKeysWin) {
  Parsed parsed = Parse("base: &b {x: 1, y: 2}\nm:\n  y: 3\n  <<: [*b, {z: 4, x: 9}]\n", Lenient());
  ASSERT_TRUE(parsed.root);
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors[0];
  // y is stated, x comes from the first source, z from the second.
  EXPECT_EQ(Shape(*parsed.root), "{base: {x: 1, y: 2}, m: {y: 3, x: 1, z: 4}}");

  Parsed bad = Parse("m:\n  <<: [1]\n", Lenient());
  EXPECT_EQ(bad.errors, std::vector<std::string>{"t.yaml:2:8: m.<<: a merge key (<<) takes a "
                                                 "mapping or a list of mappings, got \"1\""});
  // Without merge keys "<<" is a key like any other; the reader reports it as unknown.
  Parsed plain = Parse("m:\n  <<: {x: 1}\n", Strict());
  EXPECT_EQ(Shape(*plain.root), "{m: {<<: {x: 1}}}");
}

TEST(YamlTreeTest, ASecondDocumentIsRefusedOrIgnored) {
  const char* text = "a: 1\n---\nb: 2\n";
  Parsed strict = Parse(text, Strict());
  ASSERT_TRUE(strict.root) << "the first document is complete";
  EXPECT_EQ(Shape(*strict.root), "{a: 1}");
  EXPECT_EQ(strict.errors,
            std::vector<std::string>{"t.yaml:2:1: a test file holds one YAML document; remove the "
                                     "second one"});
  Parsed lenient = Parse(text, Lenient());
  EXPECT_EQ(Shape(*lenient.root), "{a: 1}");
  EXPECT_TRUE(lenient.errors.empty());
}

TEST(YamlTreeTest, UnknownTagsAreRefusedUnlessAnyTagGoes) {
  Parsed strict = Parse("a: !!float 1.5\nb: !!str x\n", Strict());
  EXPECT_EQ(Shape(*strict.root), "{a: !rejected, b: x}");
  EXPECT_EQ(strict.errors,
            std::vector<std::string>{"t.yaml:1:4: a: unsupported YAML tag \"!!float\""});
  Parsed lenient = Parse("a: !!float 1.5\n", Lenient());
  EXPECT_EQ(Shape(*lenient.root), "{a: 1.5}");
  EXPECT_TRUE(lenient.errors.empty());
}

TEST(YamlTreeTest, DepthAndSizeAreCapped) {
  YamlRules rules = Strict();
  rules.max_depth = 3;
  EXPECT_TRUE(Parse("a: {b: {c: 1}}\n", rules).errors.empty());
  Parsed deep = Parse("a: {b: {c: {d: 1}}}\n", rules);
  EXPECT_FALSE(deep.root);
  EXPECT_EQ(deep.errors,
            std::vector<std::string>{"t.yaml:1:12: nested deeper than 3 levels; not a test file"});
  rules.max_bytes = 10;
  Parsed big = Parse("a: 12345678\n", rules);
  EXPECT_FALSE(big.root);
  EXPECT_EQ(big.errors, std::vector<std::string>{
                            "t.yaml: file is 12 bytes, more than the limit of 10; refusing to "
                            "parse it"});
}

TEST(YamlTreeTest, TextMustBeUtf8WithoutControlCharacters) {
  Parsed control = Parse("a: 1\nb: x\x01y\n", Strict());
  EXPECT_FALSE(control.root);
  EXPECT_EQ(control.errors,
            std::vector<std::string>{"t.yaml:2:5: control character 0x01 is not allowed in a test "
                                     "file"});
  Parsed invalid = Parse("a: caf\xe9\n", Strict());
  EXPECT_EQ(invalid.errors, std::vector<std::string>{
                                "t.yaml:1:7: not valid UTF-8 (byte 0xe9); test files are UTF-8"});
  EXPECT_TRUE(Parse("a: caf\xc3\xa9\tok\r\n", Strict()).errors.empty());
}

TEST(YamlTreeTest, SyntaxErrorsHaveAPosition) {
  Parsed parsed = Parse("a: [1, 2\n", Strict());
  EXPECT_FALSE(parsed.root);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].rfind("t.yaml:", 0), 0u);
  EXPECT_NE(parsed.errors[0].find(": YAML syntax error: "), std::string::npos) << parsed.errors[0];
}

TEST(YamlReaderTest, FieldsAreKnownStringKeysGivenOnce) {
  Parsed parsed = Parse("a: 1\nzz: 2\na: 3\n[x]: 4\nzz: 5\n", Strict());
  ConfigErrors errors("t.yaml");
  YamlReader reader(errors);
  YamlFields fields;
  ASSERT_TRUE(reader.ReadFields(*parsed.root, "top", {"a", "b"}, fields));
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(YamlReader::Value(fields, "a")->value, "1") << "the first of repeated keys counts";
  EXPECT_EQ(YamlReader::Value(fields, "b"), nullptr);
  EXPECT_FALSE(reader.Require(*parsed.root, fields, "top", "b"));
  std::vector<std::string> messages;
  for (const ConfigError& error : errors.Take()) messages.push_back(error.ToString());
  EXPECT_EQ(messages, (std::vector<std::string>{
                          "t.yaml:1:1: top: missing required key \"b\"",
                          "t.yaml:2:1: top.zz: unknown key; expected one of: a, b",
                          "t.yaml:3:1: top.a: duplicate key; first given at line 1, column 1",
                          "t.yaml:4:1: top: keys must be strings, got a list",
                          "t.yaml:5:1: top.zz: unknown key; expected one of: a, b",
                      }));
}

TEST(YamlReaderTest, EntriesVisitEachKeyOnce) {
  Parsed parsed = Parse("u: 1\nv: 2\nu: 3\n", Strict());
  ConfigErrors errors("t.yaml");
  YamlReader reader(errors);
  std::vector<std::string> seen;
  ASSERT_TRUE(
      reader.ForEachEntry(*parsed.root, "", [&](const YamlNode& key, const YamlNode& value) {
        seen.push_back(key.value + "=" + value.value);
      }));
  EXPECT_EQ(seen, (std::vector<std::string>{"u=1", "v=2"}));
  ASSERT_EQ(errors.count(), 1u);
  EXPECT_EQ(errors.Take()[0].ToString(),
            "t.yaml:3:1: u: duplicate key; first given at line 1, column 1");
  EXPECT_FALSE(reader.ForEachEntry(parsed.root->children[1], "u", [](auto&, auto&) {}));
  EXPECT_EQ(errors.Take().back().ToString(), "t.yaml:1:4: u: expected a mapping, got \"1\"");
}

TEST(YamlReaderTest, StringsAndBinary) {
  Parsed parsed =
      Parse("- plain\n- \"quoted\"\n- !!binary Y2Fm6Q==\n- !!null x\n- [l]\n- !!binary \"#\"\n",
            Strict());
  ConfigErrors errors("t.yaml");
  YamlReader reader(errors, "process names");
  const std::vector<YamlNode>& items = parsed.root->children;
  EXPECT_EQ(reader.String(items[0], "p"), "plain");
  EXPECT_EQ(reader.String(items[1], "p"), "quoted");
  EXPECT_EQ(reader.String(items[2], "p", true), std::string("caf\xe9"));
  EXPECT_EQ(reader.String(items[2], "p"), std::nullopt);
  EXPECT_EQ(reader.String(items[3], "p"), std::nullopt);
  EXPECT_EQ(reader.String(items[4], "p"), std::nullopt);
  EXPECT_EQ(reader.String(items[5], "p", true), std::nullopt);
  std::vector<std::string> messages;
  for (const ConfigError& error : errors.Take()) messages.push_back(error.ToString());
  EXPECT_EQ(messages, (std::vector<std::string>{
                          "t.yaml:3:3: p: !!binary is only allowed for process names",
                          "t.yaml:4:3: p: expected a string, got the string \"x\"",
                          "t.yaml:5:3: p: expected a string, got a list",
                          "t.yaml:6:3: p: invalid base64 in !!binary value \"#\"",
                      }));
}

}  // namespace
}  // namespace connwatch
