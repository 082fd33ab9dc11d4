#include "sources/proc_sys.h"

#include <algorithm>
#include <cctype>

#include "base/read_file.h"

namespace connwatch {
namespace {

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::optional<uint16_t> ParsePort(std::string_view text) { return ParsePortNumber(Trim(text)); }

// The file's text without surrounding white space; nullopt when it cannot be read.
std::optional<std::string> ReadSysctl(const std::string& procfs, const char* name) {
  std::string text;
  if (ReadFileCapped(procfs + "/sys/" + name, kMaxSmallProcFileBytes, text) != 0) {
    return std::nullopt;
  }
  return std::string(Trim(text));
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
  if (auto text = ReadSysctl(procfs, "net/ipv4/ip_local_port_range")) {
    if (auto range = ParseLocalPortRange(*text)) result.range = *range;
  }
  if (auto text = ReadSysctl(procfs, "net/ipv4/ip_local_reserved_ports")) {
    if (auto reserved = ParseReservedPorts(*text)) result.reserved = *reserved;
  }
  return result;
}

bool ReadConntrackTimestampsEnabled(const std::string& procfs) {
  return ReadSysctl(procfs, "net/netfilter/nf_conntrack_timestamp") == "1";
}

bool IsValidBootId(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0;
  });
}

std::string ReadBootId(const std::string& procfs) {
  std::optional<std::string> id = ReadSysctl(procfs, "kernel/random/boot_id");
  return id && IsValidBootId(*id) ? *id : "";
}

}  // namespace connwatch
