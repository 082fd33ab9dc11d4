// The owner cache. A cold sample reads every fd link of every process (the floor of
// `ss -p` and of connwatch without a cache). Between two full walks this cache reads the
// links of a process only when:
//   - the pid is new, or its fd directory's signature changed (procfs: the number of open
//     fds; see FdDirSignature), or it holds sockets and its start time changed (the pid was
//     reused);
//   - it claims, from an earlier walk, an inode whose socket changed identity since the
//     previous sample (another cookie: the inode number was reused), or that was absent
//     then;
//   - a socket of this sample is claimed by no process: processes not walked yet are then
//     read, those running as the socket's uid first, until every such socket is found.
//     Before that, sock_diag is asked whether the socket still exists (most unclaimed
//     sockets on a busy host closed between the dump and the walk: nothing to find), and a
//     socket that a walk of every readable process did not find (its holder is unreadable,
//     in another pid namespace, or the fd is in flight in a Unix socket queue) is not
//     searched for again until the next full walk.
// Everything else is taken from the last walk, after one stat(2) of <pid>/fd per process
// (and one read of <pid>/stat for processes holding sockets). The proc_fd collector's
// duration is the time of this whole step, so it drops between full walks; its success
// and the scan error counters mean what they mean without a cache (each process counts
// once, with the outcome of its latest walk).
//
// What it can miss until the next full walk (every --collect.full-scan-every samples):
//   - an extra owner gained without a change in the fd count: a process that received a
//     socket already owned by another (SCM_RIGHTS, pidfd_getfd) and closed another fd in
//     the same interval, or dup2()ed a socket over an open fd. The socket still shows its
//     other owners; this one is missing.
//   - a stale owner: a process that closed a socket still held by others and, in the same
//     interval, opened something that is not a socket (the count stays the same). If it
//     opened a socket instead, that socket is unknown, the search walks the process and the
//     stale claim goes.
//   - a socket whose only holder changed (passed, then closed by the sender) while the
//     sample walked the processes: it is unowned until the receiver's fd count changes.
// Each needs a change to a socket's holders with no net change in the holders' fd counts
// within one interval, on a socket that already had another owner: rare, short-lived (one
// full-walk period), and a cold sample taken at that instant may miss the same fds while
// they move. New processes (fork children inheriting a listener) and pid reuse are always
// caught. Process attributes (exe, cmdline, uid, user) are re-read when the start time or
// comm changes (execve sets comm; prctl(PR_SET_NAME) and writes to /proc/<pid>/comm change
// it too, and comm is re-read every sample from stat anyway), otherwise kept until the next
// full walk: an execve of a binary with the same comm, a setuid() or an edited argv show up
// late, by at most that period.
#include "sources/owner_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

#include "sources/proc_file.h"

