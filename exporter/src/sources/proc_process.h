// /proc/<pid>/{stat,status,comm,exe,cmdline}: who a socket owner is.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model.h"

namespace connwatch {

inline constexpr size_t kMaxCmdlineBytes = 256;

struct StatFields {
  std::string comm;  // between the first '(' and the last ')': may hold spaces and parens
  char state = '?';
  uint64_t start_time_ticks = 0;  // field 22, clock ticks since boot
};

// Pure parsers.
std::optional<StatFields> ParseProcStat(std::string_view text);
std::optional<uint32_t> ParseStatusRealUid(std::string_view text);     // "Uid:" line, 1st
std::optional<double> ParseBootTime(std::string_view proc_stat_text);  // "btime" line
// NULs become spaces, trailing NULs dropped, cut to `max_bytes`.
std::string ParseCmdline(std::string_view raw, size_t max_bytes);
// "/usr/sbin/nginx (deleted)" -> {"/usr/sbin/nginx", true}
std::pair<std::string, bool> StripDeletedSuffix(std::string_view exe_link);

struct ProcessReadStats {
  uint64_t vanished = 0;
  uint64_t permission_denied = 0;
};

// Reads what connwatch reports of one process. `boot_time_seconds` comes from /proc/stat.
// nullopt when the process vanished (counted). Unreadable exe falls back to comm.
std::optional<Process> ReadProcess(const std::string& procfs, pid_t pid, double boot_time_seconds,
                                   ProcessReadStats& stats);

// Reads btime from <procfs>/stat.
std::optional<double> ReadBootTime(const std::string& procfs);

// uid -> user name via getpwuid_r, cached; the decimal uid when unknown.
std::string UserName(uint32_t uid);

}  // namespace connwatch
