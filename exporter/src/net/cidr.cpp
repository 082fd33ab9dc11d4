#include "net/cidr.h"

#include <charconv>

#include "base/text.h"

namespace connwatch {
namespace {

// "address[/length]" with a length that fits the family; host bits not checked.
std::optional<Cidr> ParseUnmasked(std::string_view text) {
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
  return Cidr{*address, length};
}

int MaxLength(const IpAddress& address) { return address.family == Family::kIpv4 ? 32 : 128; }

}  // namespace

std::optional<Cidr> ParseCidr(std::string_view text) {
  std::optional<Cidr> cidr = ParseUnmasked(text);
  if (!cidr) return std::nullopt;
  // Reject host bits: the network address must equal the address masked to its prefix.
  for (int bit = cidr->prefix_length; bit < MaxLength(cidr->network); ++bit) {
    if (cidr->network.bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return cidr;
}

std::string CidrProblem(std::string_view text) {
  std::optional<Cidr> unmasked = ParseUnmasked(text);
  if (unmasked && text.find('/') != std::string_view::npos) {
    Cidr network = *unmasked;
    for (int bit = network.prefix_length; bit < MaxLength(network.network); ++bit) {
      network.network.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    }
    return "invalid CIDR " + QuoteBytes(text) + ": host bits are set (the network is " +
           FormatCidr(network) + ")";
  }
  return "invalid CIDR " + QuoteBytes(text) + "; expected an address/prefix like 10.0.0.0/8";
}

std::string FormatCidr(const Cidr& cidr) {
  return FormatIpAddress(cidr.network) + "/" + std::to_string(cidr.prefix_length);
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
