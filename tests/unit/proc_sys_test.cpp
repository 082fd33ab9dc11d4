#include "sources/proc_sys.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "support/fake_proc.h"

namespace connwatch {
namespace {

using testing::FakeProc;

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

constexpr const char* kBoot = "6a1f0c2e-1d1b-4f57-9c1e-2b2f1c0d9e11";

TEST(ProcSysTest, ABootIdIsOnePrintableWord) {
  EXPECT_TRUE(IsValidBootId(kBoot));
  EXPECT_TRUE(IsValidBootId("b00t"));
  EXPECT_FALSE(IsValidBootId(""));
  EXPECT_FALSE(IsValidBootId("two words"));
  EXPECT_FALSE(IsValidBootId("tab\t"));
  EXPECT_FALSE(IsValidBootId("line\n"));
  EXPECT_FALSE(IsValidBootId("\x7f"));
}

class ProcSysTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/connwatch-proc-sys-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  std::string dir_;
};

TEST_F(ProcSysTreeTest, ReadsTheBootIdOfAFakeTree) {
  std::filesystem::create_directories(dir_ + "/sys/kernel/random");
  std::string file = dir_ + "/sys/kernel/random/boot_id";
  Write(file, std::string(kBoot) + "\n");
  EXPECT_EQ(ReadBootId(dir_), kBoot);
  Write(file, "  " + std::string(kBoot) + " \n\n");
  EXPECT_EQ(ReadBootId(dir_), kBoot);
  Write(file, "two words\n");
  EXPECT_EQ(ReadBootId(dir_), "");
  Write(file, "\n");
  EXPECT_EQ(ReadBootId(dir_), "");
  std::filesystem::remove(file);
  EXPECT_EQ(ReadBootId(dir_), "");
}

TEST(ConntrackTimestampsTest, ReadsTheSysctl) {
  FakeProc proc;
  EXPECT_FALSE(ReadConntrackTimestampsEnabled(proc.root())) << "absent: nf_conntrack not loaded";
  proc.MakeDir("sys");
  proc.MakeDir("sys/net");
  proc.MakeDir("sys/net/netfilter");
  const std::string file = "sys/net/netfilter/nf_conntrack_timestamp";
  proc.WriteFile(file, "1\n");
  EXPECT_TRUE(ReadConntrackTimestampsEnabled(proc.root()));
  proc.WriteFile(file, "0\n");
  EXPECT_FALSE(ReadConntrackTimestampsEnabled(proc.root()));
  proc.WriteFile(file, "");
  EXPECT_FALSE(ReadConntrackTimestampsEnabled(proc.root()));
  proc.WriteFile(file, "1");
  EXPECT_TRUE(ReadConntrackTimestampsEnabled(proc.root()));
  proc.WriteFile(file, "10\n");
  EXPECT_FALSE(ReadConntrackTimestampsEnabled(proc.root()));
}

TEST(ProcSysLiveTest, ReadsTheBootIdOfThisHost) {
  std::string id = ReadBootId("/proc");
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                              "[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(ReadBootId("/proc"), id);
}

}  // namespace
}  // namespace connwatch
