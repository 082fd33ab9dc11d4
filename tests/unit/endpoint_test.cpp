// FormatEndpoint: an address and a port as people read them.
#include "net/endpoint.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace connwatch {
namespace {

TEST(EndpointTest, FormatsEachFamilyAndPort) {
  struct Case {
    const char* address;
    uint16_t port;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1", 22, "127.0.0.1:22"},
      {"192.0.2.200", 65535, "192.0.2.200:65535"},
      {"10.0.0.1", 1, "10.0.0.1:1"},
      {"0.0.0.0", 0, "0.0.0.0:*"},
      {"127.0.0.1", 0, "127.0.0.1:*"},
      {"::1", 8080, "[::1]:8080"},
      {"::", 0, "[::]:*"},
      {"2001:db8::1", 443, "[2001:db8::1]:443"},
      {"fe80::1", 546, "[fe80::1]:546"},
      // A v4-mapped address is still an IPv6 one: in brackets, as the kernel reported it.
      {"::ffff:10.1.2.3", 443, "[::ffff:10.1.2.3]:443"},
      {"::ffff:10.1.2.3", 0, "[::ffff:10.1.2.3]:*"},
  };
  for (const Case& test : cases) {
    std::optional<IpAddress> address = ParseIpAddress(test.address);
    ASSERT_TRUE(address) << test.address;
    EXPECT_EQ(FormatEndpoint(*address, test.port), test.expected);
  }
}

TEST(EndpointTest, AnUnmappedAddressIsFormattedAsIpv4) {
  EXPECT_EQ(FormatEndpoint(UnmapV4(*ParseIpAddress("::ffff:10.1.2.3")), 443), "10.1.2.3:443");
}

}  // namespace
}  // namespace connwatch
