// Ports: ranges (a policy rule's ports, the kernel's ephemeral range), sets, and the facts
// that tell a UDP server's port from one the kernel handed a client.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string_view>

namespace connwatch {

// An inclusive port range; the default holds every port.
struct PortRange {
  uint16_t low = 0;
  uint16_t high = 65535;

  bool Contains(uint16_t port) const { return port >= low && port <= high; }
  bool IsAny() const { return low == 0 && high == 65535; }
  bool operator==(const PortRange&) const = default;
};

using PortSet = std::bitset<65536>;

// Which ports the kernel hands out to sockets bound to port 0 (ip-sysctl.rst:
// ip_local_port_range, ip_local_reserved_ports).
struct EphemeralPorts {
  PortRange range{32768, 60999};  // the kernel's defaults
  PortSet reserved;
};

// Decimal digits only, 0-65535 ("80"; not "+80", " 80" or "080x").
std::optional<uint16_t> ParsePortNumber(std::string_view text);

}  // namespace connwatch
