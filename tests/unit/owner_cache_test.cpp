// The owner cache against fake /proc trees (real socket:[N] symlinks) and real processes:
// after every change, the cached attribution is compared with a cold walk of the same tree.
#include "sources/owner_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "sources/snapshot.h"
#include "support/fake_proc.h"
#include "support/live_process.h"

namespace connwatch {
namespace {

using testing::FakeProc;
using testing::FakeProcess;
using testing::LoopbackListener;
using testing::WaitingChildren;

Socket MakeSocket(uint64_t inode, uint64_t cookie, uint32_t uid = 0) {
  Socket socket;
  socket.state = SocketState::kEstablished;
  socket.inode = inode;
  socket.cookie = cookie;
  socket.uid = uid;
  return socket;
}

// inode -> owners, for the given sockets only (a walk also finds inodes of Unix sockets).
std::map<uint64_t, std::vector<pid_t>> OwnersOf(const SocketOwners& owners,
                                                const std::vector<Socket>& sockets) {
  std::map<uint64_t, std::vector<pid_t>> result;
  for (const Socket& socket : sockets) {
    std::span<const pid_t> pids = owners.Of(socket.inode);
    if (!pids.empty()) result[socket.inode] = std::vector<pid_t>(pids.begin(), pids.end());
  }
  return result;
}

class OwnerCacheTest : public ::testing::Test {
 protected:
  // One cached scan; also checks it against a cold walk unless told the cache may differ.
  std::map<uint64_t, std::vector<pid_t>> Scan(bool expect_same_as_cold = true) {
    stats_ = OwnerScanStats();
    SocketOwners cached = cache_.Scan(proc_.root(), sockets_, full_scan_every_, stats_);
    cold_stats_ = OwnerScanStats();
    SocketOwners cold = ScanSocketOwners(proc_.root(), cold_stats_);
    auto result = OwnersOf(cached, sockets_);
    if (expect_same_as_cold) {
      EXPECT_EQ(result, OwnersOf(cold, sockets_)) << "the cache differs from a cold walk";
      EXPECT_EQ(stats_.processes_scanned, cold_stats_.processes_scanned);
      EXPECT_EQ(stats_.vanished, cold_stats_.vanished);
      EXPECT_EQ(stats_.permission_denied, cold_stats_.permission_denied);
      EXPECT_EQ(stats_.other_errors, cold_stats_.other_errors);
    }
    return result;
  }

  FakeProc proc_;
  OwnerCache cache_;
  std::vector<Socket> sockets_;
  uint32_t full_scan_every_ = 1000;
  OwnerScanStats stats_, cold_stats_;
};

using Owners = std::map<uint64_t, std::vector<pid_t>>;

// What procfs does for a new process under a reused pid: <pid>/fd is another directory with
// another inode number. Links, entry count and mtime stay as they were, so only the inode
// number differs.
void GiveFdDirANewInode(FakeProc& proc, pid_t pid) {
  const std::string fd = std::to_string(pid) + "/fd";
  struct stat old_dir {};
  ASSERT_EQ(stat(proc.Path(fd).c_str(), &old_dir), 0);
  proc.MakeDir(fd + ".next");  // made while the old one exists: another inode number
  for (const auto& link : std::filesystem::directory_iterator(proc.Path(fd))) {
    proc.Symlink(fd + ".next/" + link.path().filename().string(),
                 std::filesystem::read_symlink(link.path()).string());
  }
  proc.Remove(fd);
  std::filesystem::rename(proc.Path(fd + ".next"), proc.Path(fd));
  timespec times[2] = {old_dir.st_atim, old_dir.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, proc.Path(fd).c_str(), times, 0), 0);
  struct stat new_dir {};
  ASSERT_EQ(stat(proc.Path(fd).c_str(), &new_dir), 0);
  ASSERT_NE(new_dir.st_ino, old_dir.st_ino);
  ASSERT_EQ(new_dir.st_size, old_dir.st_size);
}

TEST_F(OwnerCacheTest, SteadyTreeIsNotWalkedAgain) {
  proc_.AddProcess(100).AddSocket(100, 3, 10).AddSocket(100, 4, 11);
  proc_.AddProcess(200).AddSocket(200, 3, 20).AddFdLink(200, 4, "pipe:[7]");
  proc_.AddProcess(300);  // no sockets
  sockets_ = {MakeSocket(10, 1), MakeSocket(11, 2), MakeSocket(20, 3)};
  Owners expected = {{10, {100}}, {11, {100}}, {20, {200}}};
  EXPECT_EQ(Scan(), expected);
  EXPECT_EQ(stats_.processes_walked, 3u) << "the first scan is a full walk";
  EXPECT_TRUE(cache_.last_scan_full());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Scan(), expected);
    EXPECT_EQ(stats_.processes_walked, 0u) << "nothing changed: every claim is cached";
    EXPECT_EQ(stats_.processes_scanned, 3u);
    EXPECT_FALSE(cache_.last_scan_full());
  }
}

