#include "sources/proc_process.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/read_file.h"
#include "sources/cgroup_path.h"

namespace connwatch {
namespace {

// /proc/stat has one line per CPU and an "intr" line with one count per interrupt before
// "btime"; on large machines that exceeds kMaxSmallProcFileBytes and would cut btime off.
constexpr size_t kMaxProcStatBytes = 4u << 20;

// Distinct uids are few on a host, but a user namespace can show up to 65536 of them; past
// this many the cache starts over rather than grow.
constexpr size_t kMaxCachedUserNames = 4096;

constexpr std::string_view kDeletedSuffix = " (deleted)";

// Index of field 22 (starttime) among the space-separated fields after the comm's ')':
// that text starts with field 3 (state).
constexpr size_t kStartTimeIndex = 22 - 3;

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The rest of the line that starts with `key` (at the start of a line), without the key.
std::optional<std::string_view> FindLine(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with(key)) return line.substr(key.size());
    pos = end + 1;
  }
  return std::nullopt;
}

std::string_view TrimLeft(std::string_view text) {
  size_t start = text.find_first_not_of(" \t");
  return start == std::string_view::npos ? std::string_view() : text.substr(start);
}

std::string_view FirstToken(std::string_view text) {
  text = TrimLeft(text);
  return text.substr(0, text.find_first_of(" \t"));
}

bool IsDenied(int error) { return error == EACCES || error == EPERM; }

std::string ProcPath(const std::string& procfs, pid_t pid, const char* file) {
  return procfs + "/" + std::to_string(pid) + "/" + file;
}

