#include "support/fake_proc.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "support/live_process.h"

namespace connwatch::testing {
namespace {

std::string Errno() { return std::strerror(errno); }

// status shows the comm escaped (a newline as the two characters \n), unlike stat and comm.
std::string EscapeStatusName(std::string_view comm) {
  std::string escaped;
  for (char c : comm) {
    if (c == '\n') {
      escaped += "\\n";
    } else if (c == '\\') {
      escaped += "\\\\";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

}  // namespace

std::string FakeStatText(pid_t pid, const FakeProcess& process) {
  // Fields 4..21 and 23..52 copied from a real `sleep` on Debian 12 (kernel 6.18); only pid,
  // comm, state, ppid and starttime (22) vary.
  std::string text = std::to_string(pid) + " (" + process.comm + ") " + process.state + " " +
                     std::to_string(process.ppid) +
                     " 29879 2866 0 -1 4194304 131 0 0 0 0 0 0 0 20 0 1 0 " +
                     std::to_string(process.start_time_ticks) +
                     " 2990080 394 18446744073709551615 94633118347264 94633118365193 "
                     "140735166273648 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 94633118379280 "
                     "94633118380544 94634125467648 140735166278287 140735166278297 "
                     "140735166278297 140735166279657 0\n";
  return text;
}

std::string FakeStatusText(pid_t pid, const FakeProcess& process) {
  std::string p = std::to_string(pid);
  std::string uid = std::to_string(process.uid);
  std::string euid = std::to_string(process.euid.value_or(process.uid));
  return "Name:\t" + EscapeStatusName(process.comm) +
         "\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t" + p + "\nNgid:\t0\nPid:\t" + p +
         "\nPPid:\t" + std::to_string(process.ppid) + "\nTracerPid:\t0\nUid:\t" + uid + "\t" +
         euid + "\t" + euid + "\t" + euid +
         "\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t \nNStgid:\t" + p + "\nNSpid:\t" + p +
         "\nKthread:\t0\nVmPeak:\t    2920 kB\nThreads:\t1\n";
}

FakeProc::FakeProc() {
  char dir[] = "/tmp/connwatch-fakeproc-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    // Without a root every path below would be absolute under "/": stop here.
    std::perror("FakeProc: mkdtemp");
    std::abort();
  }
  root_ = dir;
  if (chmod(root_.c_str(), 0755) != 0) ADD_FAILURE() << "chmod " << root_ << ": " << Errno();
  // The shape of a real /proc/stat, abridged: btime comes after the cpu and intr lines.
  WriteFile("stat",
            "cpu  17861 0 4739 896349 506 0 117 12 0 0\n"
            "cpu0 4997 0 1854 452867 16 0 50 3 0 0\n"
            "intr 1234 0 9 0 0\n"
            "ctxt 5678\n"
            "btime " +
                std::to_string(static_cast<uint64_t>(kBootTime)) +
                "\n"
                "processes 30000\n"
                "procs_running 1\n"
                "procs_blocked 0\n");
}

FakeProc::~FakeProc() {
  for (const std::string& path : chmodded_) chmod(path.c_str(), 0755);
  std::error_code error;
  std::filesystem::remove_all(root_, error);
}

FakeProc& FakeProc::AddProcess(pid_t pid, const FakeProcess& process) {
  std::string dir = std::to_string(pid);
  MakeDir(dir);
  MakeDir(dir + "/fd");
  // procfs makes the fd directory owned by the process's effective uid.
  if (lchown(Path(dir + "/fd").c_str(), process.euid.value_or(process.uid), 0) != 0) {
    ADD_FAILURE() << "chown " << Path(dir + "/fd") << ": " << Errno();
  }
  MarkFdDirChanged(pid);
  return RewriteProcess(pid, process);
}

FakeProc& FakeProc::RewriteProcess(pid_t pid, const FakeProcess& process) {
  std::string dir = std::to_string(pid);
  WriteFile(dir + "/stat", FakeStatText(pid, process));
  WriteFile(dir + "/status", FakeStatusText(pid, process));
  WriteFile(dir + "/comm", process.comm + "\n");
  WriteFile(dir + "/cmdline", process.cmdline);
  if (!process.cgroup.empty()) WriteFile(dir + "/cgroup", process.cgroup);
  unlink(Path(dir + "/exe").c_str());
  if (process.exe) Symlink(dir + "/exe", *process.exe);
  return *this;
}

void FakeProc::MarkFdDirChanged(pid_t pid) {
  static int64_t next_second = 1000000000;
  timespec times[2] = {{0, UTIME_OMIT}, {next_second++, 0}};
  std::string path = Path(std::to_string(pid) + "/fd");
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    ADD_FAILURE() << "utimensat " << path << ": " << Errno();
  }
}

FakeProc& FakeProc::RemoveFd(pid_t pid, int fd) {
  Remove(std::to_string(pid) + "/fd/" + std::to_string(fd));
  MarkFdDirChanged(pid);
  return *this;
}

FakeProc& FakeProc::ReplaceFdQuietly(pid_t pid, int fd, const std::string& target) {
  std::string dir = Path(std::to_string(pid) + "/fd");
  struct stat before {};
  if (stat(dir.c_str(), &before) != 0) ADD_FAILURE() << "stat " << dir << ": " << Errno();
  unlink((dir + "/" + std::to_string(fd)).c_str());
  Symlink(std::to_string(pid) + "/fd/" + std::to_string(fd), target);
  timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  if (utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    ADD_FAILURE() << "utimensat " << dir << ": " << Errno();
  }
  return *this;
}

FakeProc& FakeProc::AddSocket(pid_t pid, int fd, uint64_t inode) {
  return AddFdLink(pid, fd, "socket:[" + std::to_string(inode) + "]");
}

FakeProc& FakeProc::AddFdLink(pid_t pid, int fd, const std::string& target) {
  std::string dir = std::to_string(pid) + "/fd";
  std::error_code error;
  std::filesystem::create_directories(Path(dir), error);
  if (error) ADD_FAILURE() << "mkdir " << Path(dir) << ": " << error.message();
  Symlink(dir + "/" + std::to_string(fd), target);
  MarkFdDirChanged(pid);
  return *this;
}

FakeProc& FakeProc::AddVanishedProcess(pid_t pid) {
  MakeDir(std::to_string(pid));
  return *this;
}

FakeProc& FakeProc::BreakFdDir(pid_t pid, FdDirFault fault) {
  std::string fd = std::to_string(pid) + "/fd";
  Remove(fd);
  switch (fault) {
    case FdDirFault::kMissing:
      break;
    case FdDirFault::kDanglingSymlink:
      Symlink(fd, Path(std::to_string(pid) + "/no-such-dir"));
      break;
    case FdDirFault::kNotADirectory:
      WriteFile(fd, "");
      break;
    case FdDirFault::kSymlinkLoop:
      Symlink(fd, "fd");  // relative to <pid>/: points at itself
      break;
    case FdDirFault::kNoPermission:
      MakeDir(fd);
      if (chmod(Path(fd).c_str(), 0) != 0) {
        ADD_FAILURE() << "chmod " << Path(fd) << ": " << Errno();
      }
      chmodded_.push_back(Path(fd));
      break;
  }
  return *this;
}

void FakeProc::WriteFile(const std::string& relative, std::string_view content) {
  std::string path = Path(relative);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    ADD_FAILURE() << "open " << path << ": " << Errno();
    return;
  }
  if (write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    ADD_FAILURE() << "write " << path << ": " << Errno();
  }
  close(fd);
}

void FakeProc::Symlink(const std::string& relative, const std::string& target) {
  // symlink(2) stores any text as the target: "socket:[42]" need not exist as a file.
  if (symlink(target.c_str(), Path(relative).c_str()) != 0) {
    ADD_FAILURE() << "symlink " << Path(relative) << " -> " << target << ": " << Errno();
  }
}

void FakeProc::MakeDir(const std::string& relative) {
  if (mkdir(Path(relative).c_str(), 0755) != 0 && errno != EEXIST) {
    ADD_FAILURE() << "mkdir " << Path(relative) << ": " << Errno();
  }
}

void FakeProc::Remove(const std::string& relative) {
  std::error_code error;
  std::filesystem::remove_all(Path(relative), error);
  if (error) ADD_FAILURE() << "remove " << Path(relative) << ": " << error.message();
}

std::string RunInUnprivilegedChild(const std::function<std::string()>& check) {
  constexpr uid_t kNobody = 65534;
  return RunInChild([&check]() -> std::string {
    if (geteuid() == 0 &&
        (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0)) {
      return "dropping privileges: " + Errno();
    }
    return check();
  });
}

}  // namespace connwatch::testing
