#include "policy/policy_values.h"

#include <gtest/gtest.h>

#include <string>

#include "base/yaml_tree.h"
#include "policy/policy_loader.h"

namespace connwatch {
namespace {

// Reads `text` (one scalar document) with `read`, returning its value or its one error.
template <typename Read>
auto ReadScalar(const std::string& text, Read read, std::string& error) {
  ConfigErrors errors("v.yaml");
  YamlReader reader(errors);
  std::optional<YamlNode> root = ParseYamlTree(text, PolicyYamlRules(), errors);
  decltype(read(reader, *root)) value{};
  if (root) value = read(reader, *root);
  std::vector<ConfigError> taken = errors.Take();
  error = taken.empty() ? "" : taken[0].ToString();
  return value;
}

TEST(PolicyValuesTest, LooksLikeInteger) {
  EXPECT_TRUE(LooksLikeInteger("12"));
  EXPECT_TRUE(LooksLikeInteger("-3"));
  EXPECT_FALSE(LooksLikeInteger(""));
  EXPECT_FALSE(LooksLikeInteger("-"));
  EXPECT_FALSE(LooksLikeInteger("1.5"));
}

TEST(PolicyValuesTest, ScoreAcceptsPlainDecimalsFromZeroToOne) {
  auto score = [](YamlReader& reader, const YamlNode& node) {
    return ReadPolicyScore(reader, node, "s");
  };
  std::string error;
  EXPECT_EQ(ReadScalar("0.8", score, error), 0.8);
  EXPECT_EQ(error, "");
  EXPECT_EQ(ReadScalar("1", score, error), 1.0);
  EXPECT_EQ(ReadScalar("0", score, error), 0.0);
  for (const char* bad : {"1.01", "-0.1", "0x1", "inf", "nan", ".5", "5.", "0.5.1", "1e0"}) {
    EXPECT_EQ(ReadScalar(bad, score, error), std::nullopt) << bad;
    EXPECT_NE(error.find("must be a score from 0 to 1"), std::string::npos) << error;
  }
}

TEST(PolicyValuesTest, CountChecksItsRangeAndSyntax) {
  auto count = [](YamlReader& reader, const YamlNode& node) {
    return ReadPolicyCount(reader, node, "c", 2, 100, "a number of things");
  };
  std::string error;
  EXPECT_EQ(ReadScalar("2", count, error), 2u);
  EXPECT_EQ(ReadScalar("100", count, error), 100u);
  EXPECT_EQ(ReadScalar("101", count, error), std::nullopt);
  EXPECT_EQ(error, "v.yaml:1:1: c: must be a number of things from 2 to 100, got 101");
  EXPECT_EQ(ReadScalar("010", count, error), std::nullopt);
  EXPECT_EQ(ReadScalar("-5", count, error), std::nullopt);
  EXPECT_EQ(ReadScalar("5m", count, error), std::nullopt);
  EXPECT_EQ(error, "v.yaml:1:1: c: expected a number of things, got \"5m\"");
}

TEST(PolicyValuesTest, DurationNeedsAUnitAndWholeSeconds) {
  auto duration = [](YamlReader& reader, const YamlNode& node) {
    return ReadPolicyDuration(reader, node, "d", false);
  };
  std::string error;
  EXPECT_EQ(ReadScalar("90s", duration, error), std::chrono::seconds(90));
  EXPECT_EQ(ReadScalar("90", duration, error), std::nullopt);
  EXPECT_NE(error.find("duration needs a unit"), std::string::npos);
  EXPECT_EQ(ReadScalar("1500ms", duration, error), std::nullopt);
  EXPECT_NE(error.find("whole seconds"), std::string::npos);
  EXPECT_EQ(ReadScalar("0", duration, error), std::nullopt);
}

}  // namespace
}  // namespace connwatch
