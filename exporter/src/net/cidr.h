// CIDR prefixes: parsing, printing, matching. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/ip_address.h"

namespace connwatch {

struct Cidr {
  IpAddress network;  // host bits cleared
  int prefix_length = 0;

  bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "fc00::/7"; a bare address is a host prefix. Rejects set host bits
// ("10.0.0.1/8") because such a typo usually means the wrong network.
std::optional<Cidr> ParseCidr(std::string_view text);
// Why ParseCidr refuses `text`, for a message: the network meant when only host bits are
// set ("invalid CIDR "10.0.0.1/8": host bits are set (the network is 10.0.0.0/8)").
std::string CidrProblem(std::string_view text);
std::string FormatCidr(const Cidr& cidr);

// Family must match; callers unmap first.
bool CidrContains(const Cidr& cidr, const IpAddress& address);

}  // namespace connwatch
