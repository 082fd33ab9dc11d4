// IP addresses: parsing and formatting both families, v4-mapped addresses, the scope tests
// and the names and hash the other layers use.
#include "net/ip_address.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace connwatch {
namespace {

IpAddress Ip(const char* text) {
  std::optional<IpAddress> address = ParseIpAddress(text);
  EXPECT_TRUE(address) << text;
  return address.value_or(IpAddress{});
}

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  EXPECT_EQ(FormatIpAddress(Ip("192.168.1.20")), "192.168.1.20");
  EXPECT_EQ(FormatIpAddress(Ip("2001:db8::1")), "2001:db8::1");
  EXPECT_EQ(Ip("10.1.2.3").bytes[0], 10);
  EXPECT_EQ(Ip("10.1.2.3").bytes[3], 3);
  EXPECT_FALSE(ParseIpAddress("10.1.2"));
  EXPECT_FALSE(ParseIpAddress("example.com"));
  EXPECT_FALSE(ParseIpAddress(""));
}

TEST(IpAddressTest, UnmapsOnlyV4MappedAddresses) {
  EXPECT_EQ(UnmapV4(Ip("::ffff:10.1.2.3")), Ip("10.1.2.3"));
  EXPECT_EQ(UnmapV4(Ip("::10.1.2.3")), Ip("::10.1.2.3")) << "v4-compatible is not mapped";
  EXPECT_EQ(UnmapV4(Ip("2001:db8::1")), Ip("2001:db8::1"));
  EXPECT_EQ(UnmapV4(Ip("10.1.2.3")), Ip("10.1.2.3"));
  EXPECT_TRUE(IsUnspecified(Ip("0.0.0.0")));
  EXPECT_TRUE(IsUnspecified(Ip("::")));
  EXPECT_FALSE(IsUnspecified(Ip("::1")));
}

TEST(IpAddressTest, FormatsToTheCanonicalText) {
  struct Case {
    std::string text;
    Family family;
    std::string formatted;
  };
  const std::vector<Case> cases = {
      {"0.0.0.0", Family::kIpv4, "0.0.0.0"},
      {"255.255.255.255", Family::kIpv4, "255.255.255.255"},
      {"127.0.0.1", Family::kIpv4, "127.0.0.1"},
      {"::", Family::kIpv6, "::"},
      {"::1", Family::kIpv6, "::1"},
      {"fe80::1", Family::kIpv6, "fe80::1"},
      {"2001:DB8::A", Family::kIpv6, "2001:db8::a"},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", Family::kIpv6, "2001:db8::1"},
      {"2001:db8:0:0:1:0:0:1", Family::kIpv6, "2001:db8::1:0:0:1"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Family::kIpv6,
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      {"::ffff:10.1.2.3", Family::kIpv6, "::ffff:10.1.2.3"},
      {"::ffff:a01:203", Family::kIpv6, "::ffff:10.1.2.3"},
  };
  for (const Case& test : cases) {
    std::optional<IpAddress> address = ParseIpAddress(test.text);
    ASSERT_TRUE(address) << test.text;
    EXPECT_EQ(address->family, test.family) << test.text;
    EXPECT_EQ(FormatIpAddress(*address), test.formatted) << test.text;
    // The formatted text parses back to the same address.
    EXPECT_EQ(ParseIpAddress(test.formatted), address) << test.text;
  }
}

TEST(IpAddressTest, KeepsTheBytesInNetworkOrder) {
  IpAddress v4 = Ip("192.0.2.200");
  EXPECT_EQ(v4.family, Family::kIpv4);
  EXPECT_EQ(v4.bytes, (std::array<uint8_t, 16>{192, 0, 2, 200}))
      << "an IPv4 address fills bytes[0..3], the rest stay zero";
  IpAddress v6 = Ip("2001:db8::ff01");
  EXPECT_EQ(v6.family, Family::kIpv6);
  EXPECT_EQ(v6.bytes, (std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                               0xff, 1}));
}

TEST(IpAddressTest, RejectsWhatIsNotExactlyOneAddress) {
  for (const std::string& text : {
           std::string(""),
           std::string("1.2.3"),
           std::string("1.2.3.4.5"),
           std::string("256.0.0.1"),
           std::string("1.2.3.-4"),
           std::string("01.2.3.4"),
           std::string("0x7f.0.0.1"),
           std::string("127.1"),
           std::string(" 1.2.3.4"),
           std::string("1.2.3.4 "),
           std::string("1.2.3.4\n"),
           std::string("1.2.3.4/32"),
           std::string("1.2.3.4:80"),
           std::string("[::1]"),
           std::string("::1%lo"),
           std::string("1::2::3"),
           std::string("gggg::1"),
           std::string("1:2:3:4:5:6:7:8:9"),
           std::string(":::"),
           std::string("localhost"),
           // The whole text is the address: nothing after a NUL is ignored.
           std::string("127.0.0.1\0junk", 14),
           std::string("::1\0", 4),
           std::string("\0", 1),
       }) {
    EXPECT_FALSE(ParseIpAddress(text)) << "\"" << text << "\" (" << text.size() << " bytes)";
  }
}

