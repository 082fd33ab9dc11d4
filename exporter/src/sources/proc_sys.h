// /proc/sys/net/ipv4/ip_local_port_range and ip_local_reserved_ports: which ports the
// kernel hands out to unbound sockets (ip-sysctl.rst). Needed to tell a UDP server from a
// UDP client socket.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace connwatch {

struct PortRange {
  uint16_t low = 32768;  // the kernel's defaults
  uint16_t high = 60999;

  bool Contains(uint16_t port) const { return port >= low && port <= high; }
};

using PortSet = std::bitset<65536>;

// "32768\t60999\n"
std::optional<PortRange> ParseLocalPortRange(std::string_view text);
// "8080,9000-9010\n" or "\n"
std::optional<PortSet> ParseReservedPorts(std::string_view text);

struct EphemeralPorts {
  PortRange range;
  PortSet reserved;
};

// Falls back to the kernel defaults (and an empty reserved set) when unreadable, e.g. on a
// procfs without sys/ (a test tree): the answer only refines the UDP listener rule.
EphemeralPorts ReadEphemeralPorts(const std::string& procfs);

}  // namespace connwatch