TEST_F(OwnerCacheTest, ChangedAndNewProcessesAreWalked) {
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(200).AddSocket(200, 3, 20);
  sockets_ = {MakeSocket(10, 1), MakeSocket(20, 2)};
  Scan();
  // 100 opens a socket (its fd count changes); 300 appears.
  proc_.AddSocket(100, 4, 12);
  proc_.AddProcess(300).AddSocket(300, 3, 30);
  sockets_.push_back(MakeSocket(12, 3));
  sockets_.push_back(MakeSocket(30, 4));
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {12, {100}}, {20, {200}}, {30, {300}}}));
  EXPECT_EQ(stats_.processes_walked, 2u) << "only 100 and 300";
  // 100 closes one, the socket goes.
  proc_.RemoveFd(100, 3);
  sockets_.erase(sockets_.begin());
  EXPECT_EQ(Scan(), (Owners{{12, {100}}, {20, {200}}, {30, {300}}}));
  EXPECT_EQ(stats_.processes_walked, 1u);
}

TEST_F(OwnerCacheTest, UnknownSocketInAnUnchangedProcessIsSearchedForSocketUidFirst) {
  FakeProcess alice;
  alice.uid = 1000;
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(150).AddSocket(150, 3, 15);
  proc_.AddProcess(200, alice).AddSocket(200, 3, 20);
  proc_.AddProcess(300).AddSocket(300, 3, 30);
  sockets_ = {MakeSocket(10, 1), MakeSocket(15, 2), MakeSocket(20, 3, 1000), MakeSocket(30, 4)};
  Scan();
  // 200 closed 20 and accepted 21 in one interval: same fd count, a socket nobody claims.
  proc_.ReplaceFdQuietly(200, 3, "socket:[21]");
  sockets_[2] = MakeSocket(21, 5, 1000);
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {15, {150}}, {21, {200}}, {30, {300}}}));
  EXPECT_EQ(stats_.processes_walked, 1u) << "the processes of uid 1000 come first";
  // The search stops once every unknown socket is found; found sockets stay cached.
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {15, {150}}, {21, {200}}, {30, {300}}}));
  EXPECT_EQ(stats_.processes_walked, 0u);
}

TEST_F(OwnerCacheTest, SocketNobodyHoldsIsSearchedOnceUntilTheNextFullWalk) {
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(200).AddSocket(200, 3, 20);
  sockets_ = {MakeSocket(10, 1), MakeSocket(20, 2)};
  full_scan_every_ = 4;
  Scan();
  sockets_.push_back(MakeSocket(99, 3));  // e.g. held by a process we may not read
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {20, {200}}}));
  EXPECT_EQ(stats_.processes_walked, 2u) << "searched every process once";
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {20, {200}}}));
  EXPECT_EQ(stats_.processes_walked, 0u) << "known to be unfindable";
  // Found after all once a process is seen to change.
  proc_.AddSocket(200, 4, 99);
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {20, {200}}, {99, {200}}}));
  EXPECT_EQ(stats_.processes_walked, 1u);
}

