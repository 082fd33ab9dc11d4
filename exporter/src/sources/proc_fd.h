// /proc/<pid>/fd: which processes hold which socket inodes (the osquery join).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace connwatch {

struct OwnerScanStats {
  // Processes whose fd directory was looked at: its links read (walked), or, with a cache,
  // its signature found unchanged since the links were last read.
  uint64_t processes_scanned = 0;
  uint64_t processes_walked = 0;   // of those, the ones whose links were read this sample
  uint64_t permission_denied = 0;  // fd directories or links we may not read
  uint64_t vanished = 0;           // processes that exited between readdir and reading
  uint64_t other_errors = 0;
  // With a cache: sockets no walk accounted for that sock_diag was asked about (an exact
  // lookup each), and of those the ones found closed since the dump (not searched for).
  uint64_t sockets_looked_up = 0;
  uint64_t sockets_gone = 0;
};

// inode -> the pids holding an fd to it, sorted and unique. A socket may have several
// owners (fork after listen, fds passed over SCM_RIGHTS). An open-addressing table in one
// allocation: a map of vectors costs two allocations and ~90 bytes per socket, and every
// sample looks up every socket's owners several times (processes, policy, ages, metrics).
class SocketOwners {
 public:
  // Adds one owner of `inode` (again: no effect). Inode 0 (no file) has no owners.
  void Add(uint64_t inode, pid_t pid);
  // The owners of `inode`, ascending; empty when none. Valid until the next Add.
  std::span<const pid_t> Of(uint64_t inode) const;
  size_t size() const { return size_; }  // inodes with an owner
  // Where `inode` sits (kNoSlot: no owners), and the owners at such a place: what a
  // caller that asks about the same inodes many times keeps instead of probing again.
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t SlotOf(uint64_t inode) const;
  std::span<const pid_t> AtSlot(uint32_t slot) const;
  // Changes with every Add: spans and slots taken before are then stale.
  uint64_t version() const { return version_; }
  // The allocation holding the table: it moves with the table, so whoever lends a table out
  // can tell it from another one of the same version when it comes back.
  const void* storage() const { return slots_.data(); }
  bool empty() const { return size_ == 0; }
  void Reserve(size_t inodes);

 private:
  struct Slot {
    uint64_t inode = 0;   // 0: empty
    pid_t pid = 0;        // the owner, when it is the only one
    uint32_t shared = 0;  // else 1 + the index of the owners in shared_
  };
  size_t Probe(uint64_t inode) const;  // its slot, or the empty one where it would go
  void Grow(size_t capacity);

  std::vector<Slot> slots_;  // a power of two, at most 7/8 full (sources/inode_table.h)
  std::vector<std::vector<pid_t>> shared_;
  size_t size_ = 0;
  uint64_t version_ = 0;
};

// "socket:[12345]" -> 12345; anything else -> nullopt.
std::optional<uint64_t> ParseSocketLink(std::string_view link);

// What went wrong with one process. Each process adds at most one to each counter, so the
// counters read as "processes affected", not "fds affected".
struct FdScanErrors {
  bool vanished = false;
  bool permission_denied = false;
  bool other = false;

  void Record(int error);
  void AddTo(OwnerScanStats& stats) const;
};

// What stat(2) says of <procfs>/<pid>/fd. On procfs (Linux >= 6.2) st_size is the number of
// open fds; st_ino and st_mtime stay put while the directory's inode lives. In a fake tree
// (tests) st_mtime moves whenever an fd link is added or removed. Equal signatures therefore
// mean "very likely the same fds"; a different one means "read the links again".
struct FdDirSignature {
  uint64_t inode = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  uint32_t uid = 0;  // the directory's owner: the process's effective uid

  bool operator==(const FdDirSignature&) const = default;
};

// The numeric entries of <procfs> (thread-group leaders), ascending. false when the root
// cannot be listed.
bool ListPids(int procfs_fd, std::vector<pid_t>& pids);

// stat(2) of <pid>/fd under an open procfs directory; 0 or the errno.
int StatFdDir(int procfs_fd, pid_t pid, FdDirSignature& signature);

// Reads the links of <pid>/fd under an open procfs directory: the socket inodes it holds,
// sorted and unique, into `inodes`, and the directory's signature taken just before the
// links were read (so a change during the read shows at the next look). false when the
// directory could not be opened (the reason is in `errors`); fds that vanish mid-read are
// skipped and recorded.
bool ReadSocketInodes(int procfs_fd, pid_t pid, std::vector<uint64_t>& inodes,
                      FdDirSignature& signature, FdScanErrors& errors);

// Walks every numeric <procfs>/<pid>/fd. Races and missing permissions are counted, never
// fatal.
SocketOwners ScanSocketOwners(const std::string& procfs, OwnerScanStats& stats);

}  // namespace connwatch
