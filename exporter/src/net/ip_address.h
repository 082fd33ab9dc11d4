// IP addresses and the transport protocols connwatch watches: the vocabulary every layer
// speaks (sources fill them in, the policy matches them, metrics and the CLI print them).
// Pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "base/hash_combine.h"

namespace connwatch {

enum class Transport : uint8_t { kTcp, kUdp };
enum class Family : uint8_t { kIpv4, kIpv6 };

// "tcp", "udp"; "ipv4", "ipv6": label values and the CLI's columns.
const char* TransportName(Transport transport);
const char* FamilyName(Family family);

// An IP address in network byte order. IPv4 uses bytes[0..3]; the rest stay zero.
struct IpAddress {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes{};

  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;
};

std::optional<IpAddress> ParseIpAddress(std::string_view text);
std::string FormatIpAddress(const IpAddress& address);

// ::ffff:a.b.c.d -> a.b.c.d; other addresses unchanged. Dual-stack sockets report IPv4
// peers this way, and they must be classified as the IPv4 peers they are.
IpAddress UnmapV4(const IpAddress& address);
bool IsUnspecified(const IpAddress& address);  // 0.0.0.0 or ::
bool IsLoopback(const IpAddress& address);     // 127/8 or ::1; callers unmap first

// Mixes the address into `seed` (the connection tables' tuple keys).
inline void HashCombineAddress(size_t& seed, const IpAddress& address) {
  uint64_t halves[2];
  static_assert(sizeof(halves) == sizeof(address.bytes));
  std::memcpy(halves, address.bytes.data(), sizeof(halves));
  HashCombine(seed, static_cast<uint64_t>(address.family));
  HashCombine(seed, halves[0]);
  HashCombine(seed, halves[1]);
}

}  // namespace connwatch
