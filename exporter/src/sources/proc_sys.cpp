#include "sources/proc_sys.h"

#include <charconv>

#include "sources/proc_file.h"

namespace connwatch {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

std::optional<uint16_t> ParsePort(std::string_view text) {
  text = Trim(text);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<PortRange> ParseLocalPortRange(std::string_view text) {
  text = Trim(text);
  size_t split = text.find_first_of(" \t");
  if (split == std::string_view::npos) return std::nullopt;
  auto low = ParsePort(text.substr(0, split));
  auto high = ParsePort(text.substr(split));
  if (!low || !high || *low > *high) return std::nullopt;
  return PortRange{*low, *high};
}

std::optional<PortSet> ParseReservedPorts(std::string_view text) {
  PortSet ports;
  text = Trim(text);
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t dash = item.find('-');
    auto low = ParsePort(item.substr(0, dash));
    auto high = dash == std::string_view::npos ? low : ParsePort(item.substr(dash + 1));
    if (!low || !high || *low > *high) return std::nullopt;
    for (unsigned port = *low; port <= *high; ++port) ports.set(port);
  }
  return ports;
}

EphemeralPorts ReadEphemeralPorts(const std::string& procfs) {
  EphemeralPorts result;
  std::string text;
  if (ReadProcFile(procfs + "/sys/net/ipv4/ip_local_port_range", kMaxSmallProcFileBytes, text) ==
      0) {
    if (auto range = ParseLocalPortRange(text)) result.range = *range;
  }
  if (ReadProcFile(procfs + "/sys/net/ipv4/ip_local_reserved_ports", kMaxSmallProcFileBytes,
                   text) == 0) {
    if (auto reserved = ParseReservedPorts(text)) result.reserved = *reserved;
  }
  return result;
}

}  // namespace connwatch