namespace connwatch {
namespace {

const uint64_t* FindCookie(const std::vector<std::pair<uint64_t, uint64_t>>& cookies,
                           uint64_t inode) {
  auto it = std::lower_bound(cookies.begin(), cookies.end(), std::make_pair(inode, uint64_t{0}));
  if (it == cookies.end() || it->first != inode) return nullptr;
  return &it->second;
}

bool Contains(const std::vector<uint64_t>& sorted, uint64_t value) {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

}  // namespace

bool OwnerCache::ReadIdentity(const std::string& procfs, pid_t pid, Entry& entry) {
  if (entry.stat_sample == sample_) return true;
  std::string text;
  if (ReadProcFile(procfs + "/" + std::to_string(pid) + "/stat", kMaxSmallProcFileBytes, text) !=
      0) {
    return false;
  }
  std::optional<StatFields> stat = ParseProcStat(text);
  if (!stat) return false;
  entry.start_ticks = stat->start_time_ticks;
  entry.comm = std::move(stat->comm);
  entry.stat_sample = sample_;
  return true;
}

void OwnerCache::Walk(const std::string& procfs, int procfs_fd, pid_t pid, Entry& entry,
                      OwnerScanStats& stats) {
  FdScanErrors errors;
  FdDirSignature signature;
  entry.opened = ReadSocketInodes(procfs_fd, pid, entry.inodes, signature, errors);
  // An unreadable directory (EACCES without CAP_SYS_PTRACE) still has a signature: while it
  // stays the same, the refusal is replayed instead of asked again.
  if (!entry.opened && StatFdDir(procfs_fd, pid, signature) != 0) signature = FdDirSignature();
  entry.signature = signature;
  entry.errors = errors;
  entry.walked_sample = sample_;
  if (entry.opened) ++stats.processes_walked;
  // The start time makes the claims checkable next time; a process that exited now simply
  // fails the check then.
  entry.walk_start_ticks = 0;
  if (!entry.inodes.empty() && ReadIdentity(procfs, pid, entry)) {
    entry.walk_start_ticks = entry.start_ticks;
  }
}

SocketOwners OwnerCache::Claims() const {
  SocketOwners owners;
  owners.Reserve(claimed_inodes_hint_);
  for (const auto& [pid, entry] : entries_) {
    for (uint64_t inode : entry.inodes) owners.Add(inode, pid);
  }
  return owners;
}

SocketOwners OwnerCache::Scan(const std::string& procfs, const std::vector<Socket>& sockets,
                              uint32_t full_scan_every, OwnerScanStats& stats,
                              const SocketLookupFn& lookup) {
  ++sample_;
  const bool full = last_full_sample_ == 0 || full_scan_every <= 1 ||
                    sample_ - last_full_sample_ >= full_scan_every;
  if (full) last_full_sample_ = sample_;
  last_scan_full_ = full;

  std::vector<pid_t> pids;
  int procfs_fd = open(procfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (procfs_fd < 0 || !ListPids(procfs_fd, pids)) ++stats.other_errors;

  // 1. Every listed process: walked when new, changed or due; else its last walk stands.
  for (pid_t pid : pids) {
    auto [it, inserted] = entries_.try_emplace(pid);
    Entry& entry = it->second;
    entry.listed_sample = sample_;
    if (inserted || full) {
      Walk(procfs, procfs_fd, pid, entry, stats);
      continue;
    }
    FdDirSignature signature;
    int error = StatFdDir(procfs_fd, pid, signature);
    if (error != 0) {
      // Gone since the listing: what a walk would have met, counted the same way.
      FdScanErrors errors;
      errors.Record(error);
      errors.AddTo(stats);
      entries_.erase(it);
      continue;
    }
    if (signature != entry.signature ||
        (!entry.inodes.empty() &&
         (!ReadIdentity(procfs, pid, entry) || entry.start_ticks != entry.walk_start_ticks))) {
      Walk(procfs, procfs_fd, pid, entry, stats);
    }
  }
  std::erase_if(entries_,
                [this](const auto& item) { return item.second.listed_sample != sample_; });

  // 2. Cached claims on sockets that are not the ones claimed: walk the claimants again.
  std::vector<std::pair<uint64_t, uint64_t>> cookies;
  cookies.reserve(sockets.size());
  for (const Socket& socket : sockets) {
    if (socket.inode != 0) cookies.emplace_back(socket.inode, socket.cookie);
  }
  std::sort(cookies.begin(), cookies.end());
  SocketOwners owners = Claims();
  if (!full) {
    std::vector<pid_t> stale;
    for (const auto& [inode, cookie] : cookies) {
      std::span<const pid_t> claimants = owners.Of(inode);
      if (claimants.empty()) continue;
      const uint64_t* previous = FindCookie(previous_cookies_, inode);
      if (previous != nullptr && *previous == cookie) continue;
      for (pid_t pid : claimants) {
        if (entries_.at(pid).walked_sample != sample_) stale.push_back(pid);
      }
    }
    std::sort(stale.begin(), stale.end());
    stale.erase(std::unique(stale.begin(), stale.end()), stale.end());
    for (pid_t pid : stale) Walk(procfs, procfs_fd, pid, entries_.at(pid), stats);
    if (!stale.empty()) owners = Claims();
  }

  // 3. Sockets nobody claims: search the processes not walked in this sample.
  std::unordered_set<uint64_t> unknown;
  std::unordered_set<uint32_t> unknown_uids;
  for (const Socket& socket : sockets) {
    if (socket.inode == 0 || !owners.Of(socket.inode).empty()) continue;
    if (!full && Contains(unfindable_, socket.inode)) continue;
    // Most unclaimed sockets on a busy host were closed between the dump and the walk:
    // searching every process for them would make every sample a full walk.
    uint64_t inode_now = 0;
    if (!full && lookup) {
      SocketLookup answer = lookup(socket, inode_now);
      if (answer == SocketLookup::kGone) continue;
      if (answer == SocketLookup::kOpen && inode_now != socket.inode) continue;
    }
    if (unknown.insert(socket.inode).second) unknown_uids.insert(socket.uid);
  }
  if (!full && !unknown.empty()) {
    std::vector<std::pair<bool, pid_t>> candidates;  // (not the sockets' uid, pid)
    for (const auto& [pid, entry] : entries_) {
      // Unreadable directories stay unreadable until their signature changes.
      if (entry.walked_sample == sample_ || !entry.opened) continue;
      candidates.emplace_back(unknown_uids.count(entry.signature.uid) == 0, pid);
    }
    std::sort(candidates.begin(), candidates.end());
    bool walked = false;
    for (const auto& [other_uid, pid] : candidates) {
      Entry& entry = entries_.at(pid);
      Walk(procfs, procfs_fd, pid, entry, stats);
      walked = true;
      for (uint64_t inode : entry.inodes) unknown.erase(inode);
      if (unknown.empty()) break;
    }
    if (walked) owners = Claims();
  }
  if (procfs_fd >= 0) close(procfs_fd);
  // Each process counts once, with the outcome of its latest walk: what a cold walk of
  // the same tree would count.
  for (const auto& [pid, entry] : entries_) {
    if (entry.opened) ++stats.processes_scanned;
    entry.errors.AddTo(stats);
  }

  // What no walk of every readable process found is not searched for again (until the
  // next full walk); what is gone from the socket table is forgotten.
  if (full) unfindable_.clear();
  std::erase_if(unfindable_,
                [&cookies](uint64_t inode) { return FindCookie(cookies, inode) == nullptr; });
  unfindable_.insert(unfindable_.end(), unknown.begin(), unknown.end());
  std::sort(unfindable_.begin(), unfindable_.end());
  unfindable_.erase(std::unique(unfindable_.begin(), unfindable_.end()), unfindable_.end());
  previous_cookies_ = std::move(cookies);
  claimed_inodes_hint_ = owners.size();
  return owners;
}

std::optional<Process> OwnerCache::ReadProcess(const std::string& procfs, pid_t pid,
                                               double boot_time_seconds, ProcessReadStats& stats) {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return connwatch::ReadProcess(procfs, pid, boot_time_seconds, stats);
  Entry& entry = it->second;
  bool identified = ReadIdentity(procfs, pid, entry);
  if (!last_scan_full_ && identified && entry.process &&
      entry.start_ticks == entry.process_start_ticks && entry.comm == entry.process->comm) {
    stats.permission_denied += entry.process_denied;
    return entry.process;
  }
  uint64_t denied_before = stats.permission_denied;
  std::optional<Process> process = connwatch::ReadProcess(procfs, pid, boot_time_seconds, stats);
  entry.process = process;
  // A process that changed between the two reads of stat is read again next time.
  entry.process_start_ticks = identified && process ? entry.start_ticks : 0;
  entry.process_denied = stats.permission_denied - denied_before;
  return process;
}

}  // namespace connwatch
