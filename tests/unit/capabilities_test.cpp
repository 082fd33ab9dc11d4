#include "privilege/capabilities.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>

#include "base/read_file.h"
#include "support/live_process.h"

namespace connwatch {
namespace {

using testing::RunInChild;

constexpr CapabilitySet kAllOf41 =
    (CapabilitySet{1} << 41) - 1;  // CAP_CHOWN..CAP_CHECKPOINT_RESTORE

// /proc/self/status of `setpriv --reuid=nobody --inh-caps=+dac_read_search,+sys_ptrace,
// +net_admin --ambient-caps=... --bounding-set=-all,+...` on Debian 12 (kernel 6.x),
// 2026-11-29; lines that do not matter here trimmed.
constexpr std::string_view kAmbientStatus =
    "Name:\tcat\n"
    "Umask:\t0022\n"
    "State:\tR (running)\n"
    "Uid:\t65534\t65534\t65534\t65534\n"
    "CapInh:\t0000000000081004\n"
    "CapPrm:\t0000000000081004\n"
    "CapEff:\t0000000000081004\n"
    "CapBnd:\t0000000000081004\n"
    "CapAmb:\t0000000000081004\n"
    "NoNewPrivs:\t0\n"
    "Seccomp:\t0\n";

TEST(CapabilityNameTest, KernelNamesAndUnknownNumbers) {
  EXPECT_EQ(CapabilityName(0), "cap_chown");
  EXPECT_EQ(CapabilityName(kCapDacReadSearch), "cap_dac_read_search");
  EXPECT_EQ(CapabilityName(kCapSysPtrace), "cap_sys_ptrace");
  EXPECT_EQ(CapabilityName(kCapNetAdmin), "cap_net_admin");
  EXPECT_EQ(CapabilityName(40), "cap_checkpoint_restore");
  EXPECT_EQ(CapabilityName(41), "cap_41");  // newer than the table
}

TEST(FormatCapabilitiesTest, NumberOrderCommaSeparated) {
  EXPECT_EQ(FormatCapabilities(kConnwatchCapabilities),
            "cap_dac_read_search,cap_net_admin,cap_sys_ptrace");
  EXPECT_EQ(FormatCapabilities(0), "");
  EXPECT_EQ(FormatCapabilities(CapabilityBit(63) | CapabilityBit(0)), "cap_chown,cap_63");
}

TEST(ParseStatusCapabilitiesTest, ReadsAllFiveSets) {
  auto state = ParseStatusCapabilities(kAmbientStatus);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->effective, kConnwatchCapabilities);
  EXPECT_EQ(state->permitted, kConnwatchCapabilities);
  EXPECT_EQ(state->inheritable, kConnwatchCapabilities);
  EXPECT_EQ(state->bounding, kConnwatchCapabilities);
  EXPECT_EQ(state->ambient, kConnwatchCapabilities);

