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

// A process as ReadProcess builds it: name from the exe basename.
Process Proc(std::string exe, std::string comm, std::string argv0) {
  Process process;
  process.pid = 10;
  process.exe = exe;
  process.name = exe.empty() ? comm : exe.substr(exe.rfind('/') + 1);
  process.comm = std::move(comm);
  process.argv0 = std::move(argv0);
  return process;
}

TEST(PolicyTest, ExeMatchesPathsAndPathnameGlobs) {
  EXPECT_TRUE(ExeMatches("", "/usr/sbin/nginx"));
  EXPECT_TRUE(ExeMatches("", "")) << "no exe constraint: any, unknown included";
  EXPECT_TRUE(ExeMatches("/usr/sbin/nginx", "/usr/sbin/nginx"));
  EXPECT_FALSE(ExeMatches("/usr/sbin/nginx", "/tmp/nginx"));
  EXPECT_FALSE(ExeMatches("/usr/sbin/nginx", "/usr/sbin/nginx2"));
  EXPECT_FALSE(ExeMatches("/usr/sbin/nginx", "")) << "an unreadable exe cannot be vouched for";
  EXPECT_FALSE(ExeMatches("/*", "")) << "not even by a pattern matching everything";
  // FNM_PATHNAME: '*' and '?' stop at '/'.
  EXPECT_TRUE(ExeMatches("/usr/lib/jvm/*/bin/java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"));
  EXPECT_FALSE(ExeMatches("/usr/lib/jvm/*/bin/java", "/usr/lib/jvm/a/b/bin/java"));
  EXPECT_FALSE(ExeMatches("/usr/bin/*", "/usr/bin/x/../../tmp/evil"));
  EXPECT_FALSE(ExeMatches("/usr/*", "/usr/bin/python3.11"));
  EXPECT_TRUE(ExeMatches("/usr/bin/python3.*", "/usr/bin/python3.11"));
  EXPECT_FALSE(ExeMatches("/usr/bin/a?b", "/usr/bin/a/b"));
  // Literal paths compare exactly; an escaped glob character is literal.
  EXPECT_TRUE(ExeMatches("/opt/a\\[1\\]/x", "/opt/a[1]/x"));
  EXPECT_FALSE(ExeMatches("/opt/a\\[1\\]/x", "/opt/a1/x"));
  EXPECT_TRUE(ExeMatches("/opt/a\\b", "/opt/a\\b")) << "no glob character: compared as is";
}

TEST(PolicyTest, ProcessMatchesExeBasenameCommOrArgv0Basename) {
  // Debian's redis-server: a symlink to redis-check-rdb.
  Process redis = Proc("/usr/bin/redis-check-rdb", "redis-server", "/usr/bin/redis-server");
  EXPECT_TRUE(IdentityMatches("redis-server", "", redis));
  EXPECT_TRUE(IdentityMatches("redis-check-rdb", "", redis));
  EXPECT_TRUE(IdentityMatches("redis-*", "/usr/bin/redis-check-rdb", redis));
  EXPECT_FALSE(IdentityMatches("redis-server", "/usr/bin/redis-server", redis))
      << "exe is the resolved path, not the symlink's";
  EXPECT_FALSE(IdentityMatches("valkey", "", redis));
  // python3 -> python3.11: argv[0] carries the name, comm the target's.
  Process python = Proc("/usr/bin/python3.11", "python3", "python3");
  EXPECT_TRUE(IdentityMatches("python3", "", python));
  python.comm = "python3.11";
  EXPECT_TRUE(IdentityMatches("python3", "", python)) << "by argv[0]'s basename alone";
  EXPECT_TRUE(IdentityMatches("python3", "/usr/bin/python3.11", python));
  EXPECT_FALSE(IdentityMatches("python3", "/usr/local/bin/*", python));
  // nc -> nc.openbsd, started by a path: only argv[0]'s basename says "nc".
  Process nc = Proc("/usr/bin/nc.openbsd", "nc.openbsd", "/bin/nc");
  EXPECT_TRUE(IdentityMatches("nc", "", nc));
  EXPECT_FALSE(IdentityMatches("bin", "", nc));
  EXPECT_FALSE(IdentityMatches("/bin/nc", "", nc)) << "argv[0] is matched by its basename";
  // A copy of an allowed binary elsewhere keeps every name but not the path.
  Process copy = Proc("/tmp/x/python3.11", "python3.11", "/tmp/x/python3.11");
  EXPECT_TRUE(IdentityMatches("python3.11", "", copy));
  EXPECT_FALSE(IdentityMatches("python3.11", "/usr/bin/python3.11", copy));
  EXPECT_FALSE(IdentityMatches("", "/usr/bin/python3.11", copy));
  EXPECT_TRUE(IdentityMatches("", "/tmp/x/*", copy));
}

TEST(PolicyTest, ProcessMatchingSkipsEmptyNames) {
  // Unreadable exe: name is comm; no argv[0] (kernel thread).
  Process kthread = Proc("", "kworker/0:1", "");
  EXPECT_TRUE(IdentityMatches("kworker*", "", kthread));
  EXPECT_FALSE(IdentityMatches("kworker*", "/*", kthread)) << "no exe: no exe rule matches";
  EXPECT_TRUE(IdentityMatches("", "", kthread));
  // An empty argv[0] or one ending in '/' is no name; a cleared comm neither.
  Process blank = Proc("/usr/bin/x", "", "/usr/bin/");
  EXPECT_FALSE(IdentityMatches("*y", "", blank));
  EXPECT_TRUE(IdentityMatches("x", "", blank));
  EXPECT_FALSE(IdentityMatches("usr", "", blank));
}

}  // namespace
}  // namespace connwatch
