#include "sources/proc_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace connwatch {
namespace {

constexpr std::string_view kSocketPrefix = "socket:[";

// "socket:[" + 20 digits + "]" is 29 bytes. Any link that fills this buffer is longer than
// a socket link can be, so a full buffer means "not a socket" without reading the rest:
// file paths and other anon inodes ("anon_inode:[eventfd]", "pipe:[N]") are skipped cheaply.
constexpr size_t kLinkBufferBytes = 64;

// What went wrong with one process. Each process adds at most one to each counter, so the
// counters read as "processes affected", not "fds affected".
struct ProcessErrors {
  bool vanished = false;
  bool permission_denied = false;
  bool other = false;

  void Record(int error) {
    if (error == ENOENT || error == ESRCH) {
      vanished = true;
    } else if (error == EACCES || error == EPERM) {
      permission_denied = true;
    } else {
      other = true;
    }
  }
  void AddTo(OwnerScanStats& stats) const {
    stats.vanished += vanished;
    stats.permission_denied += permission_denied;
    stats.other_errors += other;
  }
};

std::optional<pid_t> ParsePid(const char* name) {
  size_t length = strlen(name);
  if (length == 0) return std::nullopt;
  pid_t pid = 0;
  auto [end, error] = std::from_chars(name, name + length, pid);
  if (error != std::errc() || end != name + length || pid <= 0) return std::nullopt;
  return pid;
}

// Reads every fd link of one process into `owners`. `fd_dir` is consumed.
void ScanFdDir(int fd_dir, pid_t pid, SocketOwners& owners, ProcessErrors& errors) {
  DIR* dir = fdopendir(fd_dir);
  if (dir == nullptr) {
    errors.Record(errno);
    close(fd_dir);
    return;
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
    std::optional<uint64_t> inode = ParseSocketLink(std::string_view(link, n));
    if (!inode) continue;
    std::vector<pid_t>& pids = owners[*inode];
    // dup()ed fds of one process are adjacent in this walk; other duplicates are removed
    // when the walk ends.
    if (pids.empty() || pids.back() != pid) pids.push_back(pid);
  }
  closedir(dir);
}

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

SocketOwners ScanSocketOwners(const std::string& procfs, OwnerScanStats& stats) {
  SocketOwners owners;
  DIR* proc = opendir(procfs.c_str());
  if (proc == nullptr) {
    ++stats.other_errors;
    return owners;
  }
  int proc_fd = dirfd(proc);
  // "<pid>/fd": pids have at most 10 digits, so 32 bytes always suffice.
  char fd_path[32];
  while (true) {
    errno = 0;
    const dirent* entry = readdir(proc);
    if (entry == nullptr) {
      if (errno != 0) ++stats.other_errors;
      break;
    }
    std::optional<pid_t> pid = ParsePid(entry->d_name);
    // self, thread-self, net, sys, ... are not processes. Only thread-group leaders are
    // listed and walked: threads normally share their leader's fd table. A thread that
    // called unshare(CLONE_FILES) holds fds we do not see (a blind spot ss -p shares).
    if (!pid) continue;
    // The pid was listed a moment ago; it may have exited since (ENOENT/ESRCH, counted as
    // vanished and skipped). Reading another user's fds needs CAP_SYS_PTRACE and
    // CAP_DAC_READ_SEARCH; without them this fails with EACCES, which is counted.
    std::snprintf(fd_path, sizeof(fd_path), "%d/fd", *pid);
    ProcessErrors errors;
    int fd_dir = openat(proc_fd, fd_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_dir < 0) {
      errors.Record(errno);
    } else {
      ++stats.processes_scanned;
      ScanFdDir(fd_dir, *pid, owners, errors);
    }
    errors.AddTo(stats);
  }
  closedir(proc);
  // /proc lists pids in ascending order, but a fake tree (or a pid wrap during the walk)
  // need not; sort so that owner lists are deterministic.
  for (auto& [inode, pids] : owners) {
    if (pids.size() < 2) continue;
    std::sort(pids.begin(), pids.end());
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  }
  return owners;
}

}  // namespace connwatch
