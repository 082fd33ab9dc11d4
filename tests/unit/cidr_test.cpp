#include "net/cidr.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

TEST(CidrTest, RejectsBadPrefixes) {
  EXPECT_TRUE(ParseCidr("10.0.0.0/8"));
  EXPECT_TRUE(ParseCidr("fc00::/7"));
  EXPECT_EQ(ParseCidr("10.1.2.3")->prefix_length, 32);
  EXPECT_EQ(ParseCidr("::1")->prefix_length, 128);
  EXPECT_FALSE(ParseCidr("10.0.0.0/33"));
  EXPECT_FALSE(ParseCidr("10.0.0.0/-1"));
  EXPECT_FALSE(ParseCidr("10.0.0.0/"));
  EXPECT_FALSE(ParseCidr("10.0.0.0/8x"));
  EXPECT_FALSE(ParseCidr("10.0.0.1/8")) << "host bits set";
  EXPECT_FALSE(ParseCidr("fc00::1/7"));
  EXPECT_EQ(FormatCidr(*ParseCidr("172.16.0.0/12")), "172.16.0.0/12");
}

TEST(CidrTest, ContainsRespectsPrefixBoundaries) {
  Cidr private12 = *ParseCidr("172.16.0.0/12");
  EXPECT_TRUE(CidrContains(private12, Ip("172.16.0.1")));
  EXPECT_TRUE(CidrContains(private12, Ip("172.31.255.255")));
  EXPECT_FALSE(CidrContains(private12, Ip("172.32.0.0")));
  EXPECT_FALSE(CidrContains(private12, Ip("172.15.255.255")));
  Cidr ula = *ParseCidr("fc00::/7");
  EXPECT_TRUE(CidrContains(ula, Ip("fd12:3456::1")));
  EXPECT_FALSE(CidrContains(ula, Ip("fe80::1")));
  EXPECT_FALSE(CidrContains(ula, Ip("10.0.0.1"))) << "families never match";
  EXPECT_TRUE(CidrContains(*ParseCidr("0.0.0.0/0"), Ip("8.8.8.8")));
}

}  // namespace
}  // namespace connwatch
