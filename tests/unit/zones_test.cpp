#include "net/zones.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

TEST(ZonesTest, BuiltinZones) {
  ZoneClassifier zones;
  EXPECT_EQ(zones.Classify(Ip("127.0.0.1")), "loopback");
  EXPECT_EQ(zones.Classify(Ip("127.3.4.5")), "loopback");
  EXPECT_EQ(zones.Classify(Ip("::1")), "loopback");
  EXPECT_EQ(zones.Classify(Ip("169.254.169.254")), "link_local");
  EXPECT_EQ(zones.Classify(Ip("fe80::1")), "link_local");
  EXPECT_EQ(zones.Classify(Ip("224.0.0.251")), "multicast");
  EXPECT_EQ(zones.Classify(Ip("ff02::fb")), "multicast");
  EXPECT_EQ(zones.Classify(Ip("10.9.8.7")), "internal");
  EXPECT_EQ(zones.Classify(Ip("172.20.0.1")), "internal");
  EXPECT_EQ(zones.Classify(Ip("192.168.0.1")), "internal");
  EXPECT_EQ(zones.Classify(Ip("100.64.0.1")), "internal");
  EXPECT_EQ(zones.Classify(Ip("100.128.0.1")), "external");
  EXPECT_EQ(zones.Classify(Ip("fd00::5")), "internal");
  EXPECT_EQ(zones.Classify(Ip("172.32.0.1")), "external");
  EXPECT_EQ(zones.Classify(Ip("8.8.8.8")), "external");
  EXPECT_EQ(zones.Classify(Ip("2001:4860::8888")), "external");
}

TEST(ZonesTest, V4MappedAddressesAreClassifiedAsV4) {
  ZoneClassifier zones;
  EXPECT_EQ(zones.Classify(Ip("::ffff:127.0.0.1")), "loopback");
  EXPECT_EQ(zones.Classify(Ip("::ffff:10.0.0.1")), "internal");
  EXPECT_EQ(zones.Classify(Ip("::ffff:1.1.1.1")), "external");
}

TEST(ZonesTest, PolicyZonesComeFirstInOrder) {
  ZoneClassifier zones({{"dmz", {*ParseCidr("10.1.0.0/16")}},
                        {"corp", {*ParseCidr("10.0.0.0/8"), *ParseCidr("2001:db8:1::/48")}},
                        {"office", {*ParseCidr("203.0.113.0/24")}}});
  EXPECT_EQ(zones.Classify(Ip("10.1.2.3")), "dmz");
  EXPECT_EQ(zones.Classify(Ip("10.2.0.1")), "corp");
  EXPECT_EQ(zones.Classify(Ip("::ffff:10.2.0.1")), "corp");
  EXPECT_EQ(zones.Classify(Ip("2001:db8:1::9")), "corp");
  EXPECT_EQ(zones.Classify(Ip("203.0.113.50")), "office");
  EXPECT_EQ(zones.Classify(Ip("192.168.1.1")), "internal");
  EXPECT_EQ(zones.Classify(Ip("198.51.100.1")), "external");
}

}  // namespace
}  // namespace connwatch
