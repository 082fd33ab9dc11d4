// Hostile and pathological YAML through the policy loader: alias bombs, deep nesting, huge
// node counts, mangled files. Each is refused quickly with a position, and nothing throws.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "policy/policy_loader.h"
#include "support/policy_fixtures.h"

namespace connwatch {
namespace {

using testing::ErrorStrings;
using testing::kExamplePolicy;
using testing::ReadFile;
const std::string kFixtures = testing::kPolicyFixtures;

template <typename F>
std::chrono::milliseconds Time(F&& function) {
  auto start = std::chrono::steady_clock::now();
  function();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

TEST(PolicyLoaderTest, AliasBombIsRefusedFast) {
  std::string text = ReadFile(kFixtures + "/billion_laughs.yaml");
  PolicyLoadResult result;
  // A guard, not a benchmark: expanding the aliases would take hours.
  EXPECT_LT(Time([&] { result = ParsePolicy(text, "billion_laughs.yaml"); }).count(), 1000);
  EXPECT_FALSE(result.policy.has_value());
  ASSERT_FALSE(result.errors.empty());
  bool alias_reported = false;
  for (const PolicyError& error : result.errors) {
    if (error.ToString() ==
        "billion_laughs.yaml:3:8: b[0]: alias *a not allowed: policy files may not use YAML "
        "aliases") {
      alias_reported = true;
    }
  }
  EXPECT_TRUE(alias_reported);
}

TEST(PolicyLoaderTest, AMillionAliasesAreCappedAndFast) {
  std::string text = "a: &a 1\nb: [";
  while (text.size() < kMaxPolicyFileBytes - 10) text += "*a,";
  text += "*a]\n";
  PolicyLoadResult result;
  EXPECT_LT(Time([&] { result = ParsePolicy(text, "aliases.yaml"); }).count(), 1000);
  EXPECT_FALSE(result.policy.has_value());
  ASSERT_EQ(result.errors.size(), 101u);  // 100 shown, then a count
  EXPECT_TRUE(result.errors.back().ToString().starts_with("aliases.yaml: and "));
  EXPECT_TRUE(result.errors.back().ToString().ends_with(" more errors not shown"));
}

TEST(PolicyLoaderTest, DeepNestingIsRefusedFast) {
  // 100000 levels: far past yaml-cpp's own guard (2000), small enough that yaml-cpp's
  // scanner, which reads every opening bracket before the first token, stays quick.
  std::string text = "zones: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  PolicyLoadResult result;
  EXPECT_LT(Time([&] { result = ParsePolicy(text, "deep.yaml"); }).count(), 1000);
  EXPECT_EQ(
      ErrorStrings(result),
      std::vector<std::string>{"deep.yaml:1:23: nested deeper than 16 levels; not a policy file"});
}

TEST(PolicyLoaderTest, HugeNodeCountsAreRefused) {
  std::string text = "zones: [";
  while (text.size() < kMaxPolicyFileBytes - 10) text += "1,";
  text += "1]\n";
  PolicyLoadResult result;
  EXPECT_LT(Time([&] { result = ParsePolicy(text, "wide.yaml"); }).count(), 1000);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message, "more than 100000 YAML nodes; not a policy file");
}

TEST(PolicyLoaderTest, AnchorsWithoutAliasesAreHarmless) {
  PolicyLoadResult result =
      ParsePolicy("listeners:\n  - &ssh {process: sshd, port: 22}\n", "p.yaml");
  ASSERT_TRUE(result.policy.has_value()) << ErrorStrings(result)[0];
  EXPECT_EQ((*result.policy->listeners)[0].process, "sshd");
}

TEST(PolicyLoaderTest, NoExceptionEscapesOnTruncatedOrMangledInput) {
  // Every prefix of the example, and every prefix with one byte flipped: each either loads
  // or reports errors with a position, and nothing throws.
  std::string text = ReadFile(kExamplePolicy);
  size_t loaded = 0;
  for (size_t length = 0; length <= text.size(); length += 7) {
    for (bool flip : {false, true}) {
      std::string input = text.substr(0, length);
      if (flip && !input.empty()) input[input.size() / 2] ^= 0x5a;
      PolicyLoadResult result;
      ASSERT_NO_THROW(result = ParsePolicy(input, "mangled.yaml"));
      EXPECT_NE(result.policy.has_value(), !result.errors.empty());
      if (result.policy) ++loaded;
    }
  }
  EXPECT_GT(loaded, 0u);
}

}  // namespace
}  // namespace connwatch
