// Port numbers and ranges: ParsePortNumber's strict decimal, PortRange, and the kernel's
// default ephemeral range.
#include "net/ports.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace connwatch {
namespace {

TEST(PortsTest, ParsesDecimalPortNumbersOnly) {
  struct Case {
    std::string text;
    std::optional<uint16_t> port;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"1", 1},
      {"80", 80},
      {"080", 80},  // leading zeros are decimal, not octal
      {"00000", 0},
      {"65535", 65535},
      {"65536", std::nullopt},
      {"70000", std::nullopt},
      {"4294967376", std::nullopt},  // 2^32 + 80: no wrap-around to 80
      {"99999999999999999999999", std::nullopt},
      {"", std::nullopt},
      {"+1", std::nullopt},
      {"+80", std::nullopt},
      {"-1", std::nullopt},
      {"-0", std::nullopt},
      {" 80", std::nullopt},
      {"80 ", std::nullopt},
      {"80\n", std::nullopt},
      {"0x50", std::nullopt},
      {"080x", std::nullopt},
      {"8e1", std::nullopt},
      {"80.0", std::nullopt},
      {"1,000", std::nullopt},
      {"http", std::nullopt},
      {std::string("80\0", 3), std::nullopt},
      {std::string("\0"
                   "80",
                   3),
       std::nullopt},
      {"\xd9\xa8\xd9\xa0", std::nullopt},  // Arabic-Indic "80"
  };
  for (const Case& test : cases) {
    EXPECT_EQ(ParsePortNumber(test.text), test.port)
        << "\"" << test.text << "\" (" << test.text.size() << " bytes)";
  }
}

TEST(PortsTest, ParsesAViewOfALongerText) {
  std::string_view text = "8080-9090";
  EXPECT_EQ(ParsePortNumber(text.substr(0, 4)), 8080);
  EXPECT_EQ(ParsePortNumber(text.substr(5)), 9090);
  EXPECT_EQ(ParsePortNumber(text.substr(0, 5)), std::nullopt);
}

TEST(PortRangeTest, TheDefaultHoldsEveryPort) {
  PortRange any;
  EXPECT_TRUE(any.IsAny());
  EXPECT_TRUE(any.Contains(0));
  EXPECT_TRUE(any.Contains(1));
  EXPECT_TRUE(any.Contains(65535));
  EXPECT_EQ(any, (PortRange{0, 65535}));
}

TEST(PortRangeTest, ContainsIsInclusiveAtBothEnds) {
  PortRange range{8000, 8100};
  EXPECT_FALSE(range.Contains(7999));
  EXPECT_TRUE(range.Contains(8000));
  EXPECT_TRUE(range.Contains(8050));
  EXPECT_TRUE(range.Contains(8100));
  EXPECT_FALSE(range.Contains(8101));
  EXPECT_FALSE(range.IsAny());
  PortRange one{443, 443};
  EXPECT_TRUE(one.Contains(443));
  EXPECT_FALSE(one.Contains(442));
  EXPECT_FALSE(one.Contains(444));
}

TEST(PortRangeTest, OnlyTheFullRangeIsAny) {
  EXPECT_FALSE((PortRange{1, 65535}).IsAny());
  EXPECT_FALSE((PortRange{0, 65534}).IsAny());
  EXPECT_FALSE((PortRange{0, 0}).IsAny());
  EXPECT_TRUE((PortRange{0, 65535}).IsAny());
}

TEST(PortRangeTest, EqualWhenBothEndsAre) {
  EXPECT_EQ((PortRange{1, 2}), (PortRange{1, 2}));
  EXPECT_NE((PortRange{1, 2}), (PortRange{1, 3}));
  EXPECT_NE((PortRange{1, 2}), (PortRange{0, 2}));
  EXPECT_NE((PortRange{2, 1}), (PortRange{1, 2}));
}

TEST(EphemeralPortsTest, DefaultsAreTheKernels) {
  EphemeralPorts ports;
  EXPECT_EQ(ports.range, (PortRange{32768, 60999}));
  EXPECT_FALSE(ports.range.Contains(32767));
  EXPECT_TRUE(ports.range.Contains(32768));
  EXPECT_TRUE(ports.range.Contains(60999));
  EXPECT_FALSE(ports.range.Contains(61000));
  EXPECT_EQ(ports.reserved.count(), 0u) << "nothing reserved";
  EXPECT_EQ(ports.reserved.size(), 65536u) << "a bit for every port";
}

}  // namespace
}  // namespace connwatch
