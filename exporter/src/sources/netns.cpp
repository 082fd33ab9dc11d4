#include "sources/netns.h"

#include <algorithm>
#include <charconv>

namespace connwatch {
namespace {

// The fields of one "NAME: key value key value ..." line, if `text` has a line starting so.
std::optional<std::string_view> LineAfter(std::string_view text, std::string_view prefix) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    std::string_view line = text.substr(at, end == std::string_view::npos ? end : end - at);
    if (line.substr(0, prefix.size()) == prefix) return line.substr(prefix.size());
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return std::nullopt;
}

// The number after ` key ` in a sockstat line's fields.
std::optional<uint64_t> FieldValue(std::string_view fields, std::string_view key) {
  size_t at = 0;
  while (at < fields.size()) {
    while (at < fields.size() && fields[at] == ' ') ++at;
    size_t key_end = fields.find(' ', at);
    if (key_end == std::string_view::npos) return std::nullopt;
    size_t value_start = key_end + 1;
    size_t value_end = fields.find(' ', value_start);
    if (value_end == std::string_view::npos) value_end = fields.size();
    if (fields.substr(at, key_end - at) == key) {
      uint64_t value = 0;
      const char* first = fields.data() + value_start;
      const char* last = fields.data() + value_end;
      auto [ptr, ec] = std::from_chars(first, last, value);
      if (ec != std::errc() || ptr != last || first == last) return std::nullopt;
      return value;
    }
    at = value_end;
  }
  return std::nullopt;
}

}  // namespace

std::optional<SockstatCounts> ParseSockstat(std::string_view sockstat, std::string_view sockstat6) {
  std::optional<std::string_view> tcp = LineAfter(sockstat, "TCP:");
  if (!tcp) return std::nullopt;
  std::optional<uint64_t> inuse = FieldValue(*tcp, "inuse");
  std::optional<uint64_t> time_wait = FieldValue(*tcp, "tw");
  if (!inuse || !time_wait) return std::nullopt;
  SockstatCounts counts;
  counts.tcp_inuse = *inuse;
  counts.time_wait = *time_wait;
  if (std::optional<std::string_view> tcp6 = LineAfter(sockstat6, "TCP6:")) {
    std::optional<uint64_t> inuse6 = FieldValue(*tcp6, "inuse");
    if (!inuse6) return std::nullopt;
    counts.tcp6_inuse = *inuse6;
  }
  return counts;
}

TcpDumpPlan PlanTcpDump(const std::optional<SockstatCounts>& counts) {
  if (!counts) return TcpDumpPlan::kAll;
  if (counts->tcp_inuse + counts->tcp6_inuse + counts->time_wait == 0) return TcpDumpPlan::kNone;
  return TcpDumpPlan::kListenersFirst;
}

bool ListenersAreAll(const SockstatCounts& counts, size_t listeners) {
  return counts.time_wait == 0 && counts.tcp_inuse + counts.tcp6_inuse <= listeners;
}

std::optional<TcpCounters> ParseSnmpTcp(std::string_view snmp) {
  // Two lines start with "Tcp:": the names, then the values, in the same order.
  std::optional<std::string_view> names = LineAfter(snmp, "Tcp:");
  if (!names) return std::nullopt;
  size_t after_names = names->data() + names->size() - snmp.data();
  std::optional<std::string_view> values = LineAfter(snmp.substr(after_names), "Tcp:");
  if (!values) return std::nullopt;
  auto words = [](std::string_view line) {
    std::vector<std::string_view> out;
    size_t at = 0;
    while (at < line.size()) {
      while (at < line.size() && line[at] == ' ') ++at;
      size_t end = line.find(' ', at);
      if (end == std::string_view::npos) end = line.size();
      if (end > at) out.push_back(line.substr(at, end - at));
      at = end;
    }
    return out;
  };
  std::vector<std::string_view> keys = words(*names), numbers = words(*values);
  if (keys.size() != numbers.size()) return std::nullopt;
  TcpCounters counters;
  const std::pair<std::string_view, uint64_t*> wanted[] = {
      {"ActiveOpens", &counters.active_opens},
      {"PassiveOpens", &counters.passive_opens},
      {"AttemptFails", &counters.attempt_fails},
      {"EstabResets", &counters.estab_resets},
      {"CurrEstab", &counters.curr_estab}};
  for (const auto& [key, field] : wanted) {
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) return std::nullopt;
    std::string_view number = numbers[static_cast<size_t>(it - keys.begin())];
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), *field);
    if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
  }
  return counters;
}

bool CanReuseConnections(const std::optional<TcpSignature>& last,
                         const std::optional<TcpSignature>& now, uint32_t samples_since_full,
                         uint32_t full_every) {
  return last && now && *last == *now && samples_since_full + 1 < full_every;
}

size_t CountTcpListeners(const std::vector<Socket>& sockets, size_t from) {
  size_t listeners = 0;
  for (size_t i = from; i < sockets.size(); ++i) {
    listeners +=
        sockets[i].transport == Transport::kTcp && sockets[i].state == SocketState::kListen;
  }
  return listeners;
}

std::string NetnsLabel(std::string_view pinned_name, std::string_view container_id,
                       uint64_t inode) {
  if (!pinned_name.empty()) return std::string(pinned_name);
  if (!container_id.empty()) return std::string(container_id.substr(0, 12));
  return "inode:" + std::to_string(inode);
}

bool IsPinName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == '/') return false;
  }
  return true;
}

}  // namespace connwatch
