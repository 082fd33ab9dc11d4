#include "http/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace connwatch {
namespace {

bool ParsePort(std::string_view text, uint16_t& port) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

bool IsAddress(int family, const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(family, host.c_str(), buffer) == 1;
}

}  // namespace

bool ParseListenAddress(std::string_view text, ListenAddress& out, std::string& error) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    error = "listen address must be HOST:PORT, [IPv6]:PORT or :PORT";
    return false;
  }
  std::string_view host = text.substr(0, colon);
  ListenAddress address;
  if (!ParsePort(text.substr(colon + 1), address.port)) {
    error = "invalid port in listen address";
    return false;
  }
  if (host.empty()) {
    address.ipv6 = true;
    address.host = "::";
    address.dual_stack = true;
    address.any_address = true;
  } else if (host.starts_with('[') && host.ends_with(']')) {
    address.ipv6 = true;
    address.host = std::string(host.substr(1, host.size() - 2));
    if (!IsAddress(AF_INET6, address.host)) {
      error = "invalid IPv6 address in listen address";
      return false;
    }
    address.dual_stack = address.host == "::";
  } else if (host == "localhost") {
    address.host = "127.0.0.1";
  } else if (IsAddress(AF_INET, std::string(host))) {
    address.host = std::string(host);
  } else {
    error = host.find(':') != std::string_view::npos
                ? "an IPv6 listen address must be in brackets: [::1]:PORT"
                : "listen host must be an IP address, localhost, or empty";
    return false;
  }
  out = address;
  return true;
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  std::string text =
      host.find(':') != std::string_view::npos ? "[" + std::string(host) + "]" : std::string(host);
  return text + ":" + std::to_string(port);
}

}  // namespace connwatch