TEST_F(OwnerCacheTest, SocketClosedSinceTheDumpIsNotSearchedFor) {
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(200).AddSocket(200, 3, 20);
  sockets_ = {MakeSocket(10, 1), MakeSocket(20, 2)};
  Scan();
  sockets_.push_back(MakeSocket(30, 3));  // in the dump, closed before the walk
  sockets_.push_back(MakeSocket(40, 4));  // in the dump, its last fd closed since (inode 0)
  std::vector<uint64_t> asked;
  SockDiagLookup lookup = [&asked](const Socket& socket, uint64_t& inode) {
    asked.push_back(socket.inode);
    inode = 0;
    return socket.inode == 30 ? SocketLookup::kGone : SocketLookup::kOpen;
  };
  OwnerScanStats stats;
  SocketOwners owners = cache_.Scan(proc_.root(), sockets_, 1000, stats, lookup);
  EXPECT_EQ(OwnersOf(owners, sockets_), (Owners{{10, {100}}, {20, {200}}}));
  EXPECT_EQ(asked, (std::vector<uint64_t>{30, 40}));
  EXPECT_EQ(stats.processes_walked, 0u);
}

TEST_F(OwnerCacheTest, ReusedInodeIsNotAttributedToItsFormerHolder) {
  proc_.AddProcess(100).AddSocket(100, 3, 500).AddSocket(100, 4, 10);
  sockets_ = {MakeSocket(500, 1), MakeSocket(10, 2)};
  Scan();
  // 100 closed socket 500 and opened a pipe (same fd count); a new process 200 holds a new
  // socket that got the same inode number, with another cookie.
  proc_.ReplaceFdQuietly(100, 3, "pipe:[4]");
  proc_.AddProcess(200).AddSocket(200, 3, 500);
  sockets_[0] = MakeSocket(500, 77);
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {500, {200}}}));
  EXPECT_EQ(stats_.processes_walked, 2u) << "200 is new; 100 claimed a socket that changed";
}

TEST_F(OwnerCacheTest, ExitedProcessesAndReusedPids) {
  FakeProcess first;
  first.start_time_ticks = 1000;
  proc_.AddProcess(100, first).AddSocket(100, 3, 10).AddSocket(100, 4, 11);
  proc_.AddProcess(200).AddSocket(200, 3, 11);  // shares 11 with 100
  sockets_ = {MakeSocket(10, 1), MakeSocket(11, 2)};
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {11, {100, 200}}}));
  // 100 exits: its own socket goes, the shared one stays with 200.
  proc_.Remove("100");
  sockets_ = {MakeSocket(11, 2)};
  EXPECT_EQ(Scan(), (Owners{{11, {200}}}));
  // Pid 100 again: another process (another start time) whose fd directory happens to look
  // like the old one's. Its claims are read again, not inherited.
  proc_.AddProcess(100, first).AddSocket(100, 3, 11);
  EXPECT_EQ(Scan(), (Owners{{11, {100, 200}}}));
  // And again: its fds look unchanged (same count, same mtime) but it is another process,
  // holding a pipe where the old one held the shared socket. procfs gives every process's
  // fd directory a new inode number: that alone tells.
  FakeProcess second = first;
  second.start_time_ticks = 2000;
  proc_.RewriteProcess(100, second);
  proc_.ReplaceFdQuietly(100, 3, "pipe:[5]");
  ASSERT_NO_FATAL_FAILURE(GiveFdDirANewInode(proc_, 100));
  EXPECT_EQ(Scan(), (Owners{{11, {200}}}));
  EXPECT_EQ(stats_.processes_walked, 1u);
}

// A process listed but gone by the time its fd directory is looked at (a zombie: the pid
// directory stays, the fd table is gone) claims nothing any more.
TEST_F(OwnerCacheTest, ProcessGoneBetweenListingAndStatLosesItsClaims) {
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(200).AddSocket(200, 3, 20);
  sockets_ = {MakeSocket(10, 1), MakeSocket(20, 2)};
  EXPECT_EQ(Scan(), (Owners{{10, {100}}, {20, {200}}}));
  proc_.Remove("100/fd");
  EXPECT_EQ(Scan(), (Owners{{20, {200}}}));
  EXPECT_EQ(stats_.vanished, 1u);
}

TEST_F(OwnerCacheTest, FdPassedToAnotherProcess) {
  proc_.AddProcess(100).AddSocket(100, 3, 600);
  proc_.AddProcess(200).AddFdLink(200, 3, "/dev/null");
  sockets_ = {MakeSocket(600, 1)};
  EXPECT_EQ(Scan(), (Owners{{600, {100}}}));
  proc_.AddSocket(200, 4, 600);  // received over SCM_RIGHTS
  EXPECT_EQ(Scan(), (Owners{{600, {100, 200}}}));
  proc_.RemoveFd(100, 3);  // the sender closes its copy
  EXPECT_EQ(Scan(), (Owners{{600, {200}}}));
}

