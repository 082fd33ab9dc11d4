#include "sources/proc_fd.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "support/fake_proc.h"
#include "support/live_process.h"

namespace connwatch {
namespace {

using testing::FakeProc;
using testing::FdDirFault;
using testing::LoopbackListener;
using testing::RunInUnprivilegedChild;
using testing::WaitingChildren;

std::vector<pid_t> OwnersOf(const SocketOwners& owners, uint64_t inode) {
  std::span<const pid_t> pids = owners.Of(inode);
  return std::vector<pid_t>(pids.begin(), pids.end());
}

TEST(ParseSocketLinkTest, AcceptsSocketLinks) {
  EXPECT_EQ(ParseSocketLink("socket:[12345]"), 12345u);
  EXPECT_EQ(ParseSocketLink("socket:[1]"), 1u);
  EXPECT_EQ(ParseSocketLink("socket:[18446744073709551615]"), UINT64_MAX);
}

TEST(ParseSocketLinkTest, RejectsEverythingElse) {
  for (const char* link : {
           "",
           "socket:[",
           "socket:[]",
           "socket:[12",
           "socket:12]",
           "socket:[12]x",
           "socket:[12]]",
           "socket:[-1]",
           "socket:[+1]",
           "socket:[ 1]",
           "socket:[1 ]",
           "socket:[0x1f]",
           "socket:[18446744073709551616]",  // 2^64: overflows the inode
           "Socket:[12]",
           "socket[12]",
           " socket:[12]",
           "pipe:[12]",
           "net:[4026531840]",
           "anon_inode:[eventfd]",
           "anon_inode:inotify",
           "/dev/null",
           "/tmp/socket:[12]",  // a file whose name looks like a socket link
       }) {
    EXPECT_EQ(ParseSocketLink(link), std::nullopt) << '"' << link << '"';
  }
}

TEST(ParseSocketLinkTest, RejectsInodeZero) {
  // TIME_WAIT and request sockets report inode 0; an owner for 0 would claim all of them.
  EXPECT_EQ(ParseSocketLink("socket:[0]"), std::nullopt);
}

TEST(SocketOwnersTest, KeepsOwnersSortedUniqueThroughGrowth) {
  SocketOwners owners;
  EXPECT_TRUE(owners.Of(5).empty());
  // Sequential inodes, as sockfs hands them out, past several doublings of the table.
  for (uint64_t inode = 1; inode <= 5000; ++inode) owners.Add(inode, static_cast<pid_t>(inode));
  owners.Add(77, 9);
  owners.Add(77, 1);
  owners.Add(77, 9);
  owners.Add(78, 78);  // its own pid again
  owners.Add(0, 1);    // inode 0 never has owners
  EXPECT_EQ(owners.size(), 5000u);
  EXPECT_EQ(OwnersOf(owners, 77), (std::vector<pid_t>{1, 9, 77}));
  EXPECT_EQ(OwnersOf(owners, 78), std::vector<pid_t>{78});
  EXPECT_EQ(OwnersOf(owners, 4999), std::vector<pid_t>{4999});
  EXPECT_TRUE(owners.Of(0).empty());
  EXPECT_TRUE(owners.Of(5001).empty());
}

TEST(ScanSocketOwnersTest, FindsOwnersInFakeTree) {
  FakeProc proc;
  proc.AddProcess(100).AddSocket(100, 3, 4242).AddSocket(100, 4, 5000);
  proc.AddProcess(7).AddSocket(7, 5, 6000);
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners(proc.root(), stats);
  EXPECT_EQ(owners.size(), 3u);
  EXPECT_EQ(OwnersOf(owners, 4242), std::vector<pid_t>{100});
  EXPECT_EQ(OwnersOf(owners, 5000), std::vector<pid_t>{100});
  EXPECT_EQ(OwnersOf(owners, 6000), std::vector<pid_t>{7});
  EXPECT_EQ(stats.processes_scanned, 2u);
  EXPECT_EQ(stats.vanished, 0u);
  EXPECT_EQ(stats.permission_denied, 0u);
  EXPECT_EQ(stats.other_errors, 0u);
}

TEST(ScanSocketOwnersTest, SharedSocketHasSortedUniqueOwners) {
  // A listener inherited over fork (pid 300 forked 20 and 1000), one copy dup()ed twice.
  FakeProc proc;
  proc.AddProcess(1000).AddSocket(1000, 3, 777);
  proc.AddProcess(300).AddSocket(300, 3, 777).AddSocket(300, 9, 777).AddSocket(300, 10, 777);
  proc.AddProcess(20).AddSocket(20, 3, 777);
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners(proc.root(), stats);
  EXPECT_EQ(OwnersOf(owners, 777), (std::vector<pid_t>{20, 300, 1000}));
  EXPECT_EQ(stats.processes_scanned, 3u);
}

TEST(ScanSocketOwnersTest, IgnoresNonSocketFds) {
  FakeProc proc;
  proc.AddProcess(100)
      .AddFdLink(100, 0, "/dev/null")
      .AddFdLink(100, 1, "pipe:[4242]")  // same number as the socket below: not a socket
      .AddFdLink(100, 2, "anon_inode:[eventfd]")
      .AddFdLink(100, 3, "/tmp/socket:[9999]")
      .AddFdLink(100, 4, "net:[4026531840]")
      .AddFdLink(100, 5, "/" + std::string(300, 'x'))  // longer than any socket link
      .AddFdLink(100, 6, "socket:[0]")
      .AddSocket(100, 7, 4343);
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners(proc.root(), stats);
  EXPECT_EQ(owners.size(), 1u);
  EXPECT_EQ(OwnersOf(owners, 4343), std::vector<pid_t>{100});
  EXPECT_EQ(stats.other_errors, 0u);
}

TEST(ScanSocketOwnersTest, IgnoresNonNumericEntries) {
  FakeProc proc;
  proc.AddProcess(100).AddSocket(100, 3, 1);
  // Entries a real /proc has beside the pids, plus names that only look numeric. Each holds
  // an fd dir with a socket, which must not be reported.
  proc.Symlink("self", "100");
  proc.Symlink("thread-self", "100/task/100");
  uint64_t inode = 50;
  for (const char* name : {"net", "sys", "1a", "+5", "-1", "0", " 7", "99999999999999999999"}) {
    proc.MakeDir(name);
    proc.MakeDir(std::string(name) + "/fd");
    proc.Symlink(std::string(name) + "/fd/3", "socket:[" + std::to_string(inode++) + "]");
  }
  proc.WriteFile("uptime", "123.45 67.89\n");
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners(proc.root(), stats);
  EXPECT_EQ(owners.size(), 1u);
  EXPECT_EQ(OwnersOf(owners, 1), std::vector<pid_t>{100});
  EXPECT_EQ(stats.processes_scanned, 1u);
  EXPECT_EQ(stats.other_errors, 0u);
}

TEST(ScanSocketOwnersTest, VanishedProcessIsSkippedAndCounted) {
  FakeProc proc;
  proc.AddProcess(100).AddSocket(100, 3, 1);
  proc.AddVanishedProcess(200);  // listed by readdir, gone before its fd dir was opened
  proc.AddProcess(300).AddSocket(300, 3, 3).BreakFdDir(300, FdDirFault::kDanglingSymlink);
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners(proc.root(), stats);
  EXPECT_EQ(owners.size(), 1u);
  EXPECT_EQ(OwnersOf(owners, 1), std::vector<pid_t>{100});
  EXPECT_EQ(stats.processes_scanned, 1u);
  EXPECT_EQ(stats.vanished, 2u);
  EXPECT_EQ(stats.permission_denied, 0u);
  EXPECT_EQ(stats.other_errors, 0u);
}

TEST(ScanSocketOwnersTest, BrokenFdDirsAreCountedAsOtherErrors) {
  // Shapes a real /proc never has; they check that an unexpected errno is counted, not
  // fatal, and does not stop the walk.
  FakeProc proc;
  proc.AddProcess(100).AddSocket(100, 3, 1);
  proc.AddProcess(200).BreakFdDir(200, FdDirFault::kNotADirectory);  // ENOTDIR
  proc.AddProcess(300).BreakFdDir(300, FdDirFault::kSymlinkLoop);    // ELOOP
  // An fd entry that is not a symlink: readlinkat fails with EINVAL. Counted once for the
  // process; its other fds are still read.
  proc.AddProcess(400).AddSocket(400, 3, 4).AddSocket(400, 5, 5);
  proc.WriteFile("400/fd/4", "");
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners(proc.root(), stats);
  EXPECT_EQ(owners.size(), 3u);
  EXPECT_EQ(OwnersOf(owners, 4), std::vector<pid_t>{400});
  EXPECT_EQ(OwnersOf(owners, 5), std::vector<pid_t>{400});
  EXPECT_EQ(stats.processes_scanned, 2u);
  EXPECT_EQ(stats.other_errors, 3u);
  EXPECT_EQ(stats.vanished, 0u);
}

TEST(ScanSocketOwnersTest, UnreadableFdDirIsCountedAsPermissionDenied) {
  FakeProc proc;
  proc.AddProcess(100).AddSocket(100, 3, 1);
  proc.AddProcess(200).AddSocket(200, 3, 2).BreakFdDir(200, FdDirFault::kNoPermission);
  // Root ignores mode 000, so the walk runs in a child that dropped to nobody: the EACCES
  // is then the kernel's own answer.
  std::string failure = RunInUnprivilegedChild([&]() -> std::string {
    OwnerScanStats stats;
    SocketOwners owners = ScanSocketOwners(proc.root(), stats);
    if (owners.size() != 1 || OwnersOf(owners, 1) != std::vector<pid_t>{100}) {
      return "unexpected owners";
    }
    if (stats.permission_denied != 1) {
      return "permission_denied=" + std::to_string(stats.permission_denied);
    }
    if (stats.processes_scanned != 1 || stats.vanished != 0 || stats.other_errors != 0) {
      return "unexpected stats";
    }
    return "";
  });
  EXPECT_EQ(failure, "");
}

TEST(ScanSocketOwnersTest, MissingRootIsAnError) {
  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners("/nonexistent/connwatch-proc", stats);
  EXPECT_TRUE(owners.empty());
  EXPECT_EQ(stats.processes_scanned, 0u);
  EXPECT_EQ(stats.other_errors, 1u);
}

TEST(ScanSocketOwnersTest, EmptyTreeHasNoOwners) {
  FakeProc proc;
  OwnerScanStats stats;
  EXPECT_TRUE(ScanSocketOwners(proc.root(), stats).empty());
  EXPECT_EQ(stats.processes_scanned, 0u);
  EXPECT_EQ(stats.other_errors, 0u);
}

// Against the real /proc: a socket this test opens, then shares with a forked child.
TEST(ScanSocketOwnersLiveTest, FindsOwnSocketAndForkedChild) {
  LoopbackListener sock;
  ASSERT_NO_FATAL_FAILURE(sock.Open());

  OwnerScanStats stats;
  SocketOwners owners = ScanSocketOwners("/proc", stats);
  EXPECT_EQ(OwnersOf(owners, sock.inode()), std::vector<pid_t>{getpid()});
  EXPECT_GT(stats.processes_scanned, 0u);

  WaitingChildren children;
  ASSERT_NO_FATAL_FAILURE(children.Start(1));
  OwnerScanStats after_fork;
  owners = ScanSocketOwners("/proc", after_fork);
  std::vector<pid_t> expected = {getpid(), children.pids()[0]};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(OwnersOf(owners, sock.inode()), expected);
}

}  // namespace
}  // namespace connwatch
