#include "tracking/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "atomic_file.h"
#include "policy/cidr.h"
#include "sources/proc_file.h"

namespace connwatch {
namespace {

// Format 1:
//   connwatch-connection-state 1
//   boot_id <id>
//   c <cookie> <start> <source>                                          (sock_diag)
//   i <inode> <t|u> <local> <lport> <remote> <rport> <start> <source>    (procfs)
//   end <count>
// The "end" line and its count tell a complete file from a truncated one.
constexpr std::string_view kHeaderPrefix = "connwatch-connection-state ";
constexpr std::string_view kFormat = "1";

// A full table (kMaxPersistedConnections lines of two IPv6 addresses) is ~30 MB; the cap
// leaves room for that while a runaway or hostile file cannot exhaust memory.
constexpr size_t kMaxStateFileBytes = 64u << 20;

std::string FormatStart(double seconds) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), seconds);
  return ec == std::errc() ? std::string(buffer, end) : "0";
}

template <typename T>
bool ParseUnsigned(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

bool ParseStart(std::string_view text, double& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() &&
         std::isfinite(out) && out >= 0;
}

bool ParseSource(std::string_view text, AgeSource& out) {
  for (AgeSource source :
       {AgeSource::kConntrack, AgeSource::kFirstSeen, AgeSource::kProcessStart}) {
    if (text == AgeSourceName(source)) {
      out = source;
      return true;
    }
  }
  return false;
}

// A boot id is one token of printable bytes: the kernel's is a UUID.
bool ValidBootId(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0;
  });
}

// Single spaces between fields, none leading or trailing: the writer never does otherwise.
bool SplitFields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  while (true) {
    size_t space = line.find(' ');
    std::string_view field = line.substr(0, space);
    if (field.empty()) return false;
    fields.push_back(field);
    if (space == std::string_view::npos) return true;
    line.remove_prefix(space + 1);
  }
}

// One entry line into `key` and `tracked`; "" or what is wrong with it.
std::string ParseEntry(const std::vector<std::string_view>& fields, ConnectionKey& key,
                       TrackedConnection& tracked) {
  key = ConnectionKey();
  size_t rest = 0;
  if (fields[0] == "c") {
    if (fields.size() != 4) return "a cookie entry has 4 fields";
    if (!ParseUnsigned(fields[1], key.cookie) || key.cookie == 0) return "bad cookie";
    rest = 2;
  } else if (fields[0] == "i") {
    if (fields.size() != 9) return "an inode entry has 9 fields";
    if (!ParseUnsigned(fields[1], key.inode)) return "bad inode";
    if (fields[2] == "t") {
      key.transport = Transport::kTcp;
    } else if (fields[2] == "u") {
      key.transport = Transport::kUdp;
    } else {
      return "bad transport (t or u)";
    }
    auto local = ParseIpAddress(fields[3]);
    auto remote = ParseIpAddress(fields[5]);
    if (!local) return "bad local address";
    if (!remote) return "bad remote address";
    key.local = *local;
    key.remote = *remote;
    if (!ParseUnsigned(fields[4], key.local_port)) return "bad local port";
    if (!ParseUnsigned(fields[6], key.remote_port)) return "bad remote port";
    rest = 7;
  } else {
    return "unknown entry type \"" + std::string(fields[0]) + "\"";
  }
  if (!ParseStart(fields[rest], tracked.start_boot_seconds)) return "bad start time";
  if (!ParseSource(fields[rest + 1], tracked.source)) return "bad age source";
  return "";
}

}  // namespace

std::string SerializeTrackerState(const TrackerState& state) {
  using Entry = std::pair<const ConnectionKey, TrackedConnection>;
  std::vector<const Entry*> entries;
  entries.reserve(state.entries.size());
  for (const Entry& entry : state.entries) entries.push_back(&entry);
  // Oldest first, ties broken by the key so that the text is deterministic.
  auto older = [](const Entry* a, const Entry* b) {
    const ConnectionKey& x = a->first;
    const ConnectionKey& y = b->first;
    return std::tie(a->second.start_boot_seconds, x.cookie, x.inode, x.transport, x.local,
                    x.local_port, x.remote, x.remote_port) <
           std::tie(b->second.start_boot_seconds, y.cookie, y.inode, y.transport, y.local,
                    y.local_port, y.remote, y.remote_port);
  };
  if (entries.size() > kMaxPersistedConnections) {
    std::nth_element(entries.begin(), entries.begin() + kMaxPersistedConnections, entries.end(),
                     older);
    entries.resize(kMaxPersistedConnections);
  }
  std::sort(entries.begin(), entries.end(), older);

  std::string text = std::string(kHeaderPrefix) + std::string(kFormat) + "\n";
  text += "boot_id " + state.boot_id + "\n";
  for (const Entry* entry : entries) {
    const ConnectionKey& key = entry->first;
    if (key.cookie != 0) {
      text += "c " + std::to_string(key.cookie);
    } else {
      text += "i " + std::to_string(key.inode) +
              (key.transport == Transport::kUdp ? " u " : " t ") + FormatIpAddress(key.local) +
              " " + std::to_string(key.local_port) + " " + FormatIpAddress(key.remote) + " " +
              std::to_string(key.remote_port);
    }
    text += " " + FormatStart(entry->second.start_boot_seconds) + " " +
            AgeSourceName(entry->second.source) + "\n";
  }
  text += "end " + std::to_string(entries.size()) + "\n";
  return text;
}

