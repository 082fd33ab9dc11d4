#include "sources/proc_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "sources/inode_table.h"

namespace connwatch {
namespace {

constexpr std::string_view kSocketPrefix = "socket:[";

// "socket:[" + 20 digits + "]" is 29 bytes. Any link that fills this buffer is longer than
// a socket link can be, so a full buffer means "not a socket" without reading the rest:
// file paths and other anon inodes ("anon_inode:[eventfd]", "pipe:[N]") are skipped cheaply.
constexpr size_t kLinkBufferBytes = 64;

std::optional<pid_t> ParsePid(const char* name) {
  size_t length = strlen(name);
  if (length == 0) return std::nullopt;
  pid_t pid = 0;
  auto [end, error] = std::from_chars(name, name + length, pid);
  if (error != std::errc() || end != name + length || pid <= 0) return std::nullopt;
  return pid;
}

FdDirSignature SignatureOf(const struct stat& info) {
  FdDirSignature signature;
  signature.inode = info.st_ino;
  signature.size = info.st_size;
  signature.mtime_ns =
      static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  signature.uid = info.st_uid;
  return signature;
}

// "<pid>/fd": pids have at most 10 digits, so 32 bytes always suffice.
struct FdPath {
  char text[32];
  explicit FdPath(pid_t pid) { std::snprintf(text, sizeof(text), "%d/fd", pid); }
};

}  // namespace

std::optional<uint64_t> ParseSocketLink(std::string_view link) {
  if (!link.starts_with(kSocketPrefix) || !link.ends_with(']')) return std::nullopt;
  std::string_view digits = link.substr(kSocketPrefix.size());
  digits.remove_suffix(1);
  if (digits.empty() || digits.front() < '0' || digits.front() > '9') return std::nullopt;
  uint64_t inode = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), inode);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  // Sockets without a file (TIME_WAIT, request sockets) report inode 0; an owner for inode 0
  // would attach some process to all of them. sockfs never hands out 0 for a real file.
  if (inode == 0) return std::nullopt;
  return inode;
}

size_t SocketOwners::Probe(uint64_t inode) const {
  const size_t mask = slots_.size() - 1;
  size_t index = InodeHome(inode, slots_.size());
  while (slots_[index].inode != 0 && slots_[index].inode != inode) index = (index + 1) & mask;
  return index;
}

void SocketOwners::Grow(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot());
  for (const Slot& slot : old) {
    if (slot.inode != 0) slots_[Probe(slot.inode)] = slot;
  }
}

void SocketOwners::Reserve(size_t inodes) {
  size_t capacity = InodeTableCapacityFor(inodes);
  if (capacity > slots_.size()) Grow(capacity);
}

void SocketOwners::Add(uint64_t inode, pid_t pid) {
  if (inode == 0) return;
  ++version_;
  if (slots_.empty() || InodeTableCrowded(size_ + 1, slots_.size())) {
    Grow(std::max<size_t>(16, slots_.size() * 2));
  }
  Slot& slot = slots_[Probe(inode)];
  if (slot.inode == 0) {
    slot = {inode, pid, 0};
    ++size_;
    return;
  }
  if (slot.shared == 0) {
    if (slot.pid == pid) return;
    shared_.push_back({std::min(slot.pid, pid), std::max(slot.pid, pid)});
    slot.shared = static_cast<uint32_t>(shared_.size());
    return;
  }
  std::vector<pid_t>& pids = shared_[slot.shared - 1];
  auto at = std::lower_bound(pids.begin(), pids.end(), pid);
  if (at == pids.end() || *at != pid) pids.insert(at, pid);
}

uint32_t SocketOwners::SlotOf(uint64_t inode) const {
  if (inode == 0 || slots_.empty()) return kNoSlot;
  size_t index = Probe(inode);
  return slots_[index].inode == 0 ? kNoSlot : static_cast<uint32_t>(index);
}

std::span<const pid_t> SocketOwners::AtSlot(uint32_t index) const {
  if (index == kNoSlot) return {};
  const Slot& slot = slots_[index];
  if (slot.shared == 0) return {&slot.pid, 1};
  return shared_[slot.shared - 1];
}

std::span<const pid_t> SocketOwners::Of(uint64_t inode) const { return AtSlot(SlotOf(inode)); }