TEST_F(OwnerCacheTest, ForkedChildrenSharingAListener) {
  proc_.AddProcess(100).AddSocket(100, 3, 80);
  sockets_ = {MakeSocket(80, 1)};
  Scan();
  proc_.AddProcess(101).AddSocket(101, 3, 80);
  proc_.AddProcess(102).AddSocket(102, 3, 80);
  EXPECT_EQ(Scan(), (Owners{{80, {100, 101, 102}}}));
  EXPECT_EQ(stats_.processes_walked, 2u);
  proc_.Remove("101");
  EXPECT_EQ(Scan(), (Owners{{80, {100, 102}}}));
}

TEST_F(OwnerCacheTest, PeriodicFullWalkFindsWhatTheCacheMissed) {
  // The documented blind spot: 200 gains a socket that 100 already owns while its fd count
  // stays the same. Nothing is unknown, so only the next full walk sees the new owner.
  proc_.AddProcess(100).AddSocket(100, 3, 80);
  proc_.AddProcess(200).AddFdLink(200, 3, "/dev/null");
  sockets_ = {MakeSocket(80, 1)};
  full_scan_every_ = 3;
  Scan();  // sample 1: full
  proc_.ReplaceFdQuietly(200, 3, "socket:[80]");
  EXPECT_EQ(Scan(false), (Owners{{80, {100}}}));  // sample 2: the miss
  EXPECT_FALSE(cache_.last_scan_full());
  EXPECT_EQ(Scan(false), (Owners{{80, {100}}}));  // sample 3
  EXPECT_EQ(Scan(), (Owners{{80, {100, 200}}}));  // sample 4: full again
  EXPECT_TRUE(cache_.last_scan_full());
  EXPECT_EQ(stats_.processes_walked, 2u);
}

TEST_F(OwnerCacheTest, ErrorsAreCountedEverySampleAsAColdWalkCountsThem) {
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(200).BreakFdDir(200, testing::FdDirFault::kNotADirectory);
  proc_.AddVanishedProcess(300);
  sockets_ = {MakeSocket(10, 1)};
  for (int i = 0; i < 3; ++i) {
    Scan();
    EXPECT_EQ(stats_.other_errors, 1u);
    EXPECT_EQ(stats_.vanished, 1u);
  }
}

TEST_F(OwnerCacheTest, UnreadableProcessIsCountedAndNotSearched) {
  proc_.AddProcess(100).AddSocket(100, 3, 10);
  proc_.AddProcess(200).AddSocket(200, 3, 20).BreakFdDir(200, testing::FdDirFault::kNoPermission);
  sockets_ = {MakeSocket(10, 1), MakeSocket(20, 2)};
  // Root reads mode 000 anyway; the refusal needs an unprivileged reader.
  std::string failure = testing::RunInUnprivilegedChild([&]() -> std::string {
    for (int i = 0; i < 3; ++i) {
      OwnerScanStats stats;
      SocketOwners owners = cache_.Scan(proc_.root(), sockets_, 1000, stats);
      if (OwnersOf(owners, sockets_) != Owners{{10, {100}}}) return "unexpected owners";
      if (stats.permission_denied != 1) return "denied=" + std::to_string(stats.permission_denied);
      if (i > 0 && stats.processes_walked != 0) {
        return "sample " + std::to_string(i) + " walked " + std::to_string(stats.processes_walked);
      }
    }
    return "";
  });
  EXPECT_EQ(failure, "");
}

