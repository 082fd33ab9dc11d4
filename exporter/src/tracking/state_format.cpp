#include "tracking/state_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include "net/ip_address.h"
#include "sources/proc_sys.h"
#include "tracking/connection_ages.h"

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

void AppendKey(std::string& text, const ConnectionKey& key) {
  if (key.cookie != 0) {
    text += "c ";
    text += std::to_string(key.cookie);
  } else {
    text += "i " + std::to_string(key.inode) + (key.transport == Transport::kUdp ? " u " : " t ") +
            FormatIpAddress(key.local) + " " + std::to_string(key.local_port) + " " +
            FormatIpAddress(key.remote) + " " + std::to_string(key.remote_port);
  }
}

void AppendEntry(std::string& text, const ConnectionKey& key, const TrackedConnection& tracked) {
  AppendKey(text, key);
  text += ' ';
  text += FormatStart(tracked.start_boot_seconds);
  text += ' ';
  text += AgeSourceName(tracked.source);
  text += '\n';
}

constexpr std::string_view kJournalHeaderPrefix = "connwatch-connection-journal ";

// FNV-1a, 64 bits: names the snapshot a journal extends. Not a defence against an attacker
// (who could write either file); it tells a journal from an older snapshot's.
uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string Hex16(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

}  // namespace

std::string SerializeTrackerState(const TrackerState& state) {
  // Oldest first, ties broken by the key so that the text is deterministic. Sorted as
  // 16-byte (start, cookie) rows: at 200k entries the rows are the largest part of a save
  // after the text. Procfs keys (cookie 0) are rare and sorted apart by their full key;
  // the two runs are then merged, as one sort of (start, cookie, the rest of the key) would
  // order them.
  struct CookieRow {
    double start;
    uint64_t cookie;
    auto operator<=>(const CookieRow&) const = default;
  };
  struct TupleRow {
    double start;
    const ConnectionKey* key;  // the table's own: stable while it is not changed
    AgeSource source;
  };
  std::vector<CookieRow> cookie_rows;
  std::vector<TupleRow> tuple_rows;
  cookie_rows.reserve(state.entries.size());
  state.entries.ForEach([&](const ConnectionKey& key, const TrackedConnection& tracked) {
    if (key.cookie != 0) {
      cookie_rows.push_back({tracked.start_boot_seconds, key.cookie});
    } else {
      tuple_rows.push_back({tracked.start_boot_seconds, &key, tracked.source});
    }
  });
  auto older_tuple = [](const TupleRow& a, const TupleRow& b) {
    const ConnectionKey& x = *a.key;
    const ConnectionKey& y = *b.key;
    return std::tie(a.start, x.inode, x.transport, x.local, x.local_port, x.remote, x.remote_port) <
           std::tie(b.start, y.inode, y.transport, y.local, y.local_port, y.remote, y.remote_port);
  };
  // The oldest kMaxPersistedConnections of both runs: each run keeps at most that many,
  // the merge below stops there.
  auto keep_oldest = [](auto& rows, auto older) {
    if (rows.size() > kMaxPersistedConnections) {
      std::nth_element(rows.begin(), rows.begin() + kMaxPersistedConnections, rows.end(), older);
      rows.resize(kMaxPersistedConnections);
    }
    std::sort(rows.begin(), rows.end(), older);
  };
  keep_oldest(cookie_rows, std::less<CookieRow>());
  keep_oldest(tuple_rows, older_tuple);

  std::string text = std::string(kHeaderPrefix) + std::string(kFormat) + "\n";
  text += "boot_id " + state.boot_id + "\n";
  size_t total = std::min(kMaxPersistedConnections, cookie_rows.size() + tuple_rows.size());
  text.reserve(text.size() + total * 40);
  size_t next_cookie = 0, next_tuple = 0;
  for (size_t written = 0; written < total; ++written) {
    // At equal starts a procfs key (cookie 0) sorts before any cookie.
    bool cookie_next = next_tuple == tuple_rows.size() ||
                       (next_cookie < cookie_rows.size() &&
                        cookie_rows[next_cookie].start < tuple_rows[next_tuple].start);
    if (cookie_next) {
      const CookieRow& row = cookie_rows[next_cookie++];
      ConnectionKey key;
      key.cookie = row.cookie;
      auto it = state.entries.find(key);
      AppendEntry(text, key, {row.start, it->second.source});
    } else {
      const TupleRow& row = tuple_rows[next_tuple++];
      AppendEntry(text, *row.key, {row.start, row.source});
    }
  }
  text += "end " + std::to_string(total) + "\n";
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
      if (!line.starts_with(kBootId) || !IsValidBootId(line.substr(kBootId.size()))) {
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
    auto [slot, inserted] = state.entries.try_emplace(key);
    if (!inserted) return fail("duplicate connection");
    *slot = tracked;
  }
  if (!ended) {
    ++line_number;
    return fail(line_number == 1   ? "empty file"
                : line_number == 2 ? "no \"boot_id\" line (truncated file?)"
                                   : "no \"end <count>\" line (truncated file?)");
  }
  return state;
}

