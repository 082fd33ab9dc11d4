#include "http/listen_address.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

ListenAddress Parsed(const std::string& text) {
  ListenAddress address;
  std::string error;
  EXPECT_TRUE(ParseListenAddress(text, address, error)) << text << ": " << error;
  return address;
}

std::string Refused(const std::string& text) {
  ListenAddress address;
  std::string error;
  EXPECT_FALSE(ParseListenAddress(text, address, error)) << text;
  return error;
}

TEST(ListenAddressTest, ReadsEveryFormExporterToolkitTakes) {
  ListenAddress any = Parsed(":10107");
  EXPECT_TRUE(any.ipv6 && any.dual_stack && any.any_address);
  EXPECT_EQ(any.host, "::");
  EXPECT_EQ(any.port, 10107);
  ListenAddress v4 = Parsed("127.0.0.1:0");
  EXPECT_FALSE(v4.ipv6);
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 0);
  EXPECT_EQ(Parsed("localhost:9").host, "127.0.0.1");
  ListenAddress loopback6 = Parsed("[::1]:9100");
  EXPECT_TRUE(loopback6.ipv6);
  EXPECT_FALSE(loopback6.dual_stack);
  EXPECT_EQ(loopback6.host, "::1");
  ListenAddress all6 = Parsed("[::]:9100");
  EXPECT_TRUE(all6.ipv6 && all6.dual_stack);
  EXPECT_FALSE(all6.any_address);
  EXPECT_EQ(Parsed("[fe80::1]:1").host, "fe80::1");
  EXPECT_EQ(Parsed("0.0.0.0:65535").port, 65535);
}

TEST(ListenAddressTest, RefusesWhatCannotBeListenedOn) {
  EXPECT_NE(Refused("10107").find("HOST:PORT"), std::string::npos);
  EXPECT_NE(Refused(":70000").find("port"), std::string::npos);
  Refused(":http");
  Refused(":");
  Refused(":-1");
  Refused("example.com:80");
  Refused("[::1:80");
  Refused("[127.0.0.1]:80");
  Refused("[::g]:80");
  Refused("256.0.0.1:80");
  EXPECT_NE(Refused("::1:80").find("brackets"), std::string::npos);
}

TEST(ListenAddressTest, WritesIpv6InBrackets) {
  EXPECT_EQ(FormatHostPort("::1", 9), "[::1]:9");
  EXPECT_EQ(FormatHostPort("::", 80), "[::]:80");
  EXPECT_EQ(FormatHostPort("127.0.0.1", 10107), "127.0.0.1:10107");
}

}  // namespace
}  // namespace connwatch
