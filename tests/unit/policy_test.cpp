#include "policy/policy.h"

#include <gtest/gtest.h>

#include "policy/policy_loader.h"
#include "policy/policy_yaml.h"

namespace connwatch {
namespace {

TEST(PolicyTest, DefaultPolicyLearnsWithBuiltinZonesAndNoRules) {
  Policy policy = DefaultPolicy();
  EXPECT_EQ(policy.source, "<embedded default>");
  EXPECT_TRUE(policy.zones.empty());
  EXPECT_FALSE(policy.listeners.has_value());
  EXPECT_FALSE(policy.expected_services.has_value());
  EXPECT_FALSE(policy.network_processes.has_value());
  EXPECT_FALSE(policy.paths.has_value());
  EXPECT_EQ(policy.limits.long_connection, std::chrono::hours(1));
  EXPECT_EQ(policy.baseline.learn_for, std::chrono::minutes(5));
}

TEST(PolicyTest, DefaultPolicyYamlParsesToDefaultPolicy) {
  PolicyLoadResult result = ParsePolicy(kDefaultPolicyYaml, "default.yaml");
  ASSERT_TRUE(result.errors.empty()) << result.errors[0].ToString();
  ASSERT_TRUE(result.policy.has_value());
  const Policy& parsed = *result.policy;
  Policy expected = DefaultPolicy();
  EXPECT_EQ(parsed.source, "default.yaml");
  EXPECT_TRUE(parsed.zones.empty());
  EXPECT_EQ(parsed.listeners.has_value(), expected.listeners.has_value());
  EXPECT_EQ(parsed.expected_services.has_value(), expected.expected_services.has_value());
  EXPECT_EQ(parsed.network_processes.has_value(), expected.network_processes.has_value());
  EXPECT_EQ(parsed.paths.has_value(), expected.paths.has_value());
  EXPECT_EQ(parsed.limits.long_connection, expected.limits.long_connection);
  EXPECT_EQ(parsed.baseline.learn_for, expected.baseline.learn_for);
  // And it is what PolicyToYaml says, comments aside.
  EXPECT_EQ(PolicyToYaml(parsed), PolicyToYaml(expected));
}

TEST(PolicyTest, DefaultPolicyYamlExplainsItself) {
  std::string text = kDefaultPolicyYaml;
  EXPECT_TRUE(text.starts_with("#"));
  EXPECT_NE(text.find("learn_for: 5m"), std::string::npos);
  EXPECT_NE(text.find("built-in zones"), std::string::npos);
}

TEST(PolicyTest, ProcessMatchesExactNames) {
  EXPECT_TRUE(ProcessMatches("sshd", "sshd"));
  EXPECT_FALSE(ProcessMatches("sshd", "ssh"));
  EXPECT_FALSE(ProcessMatches("ssh", "sshd"));
  EXPECT_FALSE(ProcessMatches("sshd", "SSHD"));
  EXPECT_FALSE(ProcessMatches("sshd", ""));
  // Without glob characters a backslash is an ordinary character.
  EXPECT_TRUE(ProcessMatches("a\\b", "a\\b"));
  EXPECT_FALSE(ProcessMatches("a\\b", "ab"));
  // Names that are not UTF-8 compare as bytes.
  EXPECT_TRUE(ProcessMatches("caf\xe9", "caf\xe9"));
  EXPECT_FALSE(ProcessMatches("caf\xe9", "caf\xc3\xa9"));
}

TEST(PolicyTest, EmptyPatternMatchesAnything) {
  EXPECT_TRUE(ProcessMatches("", "sshd"));
  EXPECT_TRUE(ProcessMatches("", ""));
  EXPECT_TRUE(ProcessMatches("", "\xff"));
}

TEST(PolicyTest, ProcessMatchesGlobs) {
  EXPECT_TRUE(ProcessMatches("systemd-*", "systemd-resolved"));
  EXPECT_TRUE(ProcessMatches("systemd-*", "systemd-"));
  EXPECT_FALSE(ProcessMatches("systemd-*", "systemd"));
  EXPECT_TRUE(ProcessMatches("*", "anything at all"));
  EXPECT_TRUE(ProcessMatches("*", ""));
  EXPECT_TRUE(ProcessMatches("php-fpm?.?", "php-fpm8.2"));
  EXPECT_FALSE(ProcessMatches("php-fpm?.?", "php-fpm8.22"));
  EXPECT_TRUE(ProcessMatches("php-fpm[0-9]*", "php-fpm8.2"));
  EXPECT_FALSE(ProcessMatches("php-fpm[0-9]*", "php-fpm"));
  EXPECT_TRUE(ProcessMatches("[!a-z]*", "9lives"));
  EXPECT_FALSE(ProcessMatches("[!a-z]*", "nginx"));
  EXPECT_TRUE(ProcessMatches("*d", "sshd"));
  EXPECT_FALSE(ProcessMatches("*d", "sshd2"));
  EXPECT_TRUE(ProcessMatches("caf*", "caf\xe9"));
}

TEST(PolicyTest, GlobsSpanSlashesAndDots) {
  // No FNM_PATHNAME or FNM_PERIOD: names are basenames, but kernel threads look like paths.
  EXPECT_TRUE(ProcessMatches("kworker*", "kworker/0:1-events"));
  EXPECT_TRUE(ProcessMatches("*", ".hidden"));
  EXPECT_TRUE(ProcessMatches("a?b", "a/b"));
}

TEST(PolicyTest, EscapedGlobCharactersMatchLiterally) {
  EXPECT_TRUE(ProcessMatches("x\\*", "x*"));
  EXPECT_FALSE(ProcessMatches("x\\*", "xy"));
  EXPECT_TRUE(ProcessMatches("what\\?*", "what?now"));
  EXPECT_FALSE(ProcessMatches("what\\?*", "whatsnow"));
}

TEST(PolicyTest, MalformedGlobsDoNotMatchByAccident) {
  EXPECT_FALSE(ProcessMatches("[abc", "a"));
  EXPECT_TRUE(ProcessMatches("[abc", "[abc"));
}

}  // namespace
}  // namespace connwatch
