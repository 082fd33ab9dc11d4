#include "sources/proc_process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>
#include <string>

#include "support/fake_proc.h"
#include "support/live_process.h"

namespace connwatch {
namespace {

using testing::FakeProc;
using testing::FakeProcess;
using testing::RunInUnprivilegedChild;
using testing::WaitingChildren;

using namespace std::literals;  // "...\0..."s keeps embedded NULs; ""sv

// Captured on Debian 12.11, kernel 6.18.44, 2026-11-29: /proc/1/stat of this machine's
// init (a container's "process_api"); starttime (field 22) is 22.
constexpr std::string_view kInitStat =
    "1 (process_api) S 0 0 0 0 -1 4194560 43935 5960898 0 1227 254 619 13630 2084 10 -10 13 0 "
    "22 41476096 2828 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 "
    "0 0 0 0\n";

// Captured the same day from a python3 that set its own name with prctl(PR_SET_NAME) and
// read /proc/self/stat after each one. The kernel writes the comm unescaped; the lines
// differed only in the comm (and minflt, field 10), so the tests rebuild them from the
// captured prefix and suffix below. starttime is 501951.
constexpr std::string_view kHostilePrefix = "30555 (";
constexpr std::string_view kHostileSuffix =
    ") R 30552 30552 2866 0 -1 4194560 1039 0 1 0 1 0 0 0 20 0 1 0 501951 14471168 2151 "
    "18446744073709551615 4321280 7148169 140722508430704 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 "
    "0 0 9723336 11027064 1083748352 140722508434040 140722508434069 140722508434069 "
    "140722508435431 0\n";

std::string HostileStat(std::string_view comm) {
  return std::string(kHostilePrefix) + std::string(comm) + std::string(kHostileSuffix);
}

// /proc/self/status of that python3 (run with ruid 65534, euid 1000 by setpriv) after it
// named itself "a\nUid:\t7\t7\t7\t7": status escapes the newline, so the fake Uid: stays on
// the Name: line. Cut after Kthread:; connwatch reads nothing further down.
constexpr std::string_view kCapturedStatus =
    "Name:\ta\\nUid:\t7\t7\t7\t7\nUmask:\t0022\nState:\tR (running)\nTgid:\t30555\nNgid:\t0\n"
    "Pid:\t30555\nPPid:\t30552\nTracerPid:\t0\nUid:\t65534\t1000\t1000\t1000\n"
    "Gid:\t65534\t1000\t1000\t1000\nFDSize:\t256\nGroups:\t \nNStgid:\t30555\nNSpid:\t30555\n"
    "NSpgid:\t30552\nNSsid:\t2866\nKthread:\t0\n";

double TicksPerSecond() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

TEST(ParseProcStatTest, ParsesCapturedInitStat) {
  auto stat = ParseProcStat(kInitStat);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->comm, "process_api");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 0) << "init has no parent";
  EXPECT_EQ(stat->start_time_ticks, 22u);
}

TEST(ParseProcStatTest, HostileCommsFromTheKernel) {
  for (std::string_view comm : {
           "(x) y"sv,
           "x) (y\nz"sv,
           "a b"sv,
           "x)"sv,
           ") ("sv,
           "ab\n"sv,
           "\xff\xfe"sv,
           "a\nUid:\t7\t7\t7\t7"sv,
           ""sv,
       }) {
    auto stat = ParseProcStat(HostileStat(comm));
    ASSERT_TRUE(stat.has_value()) << comm;
    EXPECT_EQ(stat->comm, comm);
    EXPECT_EQ(stat->state, 'R') << comm;
    EXPECT_EQ(stat->ppid, 30552) << comm;
    EXPECT_EQ(stat->start_time_ticks, 501951u) << comm;
  }
}

TEST(ParseProcStatTest, CommThatLooksLikeFields) {
  // A comm of ") Z 1 1 1 1" tries to shift every field by five; the last ')' wins.
  auto stat = ParseProcStat(HostileStat(") Z 1 1 1 1"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->comm, ") Z 1 1 1 1");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 30552) << "not the comm's fake 1";
  EXPECT_EQ(stat->start_time_ticks, 501951u);
}

