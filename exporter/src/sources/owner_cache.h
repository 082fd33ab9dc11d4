// Socket owners and owner attributes carried across samples, so that a host whose sockets
// and processes mostly stay put is not walked fd by fd every sample. What it can miss
// between two full walks, and why that is acceptable, is spelled out in owner_cache.cpp.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model.h"
#include "sources/inode_cookie_map.h"
#include "sources/proc_fd.h"
#include "sources/proc_process.h"
#include "sources/sock_diag.h"

namespace connwatch {

class OwnerCache {
 public:
  // The owners of `sockets` (dumped just before), as a full /proc/<pid>/fd walk would find
  // them. Every `full_scan_every`-th call (and the first) walks every process like
  // ScanSocketOwners; the calls in between walk only the processes that are new or changed
  // and, when a socket is still unaccounted for, others until it is found. 0 or 1: always
  // full. `stats` counts as a full walk would: a process that was not walked again adds
  // the outcome of its last walk. `lookup`, when set, is asked before a search whether an
  // unclaimed socket still exists: one closed since the dump has nothing left to find.
  SocketOwners Scan(const std::string& procfs, const std::vector<Socket>& sockets,
                    uint32_t full_scan_every, OwnerScanStats& stats,
                    const SockDiagLookup& lookup = nullptr);

  // Gives back the table the last Scan returned, once the sample is done with it. Scan
  // hands out its own claims table instead of a copy; given back, the next Scan starts from
  // it, otherwise it rebuilds it from the cached walks.
  void ReturnClaims(SocketOwners&& owners);

  // ReadProcess, from the cache when the process is the one read before (same pid, fd
  // directory inode and comm) and the last Scan was not a full one.
  std::optional<Process> ReadProcess(const std::string& procfs, pid_t pid, double boot_time_seconds,
                                     ProcessReadStats& stats);

  bool last_scan_full() const { return last_scan_full_; }

 private:
  struct Entry {
    FdDirSignature signature;      // of <pid>/fd when its links were last read
    std::vector<uint64_t> inodes;  // the socket inodes read then, sorted
    FdScanErrors errors;           // what went wrong then, replayed into the stats
    bool opened = false;           // the fd directory could be opened then
    uint64_t walked_sample = 0;    // the sample that read the links
    uint64_t listed_sample = 0;    // the last sample that listed the pid
    // The owner's attributes, read when it owned a socket, the fd directory inode of the
    // process they belong to, and the refusals met reading them (replayed when reused).
    std::optional<Process> process;
    uint64_t process_fd_inode = 0;
    uint64_t process_denied = 0;
  };

  // One Scan's open procfs directory, its kind and its counters.
  struct ScanPass {
    int procfs_fd;
    bool full;
    OwnerScanStats& stats;
  };

  void Walk(int procfs_fd, pid_t pid, Entry& entry, OwnerScanStats& stats);
  // Scan's steps, in order (owner_cache.cpp says what each may miss).
  void WalkListedProcesses(ScanPass& pass);
  void WalkStaleClaimants(ScanPass& pass, const std::vector<Socket>& sockets);
  std::unordered_set<uint64_t> UnclaimedSockets(ScanPass& pass, const std::vector<Socket>& sockets,
                                                const SockDiagLookup& lookup,
                                                std::unordered_set<uint32_t>& uids);
  void SearchProcesses(ScanPass& pass, std::unordered_set<uint64_t>& unknown,
                       const std::unordered_set<uint32_t>& uids);
  void RememberUnfindable(bool full, const std::unordered_set<uint64_t>& unknown);
  // The claims of every entry; rebuilt only after a walk or an exit changed them.
  const SocketOwners& Claims();

  std::unordered_map<pid_t, Entry> entries_;
  UserNames user_names_;
  // inode -> cookie in this and the previous sample: a cached claim on an inode whose
  // cookie changed is a claim on a socket that no longer exists.
  InodeCookieMap cookies_;
  // Every entry's inodes as one table, valid unless stale; lent out by Scan.
  SocketOwners claims_;
  bool claims_stale_ = true;
  bool claims_lent_ = false;
  uint64_t lent_version_ = 0;
  const void* lent_storage_ = nullptr;
  // Inodes of sockets that a walk of every readable process did not find (their holder
  // cannot be read, or they were closed while walked), sorted; not searched for again until
  // the next full walk.
  std::vector<uint64_t> unfindable_;
  uint64_t sample_ = 0;
  uint64_t last_full_sample_ = 0;
  bool last_scan_full_ = true;
};

}  // namespace connwatch