void FdScanErrors::Record(int error) {
  if (error == ENOENT || error == ESRCH) {
    vanished = true;
  } else if (error == EACCES || error == EPERM) {
    permission_denied = true;
  } else {
    other = true;
  }
}

void FdScanErrors::AddTo(OwnerScanStats& stats) const {
  stats.vanished += vanished;
  stats.permission_denied += permission_denied;
  stats.other_errors += other;
}

bool ListPids(int procfs_fd, std::vector<pid_t>& pids) {
  pids.clear();
  int fd = openat(procfs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return false;
  }
  bool ok = true;
  while (true) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (entry == nullptr) {
      ok = errno == 0;
      break;
    }
    // self, thread-self, net, sys, ... are not processes. Only thread-group leaders are
    // listed: threads normally share their leader's fd table. A thread that called
    // unshare(CLONE_FILES) holds fds we do not see (a blind spot ss -p shares).
    if (std::optional<pid_t> pid = ParsePid(entry->d_name)) pids.push_back(*pid);
  }
  closedir(dir);
  // /proc lists pids in ascending order, but a fake tree (or a pid wrap during the walk)
  // need not.
  std::sort(pids.begin(), pids.end());
  return ok;
}

int StatFdDir(int procfs_fd, pid_t pid, FdDirSignature& signature) {
  struct stat info;
  if (fstatat(procfs_fd, FdPath(pid).text, &info, 0) != 0) return errno;
  signature = SignatureOf(info);
  return 0;
}

bool ReadSocketInodes(int procfs_fd, pid_t pid, std::vector<uint64_t>& inodes,
                      FdDirSignature& signature, FdScanErrors& errors) {
  inodes.clear();
  // The pid was listed a moment ago; it may have exited since (ENOENT/ESRCH, counted as
  // vanished). Reading another user's fds needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH;
  // without them this fails with EACCES, which is counted.
  int fd_dir = openat(procfs_fd, FdPath(pid).text, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_dir < 0) {
    errors.Record(errno);
    return false;
  }
  struct stat info;
  if (fstat(fd_dir, &info) == 0) signature = SignatureOf(info);
  DIR* dir = fdopendir(fd_dir);
  if (dir == nullptr) {
    errors.Record(errno);
    close(fd_dir);
    return true;
  }
  char link[kLinkBufferBytes];
  while (true) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (entry == nullptr) {
      // A process that exits mid-walk usually just ends the listing early (its fd table is
      // gone); an error here is the same race seen from getdents.
      if (errno != 0) errors.Record(errno);
      break;
    }
    if (entry->d_name[0] == '.') continue;
    ssize_t n = readlinkat(fd_dir, entry->d_name, link, sizeof(link));
    if (n < 0) {
      // ENOENT: the fd was closed, or the whole process exited, after readdir listed it.
      // Either way the fd is gone and is skipped; what was read before stays valid.
      errors.Record(errno);
      continue;
    }
    if (static_cast<size_t>(n) == sizeof(link)) continue;  // too long for a socket link
    if (std::optional<uint64_t> inode = ParseSocketLink(std::string_view(link, n))) {
      inodes.push_back(*inode);
    }
  }
  closedir(dir);
  // dup()ed fds of one socket count once.
  std::sort(inodes.begin(), inodes.end());
  inodes.erase(std::unique(inodes.begin(), inodes.end()), inodes.end());
  return true;
}

SocketOwners ScanSocketOwners(const std::string& procfs, OwnerScanStats& stats) {
  SocketOwners owners;
  int procfs_fd = open(procfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::vector<pid_t> pids;
  if (procfs_fd < 0 || !ListPids(procfs_fd, pids)) ++stats.other_errors;
  std::vector<uint64_t> inodes;
  for (pid_t pid : pids) {
    FdScanErrors errors;
    FdDirSignature signature;
    if (ReadSocketInodes(procfs_fd, pid, inodes, signature, errors)) {
      ++stats.processes_scanned;
      ++stats.processes_walked;
      for (uint64_t inode : inodes) owners.Add(inode, pid);
    }
    errors.AddTo(stats);
  }
  if (procfs_fd >= 0) close(procfs_fd);
  return owners;
}

}  // namespace connwatch