TEST(ParseProcStatTest, RejectsMalformed) {
  for (std::string_view text : {
           ""sv,
           "\n"sv,
           "1 (x"sv,
           "1 x) S 0"sv,
           "1 )x( S 0"sv,
           "1 (x) S"sv,
           "1 (x) S 0 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0"sv,  // ends before field 22
           "1 (x) SS 0 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 22 0"sv,
           "1 (x) S 0 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 -22 0"sv,
           "1 (x) S 0 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 2x 0"sv,
           "1 (x) S -1 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 22 0"sv,  // a negative ppid
           "1 (x) S 1x 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 22 0"sv,
           "1 (x) S 99999999999 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 22 0"sv,
       }) {
    EXPECT_EQ(ParseProcStat(text), std::nullopt) << text;
  }
}

TEST(ParseProcStatTest, StopsAtFieldTwentyTwo) {
  // Exactly 22 fields, no trailing newline: enough.
  auto stat = ParseProcStat("1 (x) S 0 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1234");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->start_time_ticks, 1234u);
}

TEST(ParseStatusRealUidTest, TakesRealUidFromCapturedStatus) {
  // 65534 is the real uid; 1000 (effective) and the 7 on the Name: line are not.
  EXPECT_EQ(ParseStatusRealUid(kCapturedStatus), 65534u);
}

TEST(ParseStatusRealUidTest, OnlyALineStartCounts) {
  EXPECT_EQ(ParseStatusRealUid("Name:\tUid:\t0\nUid:\t42\t42\t42\t42\n"), 42u);
  EXPECT_EQ(ParseStatusRealUid("Name:\tx\nXUid:\t5\nUid:\t4294967295\t0\t0\t0"), 4294967295u);
}

TEST(ParseStatusRealUidTest, RejectsMalformed) {
  for (std::string_view text : {
           ""sv,
           "Name:\tx\n"sv,
           "Uid:\n"sv,
           "Uid:\tabc\t0\t0\t0\n"sv,
           "Uid:\t-1\t0\t0\t0\n"sv,
           "Uid:\t4294967296\t0\t0\t0\n"sv,  // past uint32
           "Name:\tUid:\t0\n"sv,
       }) {
    EXPECT_EQ(ParseStatusRealUid(text), std::nullopt) << text;
  }
}

TEST(ParseBootTimeTest, ReadsBtimeLine) {
  // Lines around btime from this machine's /proc/stat, abridged.
  EXPECT_EQ(ParseBootTime("cpu  17861 0 4739 896349 506 0 117 12 0 0\n"
                          "intr 1234 0 9\nctxt 5678\nbtime 1795933432\nprocesses 30000\n"),
            1795933432.0);
}

TEST(ParseBootTimeTest, RejectsMissingOrMalformed) {
  EXPECT_EQ(ParseBootTime(""), std::nullopt);
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nctxt 5\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btime x\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btimex 5\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("intr 1 btime 5\n"), std::nullopt);
}

TEST(ParseCmdlineTest, JoinsArguments) {
  EXPECT_EQ(ParseCmdline("/usr/bin/python3\0-m\0http.server\0"s, 256),
            "/usr/bin/python3 -m http.server");
  EXPECT_EQ(ParseCmdline("nginx: master process\0\0\0"s, 256), "nginx: master process");
  EXPECT_EQ(ParseCmdline("a\0\0b\0"s, 256), "a  b");  // an empty argument stays visible
  EXPECT_EQ(ParseCmdline("no-terminator", 256), "no-terminator");
  EXPECT_EQ(ParseCmdline("", 256), "");
  EXPECT_EQ(ParseCmdline("\0\0"s, 256), "");
}

