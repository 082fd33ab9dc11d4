#include "policy/limits_loader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/policy_loader.h"

namespace connwatch {
namespace {

// The limits a policy text holds, or its error messages.
struct Loaded {
  Limits limits;
  std::vector<std::string> errors;
};
Loaded Load(const std::string& text) {
  PolicyLoadResult result = ParsePolicy(text, "p.yaml");
  Loaded loaded;
  if (result.policy) loaded.limits = result.policy->limits;
  for (const PolicyError& error : result.errors) loaded.errors.push_back(error.ToString());
  return loaded;
}

TEST(LimitsLoaderTest, DefaultsWithoutTheSections) {
  Loaded loaded = Load("limits:\n  long_connection: 2h\n");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0];
  EXPECT_EQ(loaded.limits.long_connection, std::chrono::hours(2));
  EXPECT_EQ(loaded.limits.beacon, BeaconLimits{});
  EXPECT_EQ(loaded.limits.beacon.window, std::chrono::hours(1));
  EXPECT_EQ(loaded.limits.beacon.min_connections, 24u);
  EXPECT_DOUBLE_EQ(loaded.limits.beacon.min_score, 0.8);
  EXPECT_EQ(loaded.limits.scan.targets, 50u);
  EXPECT_EQ(loaded.limits.scan.ports, 20u);
}

TEST(LimitsLoaderTest, BeaconAndScanRead) {
  Loaded loaded = Load(
      "limits:\n  beacon:\n    window: 2m\n    min_connections: 12\n    min_score: 0.75\n"
      "  scan:\n    targets: 100\n    ports: 30\n");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0];
  EXPECT_EQ(loaded.limits.beacon.window, std::chrono::minutes(2));
  EXPECT_EQ(loaded.limits.beacon.min_connections, 12u);
  EXPECT_DOUBLE_EQ(loaded.limits.beacon.min_score, 0.75);
  EXPECT_EQ(loaded.limits.scan.targets, 100u);
  EXPECT_EQ(loaded.limits.scan.ports, 30u);
}

TEST(LimitsLoaderTest, BadValuesNameFileLineAndKey) {
  struct Case {
    std::string text, error;
  };
  const Case cases[] = {
      {"limits:\n  beacon:\n    min_score: 1.5\n",
       "p.yaml:3:16: limits.beacon.min_score: must be a score from 0 to 1 (e.g. 0.8), got "
       "\"1.5\""},
      {"limits:\n  beacon:\n    min_score: 1e-1\n",
       "p.yaml:3:16: limits.beacon.min_score: must be a score from 0 to 1 (e.g. 0.8), got "
       "\"1e-1\""},
      {"limits:\n  beacon:\n    min_connections: 3\n",
       "p.yaml:3:22: limits.beacon.min_connections: must be a number of connections from 4 to "
       "128, got 3"},
      {"limits:\n  beacon:\n    window: 2d\n",
       "p.yaml:3:13: limits.beacon.window: must be at most 1d"},
      {"limits:\n  beacon:\n    window: 0\n",
       "p.yaml:3:13: limits.beacon.window: duration must be greater than 0"},
      {"limits:\n  beacon:\n    every: 1m\n",
       "p.yaml:3:5: limits.beacon.every: unknown key; expected one of: window, min_connections, "
       "min_score"},
      {"limits:\n  scan:\n    targets: 1\n",
       "p.yaml:3:14: limits.scan.targets: must be a number of targets from 2 to 65535, got 1"},
      {"limits:\n  scan:\n    ports: 99999999999\n",
       "p.yaml:3:12: limits.scan.ports: must be a number of ports from 2 to 65535, got "
       "99999999999"},
      {"limits:\n  scan: 5\n", "p.yaml:2:9: limits.scan: expected a mapping, got \"5\""},
  };
  for (const Case& c : cases) {
    Loaded loaded = Load(c.text);
    ASSERT_EQ(loaded.errors.size(), 1u) << c.text;
    EXPECT_EQ(loaded.errors[0], c.error);
  }
}

TEST(LimitsLoaderTest, AnErrorKeepsTheOtherFieldsRead) {
  // Every problem is reported at once; the policy as a whole is refused.
  Loaded loaded = Load("limits:\n  beacon:\n    min_score: x\n  scan:\n    targets: 0\n");
  EXPECT_EQ(loaded.errors.size(), 2u);
}

}  // namespace
}  // namespace connwatch
