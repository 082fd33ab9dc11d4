// --web.listen-address, as exporter-toolkit reads it: "host:port", ":port" (every address,
// IPv6 and IPv4 on one dual-stack socket, as Go listens), "[::1]:port", "[::]:port"
// (dual-stack). Hosts are numeric addresses or "localhost" (127.0.0.1); names are not
// resolved.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace connwatch {

struct ListenAddress {
  bool ipv6 = false;
  std::string host;         // numeric: "127.0.0.1", "0.0.0.0", "::1", "::"
  uint16_t port = 0;        // 0: the kernel picks one
  bool dual_stack = false;  // an IPv6 socket with IPV6_V6ONLY off ("::" only)
  // ":port" was written: dual-stack where the host has IPv6, else 0.0.0.0.
  bool any_address = false;
};

bool ParseListenAddress(std::string_view text, ListenAddress& out, std::string& error);

// "127.0.0.1:80", "[::1]:80": how the address is written back (logs, bound addresses).
std::string FormatHostPort(std::string_view host, uint16_t port);

}  // namespace connwatch