TEST(ParseCmdlineTest, CutsToMaxBytes) {
  EXPECT_EQ(ParseCmdline("abcdef\0"s, 4), "abcd");
  // The cut lands on a separator: no trailing space.
  EXPECT_EQ(ParseCmdline("abc\0def\0"s, 4), "abc");
  EXPECT_EQ(ParseCmdline(std::string(1000, 'x'), kMaxCmdlineBytes).size(), kMaxCmdlineBytes);
}

TEST(ParseArgv0Test, FirstFieldOfTheRawCmdline) {
  EXPECT_EQ(ParseArgv0("/usr/bin/redis-server\0"
                       "127.0.0.1:6379\0"s,
                       false),
            "/usr/bin/redis-server");
  EXPECT_EQ(ParseArgv0("python3\0-m\0http.server\0"s, false), "python3");
  // setproctitle: the title replaces argv, padded with NULs or not at all.
  EXPECT_EQ(ParseArgv0("nginx: worker process\0\0\0"s, false), "nginx: worker process");
  EXPECT_EQ(ParseArgv0("no-terminator", false), "no-terminator");
  EXPECT_EQ(ParseArgv0("", false), "");                  // kernel threads, zombies
  EXPECT_EQ(ParseArgv0("\0-x\0"s, false), "");           // exec with an empty argv[0]
  EXPECT_EQ(ParseArgv0("a b/c\0d\0"s, false), "a b/c");  // spaces and slashes are bytes
}

TEST(ParseArgv0Test, ACutOffFirstFieldIsNoName) {
  // Read cap reached before any NUL: the bytes are a prefix of argv[0], whose basename
  // would be a name the process never had.
  EXPECT_EQ(ParseArgv0(std::string(256, 'a'), true), "");
  EXPECT_EQ(ParseArgv0("/usr/bin/x\0"s + std::string(250, 'b'), true), "/usr/bin/x");
}

TEST(StripDeletedSuffixTest, Strips) {
  EXPECT_EQ(StripDeletedSuffix("/usr/sbin/nginx (deleted)"),
            std::make_pair(std::string("/usr/sbin/nginx"), true));
  EXPECT_EQ(StripDeletedSuffix("/usr/sbin/nginx"),
            std::make_pair(std::string("/usr/sbin/nginx"), false));
  EXPECT_EQ(StripDeletedSuffix("/memfd:payload (deleted)"),
            std::make_pair(std::string("/memfd:payload"), true));
  // Only the one suffix the kernel appends.
  EXPECT_EQ(StripDeletedSuffix("/tmp/x (deleted) (deleted)"),
            std::make_pair(std::string("/tmp/x (deleted)"), true));
  EXPECT_EQ(StripDeletedSuffix("/tmp/x(deleted)"),
            std::make_pair(std::string("/tmp/x(deleted)"), false));
  EXPECT_EQ(StripDeletedSuffix(""), std::make_pair(std::string(), false));
}

TEST(ReadProcessTest, ReadsFakeProcess) {
  FakeProc proc;
  FakeProcess nginx;
  nginx.comm = "nginx";
  nginx.exe = "/usr/sbin/nginx";
  nginx.cmdline = "nginx: master process /usr/sbin/nginx\0"s;
  nginx.start_time_ticks = 12345;
  proc.AddProcess(4321, nginx);
  ProcessReadStats stats;
  auto process = ReadProcess(proc.root(), 4321, FakeProc::kBootTime, stats);
  ASSERT_TRUE(process.has_value());
  EXPECT_EQ(process->pid, 4321);
  EXPECT_EQ(process->name, "nginx");
  EXPECT_EQ(process->comm, "nginx");
  EXPECT_EQ(process->exe, "/usr/sbin/nginx");
  EXPECT_FALSE(process->exe_deleted);
  EXPECT_EQ(process->uid, 0u);
  EXPECT_EQ(process->user, "root");
  EXPECT_DOUBLE_EQ(process->start_time_seconds, FakeProc::kBootTime + 12345 / TicksPerSecond());
  EXPECT_EQ(process->cmdline, "nginx: master process /usr/sbin/nginx");
  EXPECT_EQ(process->cgroup, "") << "no cgroup file: unread";
  EXPECT_EQ(stats.vanished, 0u);
  EXPECT_EQ(stats.permission_denied, 0u);
}

