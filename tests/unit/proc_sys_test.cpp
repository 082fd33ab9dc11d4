#include "sources/proc_sys.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

TEST(ProcSysTest, ParsesLocalPortRange) {
  // Captured from /proc/sys/net/ipv4/ip_local_port_range on Debian 12 (kernel 6.x).
  auto range = ParseLocalPortRange("32768\t60999\n");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->low, 32768);
  EXPECT_EQ(range->high, 60999);
  EXPECT_TRUE(range->Contains(32768));
  EXPECT_TRUE(range->Contains(60999));
  EXPECT_FALSE(range->Contains(61000));
  EXPECT_FALSE(ParseLocalPortRange("32768\n"));
  EXPECT_FALSE(ParseLocalPortRange("60999 32768\n"));
  EXPECT_FALSE(ParseLocalPortRange("1 70000\n"));
}

TEST(ProcSysTest, ParsesReservedPorts) {
  auto empty = ParseReservedPorts("\n");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->count(), 0u);
  auto ports = ParseReservedPorts("8080,40000-40002\n");
  ASSERT_TRUE(ports);
  EXPECT_EQ(ports->count(), 4u);
  EXPECT_TRUE(ports->test(8080));
  EXPECT_TRUE(ports->test(40001));
  EXPECT_FALSE(ports->test(40003));
  EXPECT_FALSE(ParseReservedPorts("8080,x"));
  EXPECT_FALSE(ParseReservedPorts("9-3"));
}

TEST(ProcSysTest, ReadsTheLiveKernelOrDefaults) {
  EphemeralPorts live = ReadEphemeralPorts("/proc");
  EXPECT_LT(live.range.low, live.range.high);
  EphemeralPorts missing = ReadEphemeralPorts("/nonexistent");
  EXPECT_EQ(missing.range.low, 32768);
  EXPECT_EQ(missing.range.high, 60999);
}

}  // namespace
}  // namespace connwatch
