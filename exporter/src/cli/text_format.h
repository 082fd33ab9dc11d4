// Output helpers shared by the one-shot commands: names escaped so that no process name
// can forge table rows or break JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model.h"

namespace connwatch {

// Printable ASCII stays; every other byte (and '\') is shown as \xNN.
std::string Printable(std::string_view text);
// A JSON string literal; invalid UTF-8 becomes U+FFFD.
std::string JsonString(std::string_view raw);
// "127.0.0.1:22", "[::1]:8080", "0.0.0.0:*" (port 0).
std::string Endpoint(const IpAddress& address, uint16_t port);
// Left-aligned columns, two spaces apart; the first row is the header.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace connwatch