TEST(ReadProcessTest, ReadsTheCgroupV2Path) {
  FakeProc proc;
  FakeProcess redis;
  redis.cgroup =
      "1:name=systemd:/docker/x\n0::/system.slice/docker-" + std::string(64, 'a') + ".scope\n";
  proc.AddProcess(77, redis);
  ProcessReadStats stats;
  auto process = ReadProcess(proc.root(), 77, FakeProc::kBootTime, stats);
  ASSERT_TRUE(process.has_value());
  EXPECT_EQ(process->cgroup, "/system.slice/docker-" + std::string(64, 'a') + ".scope");
}

TEST(ReadProcessTest, ReadsThePpid) {
  FakeProc proc;
  FakeProcess child;
  child.ppid = 77;
  proc.AddProcess(4321, child);
  ProcessReadStats stats;
  auto process = ReadProcess(proc.root(), 4321, FakeProc::kBootTime, stats);
  ASSERT_TRUE(process.has_value());
  EXPECT_EQ(process->ppid, 77);
}

TEST(ReadParentNameTest, NamesALiveOlderParentOnly) {
  FakeProc proc;
  FakeProcess parent, child, orphan, reused_parent_child;
  parent.comm = "sshd";
  parent.exe = "/usr/sbin/sshd";
  parent.start_time_ticks = 100;
  child.ppid = 50;
  child.start_time_ticks = 200;
  orphan.ppid = 51;  // its parent exited: no <root>/51
  orphan.start_time_ticks = 200;
  reused_parent_child.ppid = 50;  // pid 50 now belongs to a process younger than this one
  reused_parent_child.start_time_ticks = 90;
  proc.AddProcess(50, parent);
  ProcessReadStats stats;
  auto read = [&](pid_t pid, const FakeProcess& fake) {
    proc.AddProcess(pid, fake);
    std::optional<Process> process = ReadProcess(proc.root(), pid, 0, stats);
    return process ? ReadParentName(proc.root(), *process, 0) : "unread";
  };
  EXPECT_EQ(read(60, child), "sshd");
  EXPECT_EQ(read(61, orphan), "");
  EXPECT_EQ(read(62, reused_parent_child), "");
  Process init;
  init.ppid = 0;
  EXPECT_EQ(ReadParentName(proc.root(), init, 0), "");
}

TEST(ReadProcessTest, ReadsArgv0BesideTheExe) {
  // Debian's redis: /usr/bin/redis-server is a symlink to redis-check-rdb, so the exe link
  // names the target while argv[0] and comm keep the name it was started by.
  FakeProc proc;
  FakeProcess redis;
  redis.comm = "redis-server";
  redis.exe = "/usr/bin/redis-check-rdb";
  redis.cmdline =
      "/usr/bin/redis-server\0--port\0"
      "6379\0"s;
  proc.AddProcess(77, redis);
  FakeProcess long_argv0;
  long_argv0.cmdline = "/" + std::string(300, 'x') + "\0"s;  // past the 256-byte cap
  proc.AddProcess(78, long_argv0);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 77, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->name, "redis-check-rdb");
  EXPECT_EQ(read->argv0, "/usr/bin/redis-server");
  EXPECT_EQ(read->cmdline, "/usr/bin/redis-server --port 6379");
  read = ReadProcess(proc.root(), 78, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->argv0, "") << "cut off by the cap: unknown, not a prefix";
  EXPECT_EQ(read->cmdline.size(), kMaxCmdlineBytes);
}

TEST(ReadProcessTest, NameComesFromExeNotComm) {
  // comm is cut to 15 bytes and set by the process at will; the exe basename is neither.
  FakeProc proc;
  FakeProcess process;
  process.comm = "connwatch_unit_";
  process.exe = "/opt/bin/connwatch_unit_tests";
  proc.AddProcess(10, process);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->name, "connwatch_unit_tests");
  EXPECT_EQ(read->comm, "connwatch_unit_");
}

