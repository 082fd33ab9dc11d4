// The sysctl files connwatch reads under <procfs>/sys (ip-sysctl.rst, nf_conntrack-sysctl.rst,
// random(4)): which ports the kernel hands out to unbound sockets (to tell a UDP server from a
// UDP client socket), whether conntrack records flow start times, and which boot this is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/ports.h"

namespace connwatch {

// net/ipv4/ip_local_port_range: "32768\t60999\n"
std::optional<PortRange> ParseLocalPortRange(std::string_view text);
// net/ipv4/ip_local_reserved_ports: "8080,9000-9010\n" or "\n"
std::optional<PortSet> ParseReservedPorts(std::string_view text);

// Falls back to the kernel defaults (and an empty reserved set) when unreadable, e.g. on a
// procfs without sys/ (a test tree): the answer only refines the UDP listener rule.
EphemeralPorts ReadEphemeralPorts(const std::string& procfs);

// net/netfilter/nf_conntrack_timestamp is "1". Per network namespace; absent when
// nf_conntrack is not loaded (then there are no timestamps either).
bool ReadConntrackTimestampsEnabled(const std::string& procfs);

// A boot id is one token of printable bytes: the kernel's is a UUID.
bool IsValidBootId(std::string_view id);
// kernel/random/boot_id without the newline; "" when unreadable or not one printable word
// (state persisted under an unknown boot is then never trusted).
std::string ReadBootId(const std::string& procfs);

}  // namespace connwatch