TEST_F(OwnerCacheTest, ProcessAttributesAreReusedUntilCommOrProcessChanges) {
  FakeProcess nginx;
  nginx.comm = "nginx";
  nginx.exe = "/usr/sbin/nginx";
  proc_.AddProcess(100, nginx).AddSocket(100, 3, 10);
  sockets_ = {MakeSocket(10, 1)};
  ProcessReadStats stats;
  Scan();
  EXPECT_EQ(cache_.ReadProcess(proc_.root(), 100, 0, stats)->name, "nginx");
  // An edited argv is not seen before the next full walk (documented)...
  FakeProcess edited = nginx;
  edited.cmdline = std::string("nginx: worker process\0", 22);
  proc_.RewriteProcess(100, edited);
  Scan();
  EXPECT_EQ(cache_.ReadProcess(proc_.root(), 100, 0, stats)->cmdline, "");
  // ...its binary deleted under it is, at once: the exe link is read every sample.
  FakeProcess deleted = nginx;
  deleted.exe = "/usr/sbin/nginx (deleted)";
  proc_.RewriteProcess(100, deleted);
  Scan();
  std::optional<Process> read = cache_.ReadProcess(proc_.root(), 100, 0, stats);
  EXPECT_TRUE(read->exe_deleted);
  EXPECT_EQ(read->exe, "/usr/sbin/nginx");
  // So is an exec of another binary with the same comm...
  FakeProcess renamed = nginx;
  renamed.exe = "/usr/sbin/nginx-debug";
  proc_.RewriteProcess(100, renamed);
  Scan();
  EXPECT_EQ(cache_.ReadProcess(proc_.root(), 100, 0, stats)->name, "nginx-debug");
  // ...and one that changes comm (as exec does).
  renamed.comm = "nginx-debug";
  proc_.RewriteProcess(100, renamed);
  Scan();
  EXPECT_EQ(cache_.ReadProcess(proc_.root(), 100, 0, stats)->name, "nginx-debug");
  // So is another process under the same pid, even with the same comm: its fd directory
  // is another one.
  FakeProcess other = renamed;
  other.exe = "/usr/bin/curl";
  other.start_time_ticks = nginx.start_time_ticks + 5;
  proc_.RewriteProcess(100, other);
  ASSERT_NO_FATAL_FAILURE(GiveFdDirANewInode(proc_, 100));
  Scan();
  EXPECT_EQ(cache_.ReadProcess(proc_.root(), 100, 0, stats)->name, "curl");
  EXPECT_EQ(stats.vanished, 0u);
}

TEST_F(OwnerCacheTest, SnapshotWithCacheAttributesLikeAColdSnapshot) {
  FakeProcess nginx;
  nginx.comm = "nginx";
  nginx.exe = "/usr/sbin/nginx";
  proc_.AddProcess(100, nginx).AddSocket(100, 3, 10).AddSocket(100, 4, 11);
  proc_.AddProcess(101, nginx).AddSocket(101, 3, 10);
  sockets_ = {MakeSocket(10, 1), MakeSocket(11, 2), MakeSocket(12, 3)};
  SnapshotOptions options;
  options.procfs = proc_.root();
  options.source_mode = SourceMode::kNetlink;
  options.sock_diag_dump = [this](std::vector<Socket>& out, SockDiagStats&, std::string&) {
    out = sockets_;
    return true;
  };
  ZoneClassifier zones;
  SnapshotCache cache;
  for (int i = 0; i < 3; ++i) {
    if (i == 2) proc_.AddProcess(102, nginx).AddSocket(102, 3, 12);
    Snapshot cached = TakeSnapshot(options, zones, &cache);
    Snapshot cold = TakeSnapshot(options, zones);
    AttributionDiff diff = CompareAttribution(cached, cold);
    EXPECT_EQ(diff.compared, 3u);
    EXPECT_EQ(diff.differing, 0u) << (diff.examples.empty() ? "" : diff.examples[0]);
    EXPECT_EQ(cached.processes.size(), cold.processes.size());
  }
  EXPECT_EQ(cache.samples(), 3u);

  // OwnersOf answers from an index made once per snapshot; a copy keeps a valid one, and an
  // owner added afterwards voids it.
  sockets_.push_back(MakeSocket(13, 4));  // no owner
  Snapshot snapshot = TakeSnapshot(options, zones, &cache);
  Snapshot copy = snapshot;
  snapshot = Snapshot();
  auto owners_of = [](const Snapshot& s, size_t i) {
    std::span<const pid_t> pids = s.OwnersOf(s.sockets[i]);
    return std::vector<pid_t>(pids.begin(), pids.end());
  };
  EXPECT_EQ(owners_of(copy, 0), (std::vector<pid_t>{100, 101}));
  EXPECT_EQ(owners_of(copy, 2), (std::vector<pid_t>{102}));
  EXPECT_TRUE(owners_of(copy, 3).empty());
  copy.owners.Add(12, 7);
  copy.owners.Add(13, 7);
  EXPECT_EQ(owners_of(copy, 2), (std::vector<pid_t>{7, 102}));
  EXPECT_EQ(owners_of(copy, 3), (std::vector<pid_t>{7}));
  Socket outside = copy.sockets[1];  // not an element of copy.sockets: looked up by inode
  EXPECT_EQ(copy.OwnersOf(outside).size(), 1u);
}

