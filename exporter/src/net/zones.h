// Peer zones: which part of the world a remote address is in. Policy zones (named CIDR
// sets) are matched first, in order; then the built-in zones.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/cidr.h"
#include "net/ip_address.h"

namespace connwatch {

inline constexpr const char* kZoneLoopback = "loopback";
inline constexpr const char* kZoneLinkLocal = "link_local";
inline constexpr const char* kZoneMulticast = "multicast";
inline constexpr const char* kZoneInternal = "internal";
inline constexpr const char* kZoneExternal = "external";

// The built-in zone names, in matching order, "external" (everything else) last.
std::span<const char* const> BuiltinZoneNames();
bool IsBuiltinZoneName(std::string_view name);

struct Zone {
  std::string name;
  std::vector<Cidr> cidrs;
};

class ZoneClassifier {
 public:
  // `policy_zones` come before the built-ins, first match wins.
  explicit ZoneClassifier(std::vector<Zone> policy_zones = {});

  // IPv4-mapped IPv6 addresses are classified as IPv4. Always returns a zone name.
  const std::string& Classify(const IpAddress& address) const;

  static const std::vector<Zone>& BuiltinZones();

 private:
  std::vector<Zone> zones_;  // policy zones, then built-ins, then the catch-all
  std::string external_ = kZoneExternal;
};

}  // namespace connwatch
