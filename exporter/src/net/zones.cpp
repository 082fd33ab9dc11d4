#include "net/zones.h"

#include <algorithm>

namespace connwatch {
namespace {

std::vector<Cidr> ParseAll(std::initializer_list<const char*> texts) {
  std::vector<Cidr> cidrs;
  for (const char* text : texts) cidrs.push_back(*ParseCidr(text));
  return cidrs;
}

constexpr const char* kBuiltinZoneNames[] = {kZoneLoopback, kZoneLinkLocal, kZoneMulticast,
                                             kZoneInternal, kZoneExternal};

}  // namespace

std::span<const char* const> BuiltinZoneNames() { return kBuiltinZoneNames; }

bool IsBuiltinZoneName(std::string_view name) {
  return std::any_of(std::begin(kBuiltinZoneNames), std::end(kBuiltinZoneNames),
                     [name](const char* builtin) { return name == builtin; });
}

const std::vector<Zone>& ZoneClassifier::BuiltinZones() {
  // The unspecified address (a peer of 0.0.0.0 or ::) only appears on half-set-up sockets;
  // it is no one's network, so it falls to loopback rather than looking external.
  static const std::vector<Zone> kBuiltins = {
      {kZoneLoopback, ParseAll({"127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"})},
      {kZoneLinkLocal, ParseAll({"169.254.0.0/16", "fe80::/10"})},
      {kZoneMulticast, ParseAll({"224.0.0.0/4", "ff00::/8", "255.255.255.255/32"})},
      {kZoneInternal,
       ParseAll({"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"})},
  };
  return kBuiltins;
}

ZoneClassifier::ZoneClassifier(std::vector<Zone> policy_zones) : zones_(std::move(policy_zones)) {
  for (const Zone& zone : BuiltinZones()) zones_.push_back(zone);
}

const std::string& ZoneClassifier::Classify(const IpAddress& address) const {
  IpAddress unmapped = UnmapV4(address);
  for (const Zone& zone : zones_) {
    for (const Cidr& cidr : zone.cidrs) {
      if (CidrContains(cidr, unmapped)) return zone.name;
    }
  }
  return external_;
}

}  // namespace connwatch
