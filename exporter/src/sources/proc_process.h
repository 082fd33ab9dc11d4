// /proc/<pid>/{stat,status,exe,cmdline,cgroup}: who a socket owner is, and where it runs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "model.h"

namespace connwatch {

inline constexpr size_t kMaxCmdlineBytes = 256;

struct StatFields {
  std::string comm;  // between the first '(' and the last ')': may hold spaces and parens
  char state = '?';
  pid_t ppid = 0;                 // field 4; 0 for init and kernel threads' kthreadd
  uint64_t start_time_ticks = 0;  // field 22, clock ticks since boot
};

// Pure parsers.
std::optional<StatFields> ParseProcStat(std::string_view text);
std::optional<uint32_t> ParseStatusRealUid(std::string_view text);     // "Uid:" line, 1st
std::optional<double> ParseBootTime(std::string_view proc_stat_text);  // "btime" line
// NULs become spaces, trailing NULs dropped, cut to `max_bytes`.
std::string ParseCmdline(std::string_view raw, size_t max_bytes);
// argv[0]: the bytes before the first NUL of the raw cmdline; "" when `truncated` (the read
// cap cut the file) and no NUL came before the cut, since a prefix is not the name.
std::string ParseArgv0(std::string_view raw, bool truncated);
// "/usr/sbin/nginx (deleted)" -> {"/usr/sbin/nginx", true}
std::pair<std::string, bool> StripDeletedSuffix(std::string_view exe_link);

// readlink of <procfs>/<pid>/exe through StripDeletedSuffix; {"", false} when unreadable.
std::pair<std::string, bool> ReadExe(const std::string& procfs, pid_t pid);

struct ProcessReadStats {
  uint64_t vanished = 0;
  uint64_t permission_denied = 0;
};

// uid -> user name via getpwuid_r, remembered: NSS lookups may go to LDAP or sssd and take
// milliseconds, and every sample resolves the same few uids. Entries never expire (a renamed
// user keeps the old name until restart); a failed lookup (NSS backend down) is not kept, so
// the name appears once the backend answers again. The decimal uid when unknown. One per
// sampling thread: not thread-safe.
class UserNames {
 public:
  std::string NameOf(uint32_t uid);

 private:
  std::map<uint32_t, std::string> names_;
};

// Reads what connwatch reports of one process. `boot_time_seconds` comes from /proc/stat.
// nullopt when the process vanished (counted). Unreadable exe falls back to comm. User names
// come from `users` (a fresh lookup when null).
std::optional<Process> ReadProcess(const std::string& procfs, pid_t pid, double boot_time_seconds,
                                   ProcessReadStats& stats, UserNames* users = nullptr);

// The name (as Process::name: exe basename, else comm) of `child`'s parent, read now; ""
// when there is none, it has exited, or its pid was reused by a process that started after
// the child (a parent cannot be younger than its child).
std::string ReadParentName(const std::string& procfs, const Process& child,
                           double boot_time_seconds);

// Reads btime from <procfs>/stat.
std::optional<double> ReadBootTime(const std::string& procfs);

}  // namespace connwatch
