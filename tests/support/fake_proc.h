// A temporary directory shaped like /proc, for tests of the /proc readers (proc_fd,
// proc_process). The fd entries are real symlinks whose targets are the texts the kernel
// shows ("socket:[N]", "pipe:[N]", "/dev/null"), so the readers run their real readlink
// path against it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connwatch::testing {

struct FakeProcess {
  // Written unescaped to stat and comm, as the kernel does; hostile bytes welcome.
  std::string comm = "fake";
  char state = 'S';
  pid_t ppid = 1;
  uint64_t start_time_ticks = 460292;  // stat field 22
  uint32_t uid = 0;                    // real uid, the first number of status's Uid: line
  std::optional<uint32_t> euid;        // the second one; defaults to uid
  // Target of the exe symlink; nullopt leaves it out (readlink: ENOENT, like a kernel
  // thread's).
  std::optional<std::string> exe = "/usr/bin/fake";
  std::string cmdline;  // raw: arguments each followed by a NUL, as the kernel shows them
  // The whole /proc/<pid>/cgroup text ("0::/path\n"); "" leaves the file out.
  std::string cgroup;
};

// Ways the fd directory of a process can fail to open. What each really exercises, given
// that the tests run as root (root bypasses permission bits):
enum class FdDirFault {
  kMissing,          // no fd entry at all: ENOENT, the process exited (counted vanished)
  kDanglingSymlink,  // fd is a symlink to a missing path: ENOENT as well (vanished)
  kNotADirectory,    // fd is a regular file: ENOTDIR (counted as another error)
  kSymlinkLoop,      // fd is a symlink to itself: ELOOP (another error)
  // Mode 000: EACCES for a non-root caller only. Root opens it anyway, so a test that
  // wants EACCES must read the tree from a child that dropped privileges.
  kNoPermission,
};

class FakeProc {
 public:
  // The btime written to <root>/stat.
  static constexpr double kBootTime = 1795933432;

  // Creates /tmp/connwatch-fakeproc-XXXXXX holding <root>/stat (with kBootTime). Mode 0755,
  // so a forked child that dropped privileges can read it too.
  FakeProc();
  // Removes the whole tree.
  ~FakeProc();
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  const std::string& root() const { return root_; }
  std::string Path(const std::string& relative) const { return root_ + "/" + relative; }

  // <root>/<pid>/ with stat, status, comm, cmdline, exe (unless nullopt) and an empty fd/.
  FakeProc& AddProcess(pid_t pid, const FakeProcess& process = {});
  // <root>/<pid>/fd/<fd> -> "socket:[inode]". Creates <pid>/fd if needed.
  FakeProc& AddSocket(pid_t pid, int fd, uint64_t inode);
  // <root>/<pid>/fd/<fd> -> any link text: "pipe:[7]", "/dev/null", "anon_inode:[eventfd]".
  FakeProc& AddFdLink(pid_t pid, int fd, const std::string& target);
  // Removes <root>/<pid>/fd/<fd>.
  FakeProc& RemoveFd(pid_t pid, int fd);
  // Points <pid>/fd/<fd> at `target` (replacing any link there) and then restores the fd
  // directory's mtime: an fd table that changed while its fd count stayed the same, which
  // only a full walk notices.
  FakeProc& ReplaceFdQuietly(pid_t pid, int fd, const std::string& target);
  // Rewrites stat, status, comm, cmdline and exe of <pid> in place, leaving its fd
  // directory alone: another process under a reused pid (start_time_ticks differs), or an
  // execve / prctl(PR_SET_NAME) (it does not).
  FakeProc& RewriteProcess(pid_t pid, const FakeProcess& process);
  // An empty numeric directory: a process that exited between the readdir of the root and
  // the reads of its files (there is no fd, stat or status under it).
  FakeProc& AddVanishedProcess(pid_t pid);
  // Replaces <pid>/fd (and whatever was in it) with `fault`.
  FakeProc& BreakFdDir(pid_t pid, FdDirFault fault);

  // Raw building blocks for shapes the helpers above do not cover. Paths are relative to
  // root(); failures are reported as gtest failures.
  void WriteFile(const std::string& relative, std::string_view content);
  void Symlink(const std::string& relative, const std::string& target);
  void MakeDir(const std::string& relative);
  void Remove(const std::string& relative);

 private:
  // Every change to an fd directory gives it a new mtime, unique in this run: the file
  // system's own mtime has the granularity of a clock tick, so two changes within one tick
  // (or a change and a sample) could otherwise leave the directory looking untouched.
  // procfs shows the same change as a new st_size (the fd count).
  void MarkFdDirChanged(pid_t pid);

  std::string root_;
  std::vector<std::string> chmodded_;  // restored before removal (needed when not root)
};

// The /proc/<pid>/stat and /proc/<pid>/status texts FakeProc writes, laid out like the
// kernel's (6.x) with plausible values in the fields connwatch does not read.
std::string FakeStatText(pid_t pid, const FakeProcess& process);
std::string FakeStatusText(pid_t pid, const FakeProcess& process);

// Runs `check` in a forked child that, when started as root, drops to nobody (uid and gid
// 65534, no supplementary groups): the only way to meet a real EACCES from a root test
// run. Returns what `check` returned ("" for success), or a description of how the child
// failed. `check` must not use gtest assertions (they would not reach the parent).
std::string RunInUnprivilegedChild(const std::function<std::string()>& check);

}  // namespace connwatch::testing