  auto root = ParseStatusCapabilities(
      "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
      "CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->permitted, kAllOf41);
  EXPECT_EQ(root->ambient, 0u);
}

TEST(ParseStatusCapabilitiesTest, RejectsMissingRepeatedOrMalformedLines) {
  std::string text(kAmbientStatus);
  std::string without_amb = text;
  without_amb.erase(without_amb.find("CapAmb:"),
                    std::string_view("CapAmb:\t0000000000081004\n").size());
  EXPECT_FALSE(ParseStatusCapabilities(without_amb));
  EXPECT_FALSE(ParseStatusCapabilities(text + "CapEff:\t0000000000000000\n"));
  std::string not_hex = text;
  not_hex.replace(not_hex.find("0000000000081004"), 16, "00000000000810zz");
  EXPECT_FALSE(ParseStatusCapabilities(not_hex));
  std::string too_long = text;
  too_long.replace(too_long.find("0000000000081004"), 16, "10000000000081004");
  EXPECT_FALSE(ParseStatusCapabilities(too_long));
  EXPECT_FALSE(ParseStatusCapabilities(""));
}

TEST(RequiredCapabilitiesTest, SysAdminOnlyForTheSetnsPath) {
  EXPECT_EQ(RequiredCapabilities(":10107", true),
            kConnwatchCapabilities | CapabilityBit(kCapSysAdmin));
  EXPECT_EQ(RequiredCapabilities(":10107", false), kConnwatchCapabilities);
  EXPECT_EQ(CapabilityName(kCapSysAdmin), "cap_sys_admin");
  EXPECT_NE(DegradationWithout(kCapSysAdmin), "");
}

TEST(RequiredCapabilitiesTest, BindServiceOnlyForPrivilegedPorts) {
  EXPECT_EQ(RequiredCapabilities(":10107"), kConnwatchCapabilities);
  EXPECT_EQ(RequiredCapabilities("127.0.0.1:0"), kConnwatchCapabilities);
  EXPECT_EQ(RequiredCapabilities(":80"),
            kConnwatchCapabilities | CapabilityBit(kCapNetBindService));
  EXPECT_EQ(RequiredCapabilities("127.0.0.1:1023"),
            kConnwatchCapabilities | CapabilityBit(kCapNetBindService));
  EXPECT_EQ(RequiredCapabilities(":1024"), kConnwatchCapabilities);
  EXPECT_EQ(RequiredCapabilities("garbage"), kConnwatchCapabilities);
  EXPECT_EQ(RequiredCapabilities(":80x"), kConnwatchCapabilities);
}

TEST(PlanCapabilityDropTest, RootKeepsTheThreeAndShrinksTheBoundingSet) {
  CapabilityState root{kAllOf41, kAllOf41, 0, kAllOf41, 0};
  CapabilityPlan plan = PlanCapabilityDrop(root, kConnwatchCapabilities);
  EXPECT_EQ(plan.kept, kConnwatchCapabilities);
  EXPECT_EQ(plan.lacking, 0u);
  EXPECT_EQ(plan.dropped, kAllOf41 & ~kConnwatchCapabilities);
  EXPECT_EQ(plan.bounding_drop, kAllOf41 & ~kConnwatchCapabilities);
  EXPECT_EQ(plan.target, (CapabilityState{kConnwatchCapabilities, kConnwatchCapabilities, 0,
                                          kConnwatchCapabilities, 0}));
}

TEST(PlanCapabilityDropTest, AmbientUserClearsInheritableAndAmbient) {
  auto user = ParseStatusCapabilities(kAmbientStatus);
  ASSERT_TRUE(user);
  CapabilityPlan plan = PlanCapabilityDrop(*user, kConnwatchCapabilities);
  EXPECT_EQ(plan.kept, kConnwatchCapabilities);
  EXPECT_EQ(plan.dropped, 0u);
  EXPECT_EQ(plan.bounding_drop, 0u);  // no CAP_SETPCAP, and nothing to drop anyway
  EXPECT_EQ(plan.target, (CapabilityState{kConnwatchCapabilities, kConnwatchCapabilities, 0,
                                          kConnwatchCapabilities, 0}));
}

TEST(PlanCapabilityDropTest, MissingCapabilitiesAreLackingAndTheBoundingSetStays) {
  // An unprivileged user with one of the three and the default (full) bounding set.
  CapabilityState user{CapabilityBit(kCapNetAdmin), CapabilityBit(kCapNetAdmin), 0, kAllOf41, 0};
  CapabilityPlan plan = PlanCapabilityDrop(user, kConnwatchCapabilities);
  EXPECT_EQ(plan.kept, CapabilityBit(kCapNetAdmin));
  EXPECT_EQ(plan.lacking, CapabilityBit(kCapDacReadSearch) | CapabilityBit(kCapSysPtrace));
  EXPECT_EQ(plan.bounding_drop, 0u);
  EXPECT_EQ(plan.target.bounding, kAllOf41);
  EXPECT_FALSE(DegradationWithout(kCapSysPtrace).empty());
  EXPECT_FALSE(DegradationWithout(kCapDacReadSearch).empty());
  EXPECT_TRUE(DegradationWithout(0).empty());

  CapabilityState none{0, 0, 0, kAllOf41, 0};
  EXPECT_EQ(PlanCapabilityDrop(none, kConnwatchCapabilities).lacking, kConnwatchCapabilities);
}

std::optional<CapabilityState> KernelView() {
  std::string status;
  if (ReadFileCapped("/proc/thread-self/status", kMaxSmallProcFileBytes, status) != 0)
    return std::nullopt;
  return ParseStatusCapabilities(status);
}

TEST(ApplyCapabilityPlanTest, RootDropsToTheThreeAsTheKernelReportsIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string failure = RunInChild([]() -> std::string {
    CapabilityState before;
    std::string error;
    if (!ReadCapabilities(before, error)) return "read: " + error;
    // The syscall view and the kernel's status file agree.
    if (KernelView() != before) return "ReadCapabilities differs from /proc/thread-self/status";
    // A capability about to go: CAP_CHOWN works now.
    char path[] = "/tmp/connwatch-cap-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return "mkstemp failed";
    close(fd);
    bool chown_before = chown(path, 65534, 65534) == 0;
    CapabilityPlan plan = PlanCapabilityDrop(before, kConnwatchCapabilities);
    bool applied = ApplyCapabilityPlan(plan, error);
    bool chown_after = chown(path, 0, 0) == 0;
    int chown_errno = errno;
    unlink(path);
    if (!applied) return "apply: " + error;
    auto after = KernelView();
    if (!after) return "status unreadable";
    if (!(*after == plan.target)) {
      return "status after the drop: eff=" + FormatCapabilities(after->effective) +
             " bnd=" + FormatCapabilities(after->bounding) +
             " amb=" + FormatCapabilities(after->ambient);
    }
    if (after->effective != kConnwatchCapabilities || after->bounding != kConnwatchCapabilities) {
      return "not exactly the three";
    }
    if (!chown_before) return "chown failed before the drop";
    if (chown_after || chown_errno != EPERM) return "chown still allowed after the drop";
    return "";
  });
  EXPECT_EQ(failure, "");
}

TEST(ApplyCapabilityPlanTest, DroppingTwiceIsHarmless) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string failure = RunInChild([]() -> std::string {
    for (int round = 0; round < 2; ++round) {
      CapabilityState state;
      std::string error;
      if (!ReadCapabilities(state, error)) return "read: " + error;
      CapabilityPlan plan = PlanCapabilityDrop(state, CapabilityBit(kCapNetAdmin));
      if (round == 1 && (plan.bounding_drop != 0 || plan.dropped != 0)) return "second round drops";
      if (!ApplyCapabilityPlan(plan, error)) return "apply: " + error;
    }
    auto after = KernelView();
    if (!after || after->permitted != CapabilityBit(kCapNetAdmin)) return "not net_admin only";
    return "";
  });
  EXPECT_EQ(failure, "");
}

}  // namespace
}  // namespace connwatch