std::optional<TrackerState> ParseTrackerState(std::string_view text, std::string& error) {
  error.clear();
  TrackerState state;
  std::vector<std::string_view> fields;
  size_t line_number = 0;
  bool ended = false;
  auto fail = [&](const std::string& what) {
    error = "line " + std::to_string(line_number) + ": " + what;
    return std::nullopt;
  };
  while (!text.empty()) {
    ++line_number;
    size_t newline = text.find('\n');
    if (newline == std::string_view::npos) {
      return fail("no newline at the end (truncated file?)");
    }
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    if (ended) return fail("text after the \"end\" line");
    if (line_number == 1) {
      if (!line.starts_with(kHeaderPrefix)) {
        return fail("not a connwatch connection state file (the first line is not \"" +
                    std::string(kHeaderPrefix) + std::string(kFormat) + "\")");
      }
      std::string_view format = line.substr(kHeaderPrefix.size());
      if (format != kFormat) {
        return fail("format \"" + std::string(format) + "\"; this connwatch reads format " +
                    std::string(kFormat));
      }
      continue;
    }
    if (line_number == 2) {
      constexpr std::string_view kBootId = "boot_id ";
      if (!line.starts_with(kBootId) || !ValidBootId(line.substr(kBootId.size()))) {
        return fail("expected \"boot_id <id>\"");
      }
      state.boot_id = std::string(line.substr(kBootId.size()));
      continue;
    }
    if (!SplitFields(line, fields)) return fail("empty field or stray space");
    if (fields[0] == "end") {
      size_t count = 0;
      if (fields.size() != 2 || !ParseUnsigned(fields[1], count)) {
        return fail("expected \"end <count>\"");
      }
      if (count != state.entries.size()) {
        return fail("the file says " + std::to_string(count) + " entries but holds " +
                    std::to_string(state.entries.size()));
      }
      ended = true;
      continue;
    }
    ConnectionKey key;
    TrackedConnection tracked;
    std::string problem = ParseEntry(fields, key, tracked);
    if (!problem.empty()) return fail(problem);
    if (!state.entries.emplace(key, tracked).second) return fail("duplicate connection");
  }
  if (!ended) {
    ++line_number;
    return fail(line_number == 1   ? "empty file"
                : line_number == 2 ? "no \"boot_id\" line (truncated file?)"
                                   : "no \"end <count>\" line (truncated file?)");
  }
  return state;
}

bool SaveTrackerState(const std::string& path, const TrackerState& state, std::string& error) {
  error.clear();
  // A file that would not load again must not be written.
  if (!ValidBootId(state.boot_id)) {
    error = "cannot save the connection state " + path + ": the boot id \"" + state.boot_id +
            "\" is empty or not one word";
    return false;
  }
  return WriteFileAtomically("the connection state", path, SerializeTrackerState(state), error);
}

std::optional<TrackerState> LoadTrackerState(const std::string& path, std::string& error) {
  error.clear();
  std::string text;
  bool truncated = false;
  // One byte over the cap tells "too big" from "exactly at the cap".
  int read_error = ReadProcFile(path, kMaxStateFileBytes + 1, text, &truncated);
  if (read_error == ENOENT) return std::nullopt;
  if (read_error != 0) {
    error = "cannot read the connection state " + path + ": " + strerror(read_error);
    return std::nullopt;
  }
  if (truncated || text.size() > kMaxStateFileBytes) {
    error = "connection state " + path + " is larger than the limit of " +
            std::to_string(kMaxStateFileBytes) + " bytes; ignoring it";
    return std::nullopt;
  }
  std::string problem;
  auto state = ParseTrackerState(text, problem);
  if (!state) {
    error = "ignoring the connection state " + path + ": " + problem;
    return std::nullopt;
  }
  return state;
}

std::string ReadBootId(const std::string& procfs) {
  std::string text;
  if (ReadProcFile(procfs + "/sys/kernel/random/boot_id", kMaxSmallProcFileBytes, text) != 0) {
    return "";
  }
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  std::string id = text.substr(begin, end - begin + 1);
  // Anything but one printable word is not a boot id; "" makes the tracker refuse any state.
  return ValidBootId(id) ? id : "";
}

}  // namespace connwatch
