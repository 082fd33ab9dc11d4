// The owner cache. A cold sample reads every fd link of every process (the floor of
// `ss -p` and of connwatch without a cache). Between two full walks this cache reads the
// links of a process only when:
//   - the pid is new, or its fd directory's signature changed: the number of open fds, or
//     the directory's inode number, which procfs gives anew to every process (a new
//     number from get_next_ino() in proc_pid_make_inode()), so a reused pid always shows
//     as a change (see FdDirSignature);
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
// Everything else is taken from the last walk, after one stat(2) of <pid>/fd per process.
// The proc_fd collector's
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
// caught. Process attributes (exe, cmdline, uid, user) are re-read when the fd directory's
// inode (the process), comm or exe link changes (execve sets comm; prctl(PR_SET_NAME) and
// writes to /proc/<pid>/comm change it too; comm is read every sample, from <pid>/comm, which
// costs less than <pid>/stat; the exe link is read every sample too, one readlink per owner,
// so that a binary deleted or replaced under a running process, or an execve of another
// binary with the same comm, is seen at once), otherwise kept until the next full walk: a
// setuid() or an edited argv show up late, by at most that period.
#include "sources/owner_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

#include "base/read_file.h"

namespace connwatch {
namespace {

bool Contains(const std::vector<uint64_t>& sorted, uint64_t value) {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

}  // namespace

namespace {

// <procfs>/<pid>/comm: task->comm (the bytes stat shows in parentheses) and a newline.
bool ReadComm(const std::string& procfs, pid_t pid, std::string& comm) {
  if (ReadFileCapped(procfs + "/" + std::to_string(pid) + "/comm", kMaxSmallProcFileBytes, comm) !=
      0) {
    return false;
  }
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return true;
}

}  // namespace

void OwnerCache::Walk(int procfs_fd, pid_t pid, Entry& entry, OwnerScanStats& stats) {
  FdScanErrors errors;
  FdDirSignature signature;
  std::vector<uint64_t> inodes_before = std::move(entry.inodes);
  entry.opened = ReadSocketInodes(procfs_fd, pid, entry.inodes, signature, errors);
  // Processes are mostly walked again for fds that are not sockets (connwatch itself, each
  // sample): the claims are rebuilt only when the socket inodes changed.
  if (entry.inodes != inodes_before) claims_stale_ = true;
  // An unreadable directory (EACCES without CAP_SYS_PTRACE) still has a signature: while it
  // stays the same, the refusal is replayed instead of asked again.
  if (!entry.opened && StatFdDir(procfs_fd, pid, signature) != 0) signature = FdDirSignature();
  entry.signature = signature;
  entry.errors = errors;
  entry.walked_sample = sample_;
  if (entry.opened) ++stats.processes_walked;
}

const SocketOwners& OwnerCache::Claims() {
  if (claims_stale_) {
    SocketOwners owners;
    owners.Reserve(claims_.size());
    for (const auto& [pid, entry] : entries_) {
      for (uint64_t inode : entry.inodes) owners.Add(inode, pid);
    }
    claims_ = std::move(owners);
    claims_stale_ = false;
  }
  return claims_;
}

SocketOwners OwnerCache::Scan(const std::string& procfs, const std::vector<Socket>& sockets,
                              uint32_t full_scan_every, OwnerScanStats& stats,
                              const SockDiagLookup& lookup) {
  ++sample_;
  const bool full = last_full_sample_ == 0 || full_scan_every <= 1 ||
                    sample_ - last_full_sample_ >= full_scan_every;
  if (full) last_full_sample_ = sample_;
  last_scan_full_ = full;
  ScanPass pass{open(procfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), full, stats};
  WalkListedProcesses(pass);
  WalkStaleClaimants(pass, sockets);
  std::unordered_set<uint32_t> unknown_uids;
  std::unordered_set<uint64_t> unknown = UnclaimedSockets(pass, sockets, lookup, unknown_uids);
  if (!full && !unknown.empty()) SearchProcesses(pass, unknown, unknown_uids);
  if (pass.procfs_fd >= 0) close(pass.procfs_fd);
  // Each process counts once, with the outcome of its latest walk: what a cold walk of
  // the same tree would count.
  for (const auto& [pid, entry] : entries_) {
    if (entry.opened) ++stats.processes_scanned;
    entry.errors.AddTo(stats);
  }
  RememberUnfindable(full, unknown);
  // Lent, not copied: the table holds every claimed inode (8 MB at 200k sockets).
  Claims();
  SocketOwners lent = std::move(claims_);
  claims_ = SocketOwners();
  claims_stale_ = true;
  claims_lent_ = true;
  lent_version_ = lent.version();
  lent_storage_ = lent.storage();
  return lent;
}

// 1. Every listed process: walked when new, changed or due; else its last walk stands.
void OwnerCache::WalkListedProcesses(ScanPass& pass) {
  std::vector<pid_t> pids;
  if (pass.procfs_fd < 0 || !ListPids(pass.procfs_fd, pids)) ++pass.stats.other_errors;
  for (pid_t pid : pids) {
    auto [it, inserted] = entries_.try_emplace(pid);
    Entry& entry = it->second;
    entry.listed_sample = sample_;
    if (inserted || pass.full) {
      Walk(pass.procfs_fd, pid, entry, pass.stats);
      continue;
    }
    FdDirSignature signature;
    int error = StatFdDir(pass.procfs_fd, pid, signature);
    if (error != 0) {
      // Gone since the listing: what a walk would have met, counted the same way.
      FdScanErrors errors;
      errors.Record(error);
      errors.AddTo(pass.stats);
      if (!it->second.inodes.empty()) claims_stale_ = true;
      entries_.erase(it);
      continue;
    }
    if (signature != entry.signature) Walk(pass.procfs_fd, pid, entry, pass.stats);
  }
  std::erase_if(entries_, [this](const auto& item) {
    if (item.second.listed_sample == sample_) return false;
    if (!item.second.inodes.empty()) claims_stale_ = true;
    return true;
  });
}

// 2. Cached claims on sockets that are not the ones claimed: walk the claimants again.
// Every socket's cookie is recorded, in full samples too: the next sample compares.
void OwnerCache::WalkStaleClaimants(ScanPass& pass, const std::vector<Socket>& sockets) {
  cookies_.BeginSample(sockets.size());
  const SocketOwners& owners = Claims();
  std::vector<pid_t> stale;
  constexpr size_t kPrefetchAhead = 8;
  for (size_t i = 0; i < sockets.size(); ++i) {
    if (i + kPrefetchAhead < sockets.size()) cookies_.Prefetch(sockets[i + kPrefetchAhead].inode);
    const Socket& socket = sockets[i];
    bool same_socket = cookies_.Record(socket.inode, socket.cookie);
    if (pass.full || same_socket || socket.inode == 0) continue;
    for (pid_t pid : owners.Of(socket.inode)) {
      if (entries_.at(pid).walked_sample != sample_) stale.push_back(pid);
    }
  }
  std::sort(stale.begin(), stale.end());
  stale.erase(std::unique(stale.begin(), stale.end()), stale.end());
  for (pid_t pid : stale) Walk(pass.procfs_fd, pid, entries_.at(pid), pass.stats);
}

// 3. Sockets nobody claims, and their uids. Most unclaimed sockets on a busy host were closed
// between the dump and the walk: searching every process for them would make every sample a
// full walk, so sock_diag is asked first.
std::unordered_set<uint64_t> OwnerCache::UnclaimedSockets(ScanPass& pass,
                                                          const std::vector<Socket>& sockets,
                                                          const SockDiagLookup& lookup,
                                                          std::unordered_set<uint32_t>& uids) {
  const SocketOwners& owners = Claims();
  std::unordered_set<uint64_t> unknown;
  for (const Socket& socket : sockets) {
    if (socket.inode == 0 || !owners.Of(socket.inode).empty()) continue;
    if (!pass.full && Contains(unfindable_, socket.inode)) continue;
    uint64_t inode_now = 0;
    if (!pass.full && lookup) {
      ++pass.stats.sockets_looked_up;
      SocketLookup answer = lookup(socket, inode_now);
      bool gone = answer == SocketLookup::kGone ||
                  (answer == SocketLookup::kOpen && inode_now != socket.inode);
      if (gone) {
        ++pass.stats.sockets_gone;
        continue;
      }
    }
    if (unknown.insert(socket.inode).second) uids.insert(socket.uid);
  }
  return unknown;
}

// 4. Walks the processes not walked in this sample, those running as the sockets' uids
// first, until every unknown socket is found; what is found is erased from `unknown`.
void OwnerCache::SearchProcesses(ScanPass& pass, std::unordered_set<uint64_t>& unknown,
                                 const std::unordered_set<uint32_t>& uids) {
  std::vector<std::pair<bool, pid_t>> candidates;  // (not the sockets' uid, pid)
  for (const auto& [pid, entry] : entries_) {
    // Unreadable directories stay unreadable until their signature changes.
    if (entry.walked_sample == sample_ || !entry.opened) continue;
    candidates.emplace_back(uids.count(entry.signature.uid) == 0, pid);
  }
  std::sort(candidates.begin(), candidates.end());
  for (const auto& [other_uid, pid] : candidates) {
    Entry& entry = entries_.at(pid);
    Walk(pass.procfs_fd, pid, entry, pass.stats);
    for (uint64_t inode : entry.inodes) unknown.erase(inode);
    if (unknown.empty()) break;
  }
}

// What no walk of every readable process found is not searched for again (until the next
// full walk); what is gone from the socket table is forgotten.
void OwnerCache::RememberUnfindable(bool full, const std::unordered_set<uint64_t>& unknown) {
  if (full) unfindable_.clear();
  std::erase_if(unfindable_, [this](uint64_t inode) { return !cookies_.RecordedNow(inode); });
  unfindable_.insert(unfindable_.end(), unknown.begin(), unknown.end());
  std::sort(unfindable_.begin(), unfindable_.end());
  unfindable_.erase(std::unique(unfindable_.begin(), unfindable_.end()), unfindable_.end());
}

void OwnerCache::ReturnClaims(SocketOwners&& owners) {
  // Only the very table lent by the last Scan (its allocation), unchanged (an Add changes
  // the version).
  if (claims_lent_ && owners.version() == lent_version_ && owners.storage() == lent_storage_ &&
      !owners.empty()) {
    claims_ = std::move(owners);
    claims_stale_ = false;
  }
  claims_lent_ = false;
}

std::optional<Process> OwnerCache::ReadProcess(const std::string& procfs, pid_t pid,
                                               double boot_time_seconds, ProcessReadStats& stats) {
  auto it = entries_.find(pid);
  if (it == entries_.end())
    return connwatch::ReadProcess(procfs, pid, boot_time_seconds, stats, &user_names_);
  Entry& entry = it->second;
  std::string comm;
  if (!last_scan_full_ && entry.process && entry.signature.inode != 0 &&
      entry.signature.inode == entry.process_fd_inode && ReadComm(procfs, pid, comm) &&
      comm == entry.process->comm &&
      ReadExe(procfs, pid) == std::pair(entry.process->exe, entry.process->exe_deleted)) {
    stats.permission_denied += entry.process_denied;
    return entry.process;
  }
  uint64_t denied_before = stats.permission_denied;
  std::optional<Process> process =
      connwatch::ReadProcess(procfs, pid, boot_time_seconds, stats, &user_names_);
  entry.process = process;
  // The process these attributes belong to: the one whose fd directory Scan looked at.
  entry.process_fd_inode = process ? entry.signature.inode : 0;
  entry.process_denied = stats.permission_denied - denied_before;
  return process;
}

}  // namespace connwatch
