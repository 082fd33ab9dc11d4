#include "policy/cidr.h"

#include <arpa/inet.h>

#include <charconv>

namespace connwatch {

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
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

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  auto address = ParseIpAddress(text.substr(0, slash));
  if (!address) return std::nullopt;
  int max_length = address->family == Family::kIpv4 ? 32 : 128;
  int length = max_length;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || length < 0 ||
        length > max_length) {
      return std::nullopt;
    }
  }
  Cidr cidr{*address, length};
  // Reject host bits: the network address must equal the address masked to its prefix.
  for (int bit = length; bit < max_length; ++bit) {
    if (address->bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return cidr;
}

std::string FormatIpAddress(const IpAddress& address) {
  char buffer[INET6_ADDRSTRLEN];
  int af = address.family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, address.bytes.data(), buffer, sizeof(buffer)) == nullptr) return "?";
  return buffer;
}

std::string FormatCidr(const Cidr& cidr) {
  return FormatIpAddress(cidr.network) + "/" + std::to_string(cidr.prefix_length);
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
  for (uint8_t byte : address.bytes) {
    if (byte != 0) return false;
  }
  return true;
}

bool CidrContains(const Cidr& cidr, const IpAddress& address) {
  if (cidr.network.family != address.family) return false;
  int full_bytes = cidr.prefix_length / 8;
  for (int i = 0; i < full_bytes; ++i) {
    if (cidr.network.bytes[i] != address.bytes[i]) return false;
  }
  int rest = cidr.prefix_length % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (cidr.network.bytes[full_bytes] & mask) == (address.bytes[full_bytes] & mask);
}

}  // namespace connwatch