TEST(ReadProcessTest, DeletedExe) {
  FakeProc proc;
  FakeProcess process;
  process.comm = "nginx";
  process.exe = "/usr/sbin/nginx (deleted)";  // upgraded under the running daemon
  proc.AddProcess(10, process);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->exe, "/usr/sbin/nginx");
  EXPECT_TRUE(read->exe_deleted);
  EXPECT_EQ(read->name, "nginx");
}

TEST(ReadProcessTest, MissingExeFallsBackToComm) {
  // Kernel threads have an exe link that readlink answers with ENOENT.
  FakeProc proc;
  FakeProcess kthread;
  kthread.comm = "kworker/0:1";
  kthread.exe = std::nullopt;
  proc.AddProcess(10, kthread);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->exe, "");
  EXPECT_FALSE(read->exe_deleted);
  EXPECT_EQ(read->name, "kworker/0:1");
  EXPECT_EQ(read->cmdline, "");
  EXPECT_EQ(stats.permission_denied, 0u);  // not a permission problem
}

TEST(ReadProcessTest, UnreadableExeFallsBackToComm) {
  // An exe that is not a symlink (readlink: EINVAL) stands in for any other failure; the
  // real EACCES case is ReadProcessLiveTest.OtherUsersExeIsDenied.
  FakeProc proc;
  FakeProcess process;
  process.comm = "daemon";
  process.exe = std::nullopt;
  proc.AddProcess(10, process);
  proc.WriteFile("10/exe", "");
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->exe, "");
  EXPECT_EQ(read->name, "daemon");
}

TEST(ReadProcessTest, HostileComm) {
  FakeProc proc;
  FakeProcess process;
  process.comm = "x) (y\nz";
  process.exe = std::nullopt;
  proc.AddProcess(10, process);
  FakeProcess bytes;
  bytes.comm = "\xff\xfe";
  bytes.exe = std::nullopt;
  proc.AddProcess(11, bytes);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->comm, "x) (y\nz");
  EXPECT_EQ(read->name, "x) (y\nz");  // sanitizing is the metrics layer's job
  read = ReadProcess(proc.root(), 11, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->comm, "\xff\xfe");
}

TEST(ReadProcessTest, CommKeepsItsOwnTrailingNewline) {
  // A process that wrote "ab\n" to its comm: the comm file reads "ab\n\n" (checked on this
  // kernel), and only the kernel's newline is stripped.
  FakeProc proc;
  FakeProcess process;
  process.comm = "ab\n";
  proc.AddProcess(10, process);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->comm, "ab\n");
}

TEST(ReadProcessTest, MissingCommFileFallsBackToStat) {
  FakeProc proc;
  FakeProcess process;
  process.comm = "from-stat";
  proc.AddProcess(10, process);
  proc.Remove("10/comm");
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->comm, "from-stat");
}

TEST(ReadProcessTest, CmdlineIsTruncated) {
  FakeProc proc;
  FakeProcess process;
  process.cmdline = "/usr/bin/java\0"s + std::string(5000, 'x') + "\0"s;
  proc.AddProcess(10, process);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->cmdline.size(), kMaxCmdlineBytes);
  EXPECT_TRUE(read->cmdline.starts_with("/usr/bin/java xxx"));
}

TEST(ReadProcessTest, UsesRealNotEffectiveUid) {
  FakeProc proc;
  FakeProcess process;
  process.uid = 65534;
  process.euid = 0;  // a setuid-root binary run by nobody
  proc.AddProcess(10, process);
  ProcessReadStats stats;
  auto read = ReadProcess(proc.root(), 10, 0, stats);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->uid, 65534u);
  EXPECT_EQ(read->user, "nobody");
}

TEST(ReadProcessTest, VanishedProcessIsCounted) {
  FakeProc proc;
  proc.AddVanishedProcess(10);  // the directory is there, stat is not
  ProcessReadStats stats;
  EXPECT_EQ(ReadProcess(proc.root(), 10, 0, stats), std::nullopt);
  EXPECT_EQ(ReadProcess(proc.root(), 11, 0, stats), std::nullopt);  // no directory at all
  EXPECT_EQ(stats.vanished, 2u);
  EXPECT_EQ(stats.permission_denied, 0u);
}

