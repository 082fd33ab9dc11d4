// The policy commands: `connwatch validate`'s summary of a policy.
#include "cli/policy_commands.h"

#include <gtest/gtest.h>

#include <string>

#include "support/policy_fixtures.h"

namespace connwatch {
namespace {

using testing::ParseFixture;

TEST(PolicySummaryTest, OfTheDefaultPolicy) {
  EXPECT_EQ(SummarizePolicy(DefaultPolicy()),
            "policy: <embedded default>\n"
            "zones: built-in only\n"
            "  built-in: loopback, link_local, multicast, internal, external (everything else)\n"
            "checks:\n"
            "  unexpected listeners: inactive (section absent)\n"
            "  expected services: inactive (section absent)\n"
            "  network processes: inactive (section absent)\n"
            "  paths: inactive (section absent)\n"
            "  long connections: longer than 1h\n"
            "baseline learning: learns for 5m, then adds the learned rules to the sections above "
            "(activating absent ones)\n");
}

TEST(PolicySummaryTest, OfAFullPolicy) {
  PolicyLoadResult result = ParseFixture("good/full.yaml");
  ASSERT_TRUE(result.policy.has_value());
  EXPECT_EQ(SummarizePolicy(*result.policy),
            "policy: full.yaml\n"
            "zones: 2 policy zones, matched first in this order, then the built-ins\n"
            "  dmz: 203.0.113.0/24 2001:db8:1::/48\n"
            "  admin_vpn: 10.20.0.0/24\n"
            "  built-in: loopback, link_local, multicast, internal, external (everything else)\n"
            "checks:\n"
            "  unexpected listeners: active (4 allowed listeners)\n"
            "  expected services: active (3 services)\n"
            "    https: tcp/443 owned by \"nginx\"\n"
            "    dns: udp/53\n"
            "    ssh: tcp/22\n"
            "  network processes: active (2 allowed process patterns)\n"
            "  paths: active (3 allowed paths)\n"
            "  long connections: longer than 1h30m\n"
            "baseline learning: learns for 2d, then adds the learned rules to the sections above "
            "(activating absent ones)\n");
}

TEST(PolicySummaryTest, OfEmptySectionsSaysTheyAllowNothing) {
  PolicyLoadResult result = ParsePolicy("listeners: []\nbaseline:\n  learn_for: 0\n", "p.yaml");
  ASSERT_TRUE(result.policy.has_value());
  std::string summary = SummarizePolicy(*result.policy);
  EXPECT_NE(summary.find("  unexpected listeners: active (0 allowed listeners)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("baseline learning: off (learn_for 0)\n"), std::string::npos) << summary;
}

}  // namespace
}  // namespace connwatch
