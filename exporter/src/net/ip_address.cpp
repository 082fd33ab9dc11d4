#include "net/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace connwatch {

const char* TransportName(Transport transport) {
  return transport == Transport::kTcp ? "tcp" : "udp";
}

const char* FamilyName(Family family) { return family == Family::kIpv4 ? "ipv4" : "ipv6"; }

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  // inet_pton reads a C string: a NUL would end the address early and quietly drop the rest
  // ("127.0.0.1\0junk", which a YAML "\0" escape can spell, would read as 127.0.0.1).
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string copy(text);
  IpAddress address;
  if (inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) {
    address.family = Family::kIpv4;
    return address;
  }
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) == 1) {
    address.family = Family::kIpv6;
    return address;
  }
  return std::nullopt;
}

std::string FormatIpAddress(const IpAddress& address) {
  char buffer[INET6_ADDRSTRLEN];
  int af = address.family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, address.bytes.data(), buffer, sizeof(buffer)) == nullptr) return "?";
  return buffer;
}

IpAddress UnmapV4(const IpAddress& address) {
  if (address.family != Family::kIpv6) return address;
  for (int i = 0; i < 10; ++i) {
    if (address.bytes[i] != 0) return address;
  }
  if (address.bytes[10] != 0xff || address.bytes[11] != 0xff) return address;
  IpAddress v4;
  v4.family = Family::kIpv4;
  for (int i = 0; i < 4; ++i) v4.bytes[i] = address.bytes[12 + i];
  return v4;
}

bool IsUnspecified(const IpAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.end(),
                     [](uint8_t byte) { return byte == 0; });
}

bool IsLoopback(const IpAddress& address) {
  if (address.family == Family::kIpv4) return address.bytes[0] == 127;
  return std::all_of(address.bytes.begin(), address.bytes.end() - 1,
                     [](uint8_t byte) { return byte == 0; }) &&
         address.bytes[15] == 1;
}

}  // namespace connwatch