TEST(IpAddressTest, UnmapsTheWholeMappedRange) {
  EXPECT_EQ(UnmapV4(Ip("::ffff:0.0.0.0")), Ip("0.0.0.0"));
  EXPECT_EQ(UnmapV4(Ip("::ffff:255.255.255.255")), Ip("255.255.255.255"));
  EXPECT_EQ(UnmapV4(Ip("::fffe:10.1.2.3")), Ip("::fffe:10.1.2.3"));
  EXPECT_EQ(UnmapV4(Ip("1::ffff:10.1.2.3")), Ip("1::ffff:10.1.2.3"));
  EXPECT_EQ(UnmapV4(Ip("::ff:ffff:10.1.2.3")), Ip("::ff:ffff:10.1.2.3"));
  EXPECT_EQ(UnmapV4(Ip("64:ff9b::10.1.2.3")), Ip("64:ff9b::10.1.2.3")) << "NAT64 is not mapped";
}

TEST(IpAddressTest, UnspecifiedIsAllZeroOfEitherFamily) {
  EXPECT_TRUE(IsUnspecified(Ip("0.0.0.0")));
  EXPECT_TRUE(IsUnspecified(Ip("::")));
  EXPECT_FALSE(IsUnspecified(Ip("0.0.0.1")));
  EXPECT_FALSE(IsUnspecified(Ip("0.1.0.0")));
  EXPECT_FALSE(IsUnspecified(Ip("::ffff:0.0.0.0"))) << "mapped: unmap first";
  EXPECT_FALSE(IsUnspecified(Ip("8000::")));
}

TEST(IpAddressTest, LoopbackIs127Slash8OrColonColon1) {
  struct Case {
    const char* text;
    bool loopback;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1", true},
      {"127.0.0.0", true},
      {"127.255.255.255", true},
      {"127.1.2.3", true},
      {"::1", true},
      {"128.0.0.1", false},
      {"126.255.255.255", false},
      {"0.0.0.0", false},
      {"10.0.0.1", false},
      {"1.0.0.127", false},
      {"::", false},
      {"::2", false},
      {"1::1", false},
      {"::1:1", false},
      {"::127.0.0.1", false},
      {"::ffff:127.0.0.1", false},  // callers unmap first
      {"fe80::1", false},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(IsLoopback(Ip(test.text)), test.loopback) << test.text;
  }
  EXPECT_TRUE(IsLoopback(UnmapV4(Ip("::ffff:127.0.0.1"))));
  EXPECT_TRUE(IsLoopback(UnmapV4(Ip("::ffff:127.9.9.9"))));
  EXPECT_FALSE(IsLoopback(UnmapV4(Ip("::ffff:128.0.0.1"))));
}

TEST(IpAddressTest, TransportAndFamilyNames) {
  EXPECT_STREQ(TransportName(Transport::kTcp), "tcp");
  EXPECT_STREQ(TransportName(Transport::kUdp), "udp");
  EXPECT_STREQ(FamilyName(Family::kIpv4), "ipv4");
  EXPECT_STREQ(FamilyName(Family::kIpv6), "ipv6");
}

size_t HashOf(const IpAddress& address, size_t seed = 0) {
  HashCombineAddress(seed, address);
  return seed;
}

TEST(IpAddressTest, EqualAddressesHashEqual) {
  EXPECT_EQ(HashOf(Ip("10.1.2.3")), HashOf(Ip("10.1.2.3")));
  EXPECT_EQ(HashOf(Ip("2001:db8::1")), HashOf(Ip("2001:0db8:0:0::1")));
  EXPECT_EQ(HashOf(Ip("::1"), 42), HashOf(Ip("::1"), 42));
}

TEST(IpAddressTest, DifferentAddressesHashDifferently) {
  EXPECT_NE(HashOf(Ip("10.1.2.3")), HashOf(Ip("10.1.2.4")));
  EXPECT_NE(HashOf(Ip("2001:db8::1")), HashOf(Ip("2001:db8::2"))) << "the last byte counts";
  EXPECT_NE(HashOf(Ip("2001:db8::1")), HashOf(Ip("2001:db9::1"))) << "the first half counts";
  EXPECT_NE(HashOf(Ip("::1"), 1), HashOf(Ip("::1"), 2)) << "the seed counts";
  // The same bytes in the other family.
  EXPECT_NE(HashOf(Ip("0.0.0.0")), HashOf(Ip("::")));
  IpAddress v4 = Ip("10.1.2.3");
  IpAddress same_bytes_v6 = v4;
  same_bytes_v6.family = Family::kIpv6;
  EXPECT_NE(HashOf(v4), HashOf(same_bytes_v6));
  // No collisions over a few thousand neighbours of either family.
  std::set<size_t> hashes;
  size_t count = 0;
  for (int a = 0; a < 16; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string suffix = std::to_string(a) + "." + std::to_string(b);
      hashes.insert(HashOf(Ip(("10.0." + suffix).c_str())));
      hashes.insert(HashOf(Ip(("::ffff:10.0." + suffix).c_str())));
      count += 2;
    }
  }
  EXPECT_EQ(hashes.size(), count);
}

}  // namespace
}  // namespace connwatch
