// /proc/<pid>/fd: which processes hold which socket inodes (the osquery join).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace connwatch {

struct OwnerScanStats {
  uint64_t processes_scanned = 0;
  uint64_t permission_denied = 0;  // fd directories or links we may not read
  uint64_t vanished = 0;           // processes that exited between readdir and reading
  uint64_t other_errors = 0;
};

// inode -> the pids holding an fd to it, sorted and unique. A socket may have several
// owners (fork after listen, fds passed over SCM_RIGHTS).
using SocketOwners = std::unordered_map<uint64_t, std::vector<pid_t>>;

// "socket:[12345]" -> 12345; anything else -> nullopt.
std::optional<uint64_t> ParseSocketLink(std::string_view link);

// Walks every numeric <procfs>/<pid>/fd. Races and missing permissions are counted, never
// fatal.
SocketOwners ScanSocketOwners(const std::string& procfs, OwnerScanStats& stats);

}  // namespace connwatch