TEST(ReadProcessTest, ExitBetweenStatAndStatusIsCounted) {
  FakeProc proc;
  proc.AddProcess(10);
  proc.Remove("10/status");
  proc.AddProcess(11);
  proc.WriteFile("11/stat", "");  // an exiting process can read back empty
  ProcessReadStats stats;
  EXPECT_EQ(ReadProcess(proc.root(), 10, 0, stats), std::nullopt);
  EXPECT_EQ(ReadProcess(proc.root(), 11, 0, stats), std::nullopt);
  EXPECT_EQ(stats.vanished, 2u);
}

TEST(ReadBootTimeTest, ReadsFakeStat) {
  FakeProc proc;
  EXPECT_EQ(ReadBootTime(proc.root()), FakeProc::kBootTime);
  proc.Remove("stat");
  EXPECT_EQ(ReadBootTime(proc.root()), std::nullopt);
}

TEST(UserNamesTest, ResolvesAndFallsBackToNumber) {
  UserNames users;
  EXPECT_EQ(users.NameOf(0), "root");
  EXPECT_EQ(users.NameOf(0), "root");  // remembered
  EXPECT_EQ(users.NameOf(65534), "nobody");
  EXPECT_EQ(users.NameOf(3999999999u), "3999999999");
}

// Against the real /proc: this test binary itself.
TEST(ReadProcessLiveTest, ReadsOwnProcess) {
  auto boot_time = ReadBootTime("/proc");
  ASSERT_TRUE(boot_time.has_value());
  ProcessReadStats stats;
  auto process = ReadProcess("/proc", getpid(), *boot_time, stats);
  ASSERT_TRUE(process.has_value());
  // The binary's own name (program_invocation_short_name is argv[0]'s basename); comm is
  // the same cut to 15 bytes.
  std::string binary = program_invocation_short_name;
  EXPECT_EQ(process->name, binary);
  EXPECT_EQ(process->comm, binary.substr(0, 15));
  EXPECT_TRUE(process->exe.ends_with("/" + binary)) << process->exe;
  EXPECT_EQ(process->uid, getuid());
  EXPECT_EQ(process->user, UserNames().NameOf(getuid()));
  double now = static_cast<double>(time(nullptr));
  EXPECT_LE(process->start_time_seconds, now + 1);
  EXPECT_GT(process->start_time_seconds, now - 3600);
  EXPECT_FALSE(process->cmdline.empty());
  EXPECT_EQ(stats.vanished, 0u);
  EXPECT_EQ(stats.permission_denied, 0u);
}

TEST(ReadProcessLiveTest, OtherUsersExeIsDenied) {
  // A root-owned child (a copy of this binary, waiting for its pipe to close) read by a
  // second child that dropped to nobody: its exe link is off limits (EACCES without
  // CAP_SYS_PTRACE) while stat and status stay world-readable, so it is reported under its
  // comm and the denial is counted.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to read a process as another user";
  WaitingChildren holders;
  ASSERT_NO_FATAL_FAILURE(holders.Start(1));
  const pid_t holder = holders.pids()[0];
  std::string comm = std::string(program_invocation_short_name).substr(0, 15);
  std::string failure = RunInUnprivilegedChild([&]() -> std::string {
    ProcessReadStats stats;
    auto process = ReadProcess("/proc", holder, 0, stats);
    if (!process) return "holder not read";
    if (process->exe != "") return "exe readable: " + process->exe;
    if (process->name != comm) return "name " + process->name + " != " + comm;
    if (process->uid != 0) return "uid " + std::to_string(process->uid);
    if (stats.permission_denied != 1) {
      return "permission_denied=" + std::to_string(stats.permission_denied);
    }
    return "";
  });
  EXPECT_EQ(failure, "");
}

}  // namespace
}  // namespace connwatch