std::string JournalPathFor(const std::string& state_path) {
  constexpr std::string_view kSuffix = ".state";
  std::string_view base = state_path;
  if (base.ends_with(kSuffix)) base.remove_suffix(kSuffix.size());
  return std::string(base) + ".journal";
}

std::string JournalHeader(const std::string& boot_id, std::string_view snapshot_text) {
  return std::string(kJournalHeaderPrefix) + std::string(kFormat) + "\nboot_id " + boot_id +
         "\nsnapshot " + Hex16(Fnv1a(snapshot_text)) + "\n";
}

std::string JournalRecords(const TrackerState& state, const ConnectionKeyList& added,
                           const ConnectionKeyList& removed) {
  std::string text;
  size_t lines = 0;
  removed.ForEach([&](const ConnectionKey& key) {
    text += "- ";
    AppendKey(text, key);
    text += '\n';
    ++lines;
  });
  added.ForEach([&](const ConnectionKey& key) {
    auto it = state.entries.find(key);
    if (it == state.entries.end()) return;
    text += "+ ";
    AppendEntry(text, key, it->second);
    ++lines;
  });
  if (lines == 0) return "";
  return text + "commit " + std::to_string(lines) + "\n";
}

bool ReplayJournal(std::string_view journal, std::string_view snapshot_text, TrackerState& state,
                   std::string& error) {
  error.clear();
  std::string expected = JournalHeader(state.boot_id, snapshot_text);
  if (!journal.starts_with(kJournalHeaderPrefix)) {
    error = "not a connwatch connection journal; ignoring it";
    return false;
  }
  if (!journal.starts_with(expected)) {
    // After a crash between a snapshot's rewrite and the journal's restart the journal is
    // the previous snapshot's, whose records the new snapshot already holds: nothing wrong,
    // nothing to apply.
    return false;
  }
  std::string_view rest = journal.substr(expected.size());
  // Records are applied per committed sample: a sample's lines take effect together.
  std::vector<std::pair<bool, std::pair<ConnectionKey, TrackedConnection>>> pending;
  std::vector<std::string_view> fields;
  size_t line_number = 3;
  size_t applied = 0;
  TrackerState result = state;
  while (!rest.empty()) {
    ++line_number;
    size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) break;  // a torn last line
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline + 1);
    auto fail = [&](const std::string& what) {
      error = "line " + std::to_string(line_number) + ": " + what + "; ignoring the journal";
      return false;
    };
    if (!SplitFields(line, fields)) return fail("empty field or stray space");
    if (fields[0] == "commit") {
      size_t count = 0;
      if (fields.size() != 2 || !ParseUnsigned(fields[1], count) || count != pending.size()) {
        return fail("a commit line that does not count its records");
      }
      for (auto& [add, entry] : pending) {
        if (add) {
          result.entries[entry.first] = entry.second;
        } else {
          result.entries.erase(entry.first);
        }
      }
      applied += pending.size();
      pending.clear();
      continue;
    }
    if ((fields[0] != "+" && fields[0] != "-") || fields.size() < 2) {
      return fail("expected \"+ <entry>\", \"- <key>\" or \"commit <n>\"");
    }
    bool add = fields[0] == "+";
    std::vector<std::string_view> entry(fields.begin() + 1, fields.end());
    // A removal names the key only; the parser of entries wants a start and a source.
    if (!add) {
      entry.push_back("0");
      entry.push_back(AgeSourceName(AgeSource::kFirstSeen));
    }
    ConnectionKey key;
    TrackedConnection tracked;
    std::string problem = ParseEntry(entry, key, tracked);
    if (!problem.empty()) return fail(problem);
    pending.push_back({add, {key, tracked}});
  }
  state = std::move(result);
  if (!pending.empty() || !rest.empty()) {
    error =
        "a torn last sample (no \"commit\" line, as a kill during the write leaves); "
        "its records were dropped, " +
        std::to_string(applied) + " earlier ones applied";
  }
  return true;
}

}  // namespace connwatch
