// IP addresses and CIDR prefixes: parsing, printing, matching. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model.h"

namespace connwatch {

struct Cidr {
  IpAddress network;  // host bits cleared
  int prefix_length = 0;

  bool operator==(const Cidr&) const = default;
};

std::optional<IpAddress> ParseIpAddress(std::string_view text);
// "10.0.0.0/8", "fc00::/7"; a bare address is a host prefix. Rejects set host bits
// ("10.0.0.1/8") because such a typo usually means the wrong network.
std::optional<Cidr> ParseCidr(std::string_view text);
std::string FormatIpAddress(const IpAddress& address);
std::string FormatCidr(const Cidr& cidr);

// ::ffff:a.b.c.d -> a.b.c.d; other addresses unchanged. Dual-stack sockets report IPv4
// peers this way, and they must be classified as the IPv4 peers they are.
IpAddress UnmapV4(const IpAddress& address);
bool IsUnspecified(const IpAddress& address);  // 0.0.0.0 or ::

// Family must match; callers unmap first.
bool CidrContains(const Cidr& cidr, const IpAddress& address);

}  // namespace connwatch