// readlink(2) of <procfs>/<pid>/exe; "" and the errno on failure.
std::string ReadExeLink(const std::string& path, int& error) {
  // The kernel refuses to produce paths longer than PATH_MAX for /proc links.
  char buffer[4096];
  ssize_t n = readlink(path.c_str(), buffer, sizeof(buffer));
  if (n < 0) {
    error = errno;
    return "";
  }
  error = 0;
  return std::string(buffer, static_cast<size_t>(n));
}

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::optional<StatFields> ParseProcStat(std::string_view text) {
  // "pid (comm) state ppid ...". The comm is whatever the process last wrote to
  // /proc/self/comm (up to 15 bytes, unescaped): it may hold ')', '(', spaces and newlines.
  // Every field after it is a number or the state letter, so the last ')' ends it.
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  StatFields fields;
  fields.comm = std::string(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  for (size_t index = 0; index <= kStartTimeIndex; ++index) {
    std::string_view token = FirstToken(rest);
    if (token.empty()) return std::nullopt;
    if (index == 0) {
      if (token.size() != 1) return std::nullopt;
      fields.state = token[0];
    } else if (index == 1) {
      auto ppid = ParseNumber<pid_t>(token);
      if (!ppid || *ppid < 0) return std::nullopt;
      fields.ppid = *ppid;
    } else if (index == kStartTimeIndex) {
      auto ticks = ParseNumber<uint64_t>(token);
      if (!ticks) return std::nullopt;
      fields.start_time_ticks = *ticks;
    }
    rest = TrimLeft(rest);
    rest.remove_prefix(token.size());
  }
  return fields;
}

std::optional<uint32_t> ParseStatusRealUid(std::string_view text) {
  // "Uid:\treal\teffective\tsaved\tfs". Only a line start counts: the Name: line carries the
  // comm, but status escapes its newlines ("\n" as two characters), so a hostile comm cannot
  // start a line of its own.
  auto rest = FindLine(text, "Uid:");
  if (!rest) return std::nullopt;
  return ParseNumber<uint32_t>(FirstToken(*rest));
}

std::optional<double> ParseBootTime(std::string_view proc_stat_text) {
  auto rest = FindLine(proc_stat_text, "btime ");
  if (!rest) return std::nullopt;
  auto seconds = ParseNumber<uint64_t>(FirstToken(*rest));
  if (!seconds) return std::nullopt;
  return static_cast<double>(*seconds);
}

std::string ParseCmdline(std::string_view raw, size_t max_bytes) {
  raw = raw.substr(0, max_bytes);
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string cmdline(raw);
  for (char& c : cmdline) {
    if (c == '\0') c = ' ';
  }
  return cmdline;
}

std::string ParseArgv0(std::string_view raw, bool truncated) {
  // A process may rewrite its argv (setproctitle: "nginx: worker process"); then there may
  // be no NUL at all, and the whole text is argv[0] as far as anyone can tell.
  size_t nul = raw.find('\0');
  if (nul == std::string_view::npos) return truncated ? "" : std::string(raw);
  return std::string(raw.substr(0, nul));
}

std::pair<std::string, bool> StripDeletedSuffix(std::string_view exe_link) {
  // The kernel appends " (deleted)" once when the binary was unlinked or replaced (a
  // package upgrade under a running daemon). A file really named "x (deleted)" is
  // indistinguishable; it is rare enough to accept.
  if (exe_link.ends_with(kDeletedSuffix)) {
    exe_link.remove_suffix(kDeletedSuffix.size());
    return {std::string(exe_link), true};
  }
  return {std::string(exe_link), false};
}

std::pair<std::string, bool> ReadExe(const std::string& procfs, pid_t pid) {
  int error = 0;
  return StripDeletedSuffix(ReadExeLink(ProcPath(procfs, pid, "exe"), error));
}

std::optional<Process> ReadProcess(const std::string& procfs, pid_t pid, double boot_time_seconds,
                                   ProcessReadStats& stats, UserNames* users) {
  // stat and status decide whether the process exists: without them there is no uid or
  // start time worth reporting. The process may exit between any two reads below; the
  // later, optional reads then fall back instead of dropping what was already read.
  auto count_failure = [&stats](int error) {
    if (IsDenied(error)) {
      ++stats.permission_denied;
    } else {
      // ENOENT/ESRCH, or an empty or cut-off file: the process exited while we read it.
      ++stats.vanished;
    }
  };
  std::string text;
  int error = ReadFileCapped(ProcPath(procfs, pid, "stat"), kMaxSmallProcFileBytes, text);
  std::optional<StatFields> stat = error == 0 ? ParseProcStat(text) : std::nullopt;
  if (!stat) {
    count_failure(error);
    return std::nullopt;
  }
  error = ReadFileCapped(ProcPath(procfs, pid, "status"), kMaxSmallProcFileBytes, text);
  std::optional<uint32_t> uid = error == 0 ? ParseStatusRealUid(text) : std::nullopt;
  if (!uid) {
    count_failure(error);
    return std::nullopt;
  }

  Process process;
  process.pid = pid;
  process.uid = *uid;
  UserNames fresh;
  process.user = (users != nullptr ? *users : fresh).NameOf(*uid);
  // USER_HZ, 100 on every Linux architecture connwatch targets, but asked rather than assumed.
  static const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  process.start_since_boot_seconds = static_cast<double>(stat->start_time_ticks) / ticks_per_second;
  process.start_time_seconds = boot_time_seconds + process.start_since_boot_seconds;

  // stat carries the same bytes as /proc/<pid>/comm (both are task->comm, unescaped), so
  // the comm file is not read: one open less per process on the sampling path.
  process.comm = stat->comm;
  process.ppid = stat->ppid;

  // The exe link is unreadable for other users' processes without CAP_SYS_PTRACE (EACCES,
  // counted) and absent for kernel threads (ENOENT, normal): the name falls back to comm.
  std::string exe = ReadExeLink(ProcPath(procfs, pid, "exe"), error);
  if (IsDenied(error)) ++stats.permission_denied;
  std::tie(process.exe, process.exe_deleted) = StripDeletedSuffix(exe);
  std::string_view base = Basename(process.exe);
  process.name = base.empty() ? process.comm : std::string(base);

  // Empty for kernel threads and zombies; unreadable cmdline is not worth a counter.
  bool truncated = false;
  if (ReadFileCapped(ProcPath(procfs, pid, "cmdline"), kMaxCmdlineBytes, text, &truncated) == 0) {
    process.cmdline = ParseCmdline(text, kMaxCmdlineBytes);
    process.argv0 = ParseArgv0(text, truncated);
  }
  // The container it runs in (sources/containers.h); kept with the process by the owner
  // cache, so a process moved to another cgroup is seen at the next full scan.
  if (ReadFileCapped(ProcPath(procfs, pid, "cgroup"), kMaxSmallProcFileBytes, text) == 0) {
    process.cgroup = ParseProcCgroup(text);
  }
  return process;
}

std::string ReadParentName(const std::string& procfs, const Process& child,
                           double boot_time_seconds) {
  if (child.ppid <= 0) return "";
  ProcessReadStats ignored;  // a parent that exited is what this answers, not a failure
  std::optional<Process> parent = ReadProcess(procfs, child.ppid, boot_time_seconds, ignored);
  if (!parent || parent->start_since_boot_seconds > child.start_since_boot_seconds) return "";
  return parent->name;
}

std::optional<double> ReadBootTime(const std::string& procfs) {
  std::string text;
  if (ReadFileCapped(procfs + "/stat", kMaxProcStatBytes, text) != 0) return std::nullopt;
  return ParseBootTime(text);
}

std::string UserNames::NameOf(uint32_t uid) {
  auto it = names_.find(uid);
  if (it != names_.end()) return it->second;
  std::string name = std::to_string(uid);
  bool answered = false;  // found, or known not to exist
  long size_hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size_hint > 0 ? static_cast<size_t>(size_hint) : 1024);
  while (true) {
    passwd entry{};
    passwd* result = nullptr;
    int error = getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &result);
    if (error == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    // getpwuid_r(3): "not found" is 0 with a null result, or ENOENT/ESRCH in some backends.
    answered = error == 0 || error == ENOENT || error == ESRCH;
    if (answered && result != nullptr && result->pw_name != nullptr && result->pw_name[0] != '\0') {
      name = result->pw_name;
    }
    break;
  }
  if (answered) {
    if (names_.size() >= kMaxCachedUserNames) names_.clear();
    names_.emplace(uid, name);
  }
  return name;
}

}  // namespace connwatch
