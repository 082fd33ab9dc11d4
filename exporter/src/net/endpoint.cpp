#include "net/endpoint.h"

namespace connwatch {

std::string FormatEndpoint(const IpAddress& address, uint16_t port) {
  std::string host = FormatIpAddress(address);
  if (address.family == Family::kIpv6) host = "[" + host + "]";
  return host + ":" + (port == 0 ? std::string("*") : std::to_string(port));
}

}  // namespace connwatch