TEST(CompareAttributionTest, ReportsDifferentOwners) {
  Snapshot a, b;
  a.sockets = {MakeSocket(10, 1), MakeSocket(11, 2), MakeSocket(12, 3)};
  b.sockets = {MakeSocket(10, 1), MakeSocket(11, 2), MakeSocket(13, 4)};
  a.owners.Add(10, 100);
  b.owners.Add(10, 100);
  a.owners.Add(11, 100);
  b.owners.Add(11, 200);
  b.owners.Add(11, 100);
  AttributionDiff diff = CompareAttribution(a, b);
  EXPECT_EQ(diff.compared, 2u);
  EXPECT_EQ(diff.differing, 1u);
  EXPECT_EQ(diff.only_in_one, 2u);
  ASSERT_EQ(diff.examples.size(), 1u);
  EXPECT_EQ(diff.examples[0], "inode 11: [100(?)] vs [100(?) 200(?)]");
}

// Real processes and the real kernel: a listener shared with forked children, sampled with
// a cache (the same one every time) and cold, in turn.
TEST(OwnerCacheLiveTest, ForkedChildrenSharingAListenerOnTheRealProc) {
  LoopbackListener listener;
  ASSERT_NO_FATAL_FAILURE(listener.Open());

  SnapshotOptions options;
  options.source_mode = SourceMode::kNetlink;
  ZoneClassifier zones;
  SnapshotCache cache;
  auto owners_of_listener = [&](const Snapshot& snapshot) {
    for (const Socket& socket : snapshot.sockets) {
      if (socket.inode == listener.inode()) {
        std::span<const pid_t> pids = snapshot.OwnersOf(socket);
        return std::vector<pid_t>(pids.begin(), pids.end());
      }
    }
    return std::vector<pid_t>{};
  };
  EXPECT_EQ(owners_of_listener(TakeSnapshot(options, zones, &cache)), std::vector<pid_t>{getpid()});

  WaitingChildren children;
  ASSERT_NO_FATAL_FAILURE(children.Start(2));
  std::vector<pid_t> expected = children.pids();
  expected.push_back(getpid());
  std::sort(expected.begin(), expected.end());
  Snapshot cached = TakeSnapshot(options, zones, &cache);
  Snapshot cold = TakeSnapshot(options, zones);
  EXPECT_EQ(owners_of_listener(cached), expected);
  EXPECT_EQ(owners_of_listener(cold), expected);
  EXPECT_FALSE(cache.owners().last_scan_full());

  children.Release();
  EXPECT_EQ(owners_of_listener(TakeSnapshot(options, zones, &cache)), std::vector<pid_t>{getpid()});
}

TEST(LookUpSockDiagTest, TellsOpenFromClosedSockets) {
  LoopbackListener listener;
  ASSERT_NO_FATAL_FAILURE(listener.Open());

  std::vector<Socket> dumped;
  SockDiagStats stats;
  std::string error;
  ASSERT_TRUE(DumpSockDiag(dumped, stats, error)) << error;
  auto it = std::find_if(dumped.begin(), dumped.end(),
                         [&](const Socket& socket) { return socket.inode == listener.inode(); });
  ASSERT_NE(it, dumped.end());
  Socket dumped_listener = *it;
  uint64_t inode = 0;
  EXPECT_EQ(LookUpSockDiag(dumped_listener, inode), SocketLookup::kOpen);
  EXPECT_EQ(inode, listener.inode());
  Socket other_cookie = dumped_listener;
  other_cookie.cookie ^= 1;
  EXPECT_EQ(LookUpSockDiag(other_cookie, inode), SocketLookup::kGone) << "ESTALE";
  listener.Close();
  EXPECT_EQ(LookUpSockDiag(dumped_listener, inode), SocketLookup::kGone);
}

}  // namespace
}  // namespace connwatch
