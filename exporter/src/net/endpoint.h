// An address and a port as people read them.
#pragma once

#include <cstdint>
#include <string>

#include "net/ip_address.h"

namespace connwatch {

// "127.0.0.1:22", "[::1]:8080"; port 0 (none) as "*": "0.0.0.0:*".
std::string FormatEndpoint(const IpAddress& address, uint16_t port);

}  // namespace connwatch
