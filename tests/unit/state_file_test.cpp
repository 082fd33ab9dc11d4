#include "tracking/state_file.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "base/read_file.h"
#include "net/cidr.h"
#include "sources/proc_sys.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using Entries = ConnectionTable;

constexpr const char* kBoot = "6a1f0c2e-1d1b-4f57-9c1e-2b2f1c0d9e11";

ConnectionKey CookieKey(uint64_t cookie) {
  ConnectionKey key;
  key.cookie = cookie;
  return key;
}

ConnectionKey InodeKey(uint64_t inode, Transport transport, const char* local, uint16_t local_port,
                       const char* remote, uint16_t remote_port) {
  ConnectionKey key;
  key.inode = inode;
  key.transport = transport;
  key.local = *ParseIpAddress(local);
  key.local_port = local_port;
  key.remote = *ParseIpAddress(remote);
  key.remote_port = remote_port;
  return key;
}

TrackerState SampleState() {
  TrackerState state;
  state.boot_id = kBoot;
  state.entries[CookieKey(18446744073709551615ull)] = {12.5, AgeSource::kConntrack};
  state.entries[InodeKey(4242, Transport::kTcp, "10.0.0.1", 40000, "192.0.2.7", 443)] = {
      100.125, AgeSource::kFirstSeen};
  state.entries[InodeKey(0, Transport::kUdp, "2001:db8::1", 5353, "2001:db8::2", 65535)] = {
      0, AgeSource::kProcessStart};
  state.entries[InodeKey(7, Transport::kTcp, "::ffff:10.0.0.1", 8080, "::ffff:10.0.0.9", 1)] = {
      1234567.000001, AgeSource::kFirstSeen};
  return state;
}

void ExpectSameEntries(const Entries& actual, const Entries& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [key, tracked] : expected) {
    auto it = actual.find(key);
    ASSERT_NE(it, actual.end()) << key.cookie << " " << key.inode;
    EXPECT_EQ(it->second.start_boot_seconds, tracked.start_boot_seconds);
    EXPECT_EQ(it->second.source, tracked.source);
  }
}

// The parse error for `text`, which must not parse.
std::string ParseError(const std::string& text) {
  std::string error;
  auto state = ParseTrackerState(text, error);
  EXPECT_FALSE(state.has_value()) << text;
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

TEST(TrackerStateTest, SerializesCompactText) {
  TrackerState state;
  state.boot_id = "b00t";
  state.entries[InodeKey(4242, Transport::kTcp, "10.0.0.1", 40000, "192.0.2.7", 443)] = {
      100.125, AgeSource::kFirstSeen};
  state.entries[CookieKey(77)] = {12.5, AgeSource::kConntrack};
  state.entries[InodeKey(9, Transport::kUdp, "2001:db8::1", 5353, "2001:db8::2", 53)] = {
      50, AgeSource::kProcessStart};
  EXPECT_EQ(SerializeTrackerState(state),
            "connwatch-connection-state 1\n"
            "boot_id b00t\n"
            "c 77 12.5 conntrack\n"
            "i 9 u 2001:db8::1 5353 2001:db8::2 53 50 process_start\n"
            "i 4242 t 10.0.0.1 40000 192.0.2.7 443 100.125 first_seen\n"
            "end 3\n");
}

TEST(TrackerStateTest, RoundTrips) {
  TrackerState state = SampleState();
  std::string error = "stale";
  auto parsed = ParseTrackerState(SerializeTrackerState(state), error);
  ASSERT_TRUE(parsed.has_value()) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(parsed->boot_id, kBoot);
  ExpectSameEntries(parsed->entries, state.entries);
}

// Oldest first; at one start, procfs keys (no cookie) before cookies, each by its key.
TEST(TrackerStateTest, OrdersByStartThenKey) {
  TrackerState state;
  state.boot_id = kBoot;
  state.entries[CookieKey(3)] = {5, AgeSource::kFirstSeen};
  state.entries[InodeKey(8, Transport::kTcp, "10.0.0.1", 1, "10.0.0.2", 2)] = {
      5, AgeSource::kFirstSeen};
  state.entries[CookieKey(2)] = {5, AgeSource::kConntrack};
  state.entries[CookieKey(9)] = {1, AgeSource::kProcessStart};
  state.entries[InodeKey(7, Transport::kUdp, "10.0.0.1", 1, "10.0.0.2", 2)] = {
      5, AgeSource::kFirstSeen};
  state.entries[InodeKey(4, Transport::kTcp, "10.0.0.1", 1, "10.0.0.2", 2)] = {
      6, AgeSource::kFirstSeen};
  std::string text = SerializeTrackerState(state);
  std::vector<std::string> keys;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("c ") || line.starts_with("i ")) {
      keys.push_back(line.substr(0, line.find(' ', 2)));
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"c 9", "i 7", "i 8", "c 2", "c 3", "i 4"})) << text;
}

TEST(TrackerStateTest, EmptyTableRoundTrips) {
  TrackerState state;
  state.boot_id = kBoot;
  std::string error;
  auto parsed = ParseTrackerState(SerializeTrackerState(state), error);
  ASSERT_TRUE(parsed.has_value()) << error;
  EXPECT_EQ(parsed->boot_id, kBoot);
  EXPECT_TRUE(parsed->entries.empty());
}

TEST(TrackerStateTest, EveryTruncationIsRefused) {
  std::string text = SerializeTrackerState(SampleState());
  for (size_t length = 0; length < text.size(); ++length) {
    std::string error;
    auto parsed = ParseTrackerState(std::string_view(text).substr(0, length), error);
    EXPECT_FALSE(parsed.has_value()) << length;
    EXPECT_TRUE(error.starts_with("line ")) << length << ": " << error;
  }
}

TEST(TrackerStateTest, ErrorsNameTheLine) {
  EXPECT_EQ(ParseError(""), "line 1: empty file");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\n"),
            "line 2: no \"boot_id\" line (truncated file?)");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id x\nc 5 1 first_seen\n"),
            "line 4: no \"end <count>\" line (truncated file?)");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id x\nc 5 1 first_seen\nend 2\n"),
            "line 4: the file says 2 entries but holds 1");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id x\nc 5 1 first_seen\nc 5 2 "
                       "conntrack\nend 2\n"),
            "line 4: duplicate connection");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id x\nend 0\nc 5 1 first_seen\n"),
            "line 4: text after the \"end\" line");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id x\nend 0\n\n"),
            "line 4: text after the \"end\" line");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id x\nend 0"),
            "line 3: no newline at the end (truncated file?)");
}

TEST(TrackerStateTest, ForeignFilesAreRefused) {
  EXPECT_EQ(ParseError("\x7f"
                       "ELF\x02\x01\x01\xff\xfe\n"),
            "line 1: not a connwatch connection state file (the first line is not "
            "\"connwatch-connection-state 1\")");
  EXPECT_TRUE(ParseError("# connwatch learned baseline, format 1\nlisteners: []\n")
                  .starts_with("line 1: not a connwatch connection state file"));
  EXPECT_EQ(ParseError("connwatch-connection-state 2\nboot_id x\nend 0\n"),
            "line 1: format \"2\"; this connwatch reads format 1");
  EXPECT_EQ(ParseError("connwatch-connection-state 1 \nboot_id x\nend 0\n"),
            "line 1: format \"1 \"; this connwatch reads format 1");
}

TEST(TrackerStateTest, BadLinesAreRefused) {
  struct Case {
    std::string line;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"boot_id", "expected \"boot_id <id>\""},
      {"c 0 1 first_seen", "bad cookie"},
      {"c -5 1 first_seen", "bad cookie"},
      {"c 18446744073709551616 1 first_seen", "bad cookie"},
      {"c 5x 1 first_seen", "bad cookie"},
      {"c 5 1", "a cookie entry has 4 fields"},
      {"c 5 1 first_seen extra", "a cookie entry has 4 fields"},
      {"c 5 -1 first_seen", "bad start time"},
      {"c 5 nan first_seen", "bad start time"},
      {"c 5 inf first_seen", "bad start time"},
      {"c 5 1e999 first_seen", "bad start time"},
      {"c 5 1s first_seen", "bad start time"},
      {"c 5 1 guessed", "bad age source"},
      {"c 5  1 first_seen", "empty field or stray space"},
      {"c 5 1 first_seen ", "empty field or stray space"},
      {"", "empty field or stray space"},
      {"x 5 1 first_seen", "unknown entry type \"x\""},
      {"i 1 t 10.0.0.1 1 10.0.0.2 2 3", "an inode entry has 9 fields"},
      {"i x t 10.0.0.1 1 10.0.0.2 2 3 first_seen", "bad inode"},
      {"i 1 s 10.0.0.1 1 10.0.0.2 2 3 first_seen", "bad transport (t or u)"},
      {"i 1 t 10.0.0 1 10.0.0.2 2 3 first_seen", "bad local address"},
      {"i 1 t 10.0.0.1 1 10.0.0.256 2 3 first_seen", "bad remote address"},
      {"i 1 t 10.0.0.1 65536 10.0.0.2 2 3 first_seen", "bad local port"},
      {"i 1 t 10.0.0.1 1 10.0.0.2 -2 3 first_seen", "bad remote port"},
      {"i 1 t 10.0.0.1 1 10.0.0.2 2 3 first", "bad age source"},
      {"end", "expected \"end <count>\""},
      {"end 0 0", "expected \"end <count>\""},
      {"end x", "expected \"end <count>\""},
  };
  for (const Case& bad : cases) {
    // The boot_id case replaces line 2; the rest are entries on line 3.
    bool boot_line = bad.line.starts_with("boot_id");
    std::string text = "connwatch-connection-state 1\n" +
                       (boot_line ? bad.line + "\n" : "boot_id x\n" + bad.line + "\n") + "end 0\n";
    EXPECT_EQ(ParseError(text), (boot_line ? "line 2: " : "line 3: ") + bad.error) << bad.line;
  }
  // The same lines, made good, parse: the cases fail for the reason they name.
  std::string error;
  EXPECT_TRUE(
      ParseTrackerState("connwatch-connection-state 1\nboot_id x\n"
                        "c 5 1 first_seen\n"
                        "i 1 t 10.0.0.1 65535 10.0.0.2 0 3 conntrack\n"
                        "end 2\n",
                        error))
      << error;
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id \nend 0\n"),
            "line 2: expected \"boot_id <id>\"");
  EXPECT_EQ(ParseError("connwatch-connection-state 1\nboot_id a b\nend 0\n"),
            "line 2: expected \"boot_id <id>\"");
}

TEST(TrackerStateTest, KeepsTheOldestWhenTooMany) {
  const size_t total = kMaxPersistedConnections + 5;
  TrackerState state;
  state.boot_id = kBoot;
  state.entries.reserve(total);
  // Cookie c started at total - c: the five highest starts belong to cookies 1..5.
  for (size_t cookie = 1; cookie <= total; ++cookie) {
    state.entries[CookieKey(cookie)] = {static_cast<double>(total - cookie), AgeSource::kFirstSeen};
  }
  std::string error;
  auto parsed = ParseTrackerState(SerializeTrackerState(state), error);
  ASSERT_TRUE(parsed.has_value()) << error;
  ASSERT_EQ(parsed->entries.size(), kMaxPersistedConnections);
  for (uint64_t cookie = 1; cookie <= 5; ++cookie) {
    EXPECT_FALSE(parsed->entries.contains(CookieKey(cookie))) << cookie;
  }
  EXPECT_TRUE(parsed->entries.contains(CookieKey(6)));
  EXPECT_TRUE(parsed->entries.contains(CookieKey(total)));
}

class TrackerStateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/connwatch-state-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::vector<std::string> Listing(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

TEST_F(TrackerStateFileTest, SavesAndLoads) {
  std::string path = dir_ + "/var/lib/connwatch/connections.state";
  TrackerState state = SampleState();
  std::string error;
  ASSERT_TRUE(SaveTrackerState(path, state, error)) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(Listing(dir_ + "/var/lib/connwatch"), std::vector<std::string>{"connections.state"});
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_ + "/var").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);

  auto loaded = LoadTrackerState(path, error);
  ASSERT_TRUE(loaded.has_value()) << error;
  EXPECT_EQ(loaded->boot_id, kBoot);
  ExpectSameEntries(loaded->entries, state.entries);

  // Saving again replaces the file.
  state.entries.clear();
  ASSERT_TRUE(SaveTrackerState(path, state, error)) << error;
  loaded = LoadTrackerState(path, error);
  ASSERT_TRUE(loaded.has_value()) << error;
  EXPECT_TRUE(loaded->entries.empty());
}

TEST_F(TrackerStateFileTest, RestartContinuesAges) {
  testing::SnapshotBuilder builder;
  const Snapshot& snapshot =
      builder.Add(testing::Tcp(SocketState::kEstablished, "10.0.0.1", 40000, "10.0.0.2", 443, 11))
          .Build();
  std::string path = dir_ + "/connections.state";
  std::string error;
  {
    AgeTracker tracker(kBoot);
    tracker.Update(snapshot, 100, {});
    ASSERT_TRUE(SaveTrackerState(path, {tracker.boot_id(), tracker.entries()}, error)) << error;
  }
  auto loaded = LoadTrackerState(path, error);
  ASSERT_TRUE(loaded.has_value()) << error;
  AgeTracker tracker(kBoot);
  ASSERT_TRUE(tracker.Restore(loaded->boot_id, std::move(loaded->entries)));
  auto ages = tracker.Update(snapshot, 250, {});
  ASSERT_TRUE(ages[0].has_value());
  EXPECT_DOUBLE_EQ(ages[0]->age_seconds, 150);
  EXPECT_EQ(ages[0]->source, AgeSource::kFirstSeen);
}

TEST_F(TrackerStateFileTest, MissingFileIsNoError) {
  std::string error = "stale";
  EXPECT_FALSE(LoadTrackerState(dir_ + "/connections.state", error).has_value());
  EXPECT_EQ(error, "");
}

TEST_F(TrackerStateFileTest, BadFilesAreReportedWithThePath) {
  std::string path = dir_ + "/connections.state";
  std::string text = SerializeTrackerState(SampleState());
  Write(path, text.substr(0, text.size() - 3));
  std::string error;
  EXPECT_FALSE(LoadTrackerState(path, error).has_value());
  EXPECT_EQ(error, "ignoring the connection state " + path +
                       ": line 7: no newline at the end (truncated file?)");

  Write(path, "garbage\n");
  EXPECT_FALSE(LoadTrackerState(path, error).has_value());
  EXPECT_TRUE(error.starts_with("ignoring the connection state " + path + ": line 1: not a"))
      << error;

  std::string directory = dir_ + "/a-directory";
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  EXPECT_FALSE(LoadTrackerState(directory, error).has_value());
  EXPECT_EQ(error, "cannot read the connection state " + directory + ": " + strerror(EISDIR));
}

TEST_F(TrackerStateFileTest, OversizedFileIsRefused) {
  std::string path = dir_ + "/connections.state";
  Write(path, "connwatch-connection-state 1\n");
  ASSERT_EQ(truncate(path.c_str(), (64 << 20) + 1), 0);  // sparse: cheap to make
  std::string error;
  EXPECT_FALSE(LoadTrackerState(path, error).has_value());
  EXPECT_NE(error.find("larger than the limit"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST_F(TrackerStateFileTest, SavingUnderARegularFileFails) {
  std::string file = dir_ + "/file";
  Write(file, "x");
  std::string path = file + "/connections.state";
  std::string error;
  EXPECT_FALSE(SaveTrackerState(path, SampleState(), error));
  EXPECT_EQ(error, "cannot save the connection state " + path + ": directory " + file + ": " +
                       strerror(ENOTDIR));
  EXPECT_EQ(Listing(dir_), std::vector<std::string>{"file"});
}

TEST_F(TrackerStateFileTest, FailedRenameLeavesNoTempFile) {
  // A directory where the file should be: everything works up to the rename.
  std::string path = dir_ + "/connections.state";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  std::string error;
  EXPECT_FALSE(SaveTrackerState(path, SampleState(), error));
  std::string temp = path + ".tmp." + std::to_string(getpid());
  EXPECT_EQ(error, "cannot save the connection state " + path + ": renaming " + temp + ": " +
                       strerror(EISDIR));
  EXPECT_EQ(Listing(dir_), std::vector<std::string>{"connections.state"});
}

// ENOSPC: a child process mounts a 16 KiB tmpfs in its own mount namespace (needs root, as
// the tests run here; skipped otherwise), saves a small state, then one too big for it.
TEST_F(TrackerStateFileTest, FullDiskFailsCleanly) {
  std::string mount_point = dir_ + "/tiny";
  ASSERT_EQ(mkdir(mount_point.c_str(), 0700), 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=16k") != 0) {
      _exit(77);
    }
    std::string path = mount_point + "/connections.state";
    TrackerState big;
    big.boot_id = kBoot;
    for (uint64_t cookie = 1; cookie <= 2000; ++cookie) {
      big.entries[CookieKey(cookie)] = {1000.5, AgeSource::kFirstSeen};
    }
    std::string error, report;
    report += SaveTrackerState(path, SampleState(), error) ? "small: ok\n" : "small: " + error;
    report += SaveTrackerState(path, big, error) ? "big: ok\n" : "big: " + error + "\n";
    auto loaded = LoadTrackerState(path, error);
    report += "loaded: " + (loaded ? std::to_string(loaded->entries.size()) : error) + "\n";
    report += "files:";
    for (const std::string& name : Listing(mount_point)) report += " " + name;
    report += "\n";
    _exit(write(fds[1], report.data(), report.size()) == static_cast<ssize_t>(report.size()) ? 0
                                                                                             : 1);
  }
  close(fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) report.append(buffer, n);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  std::string path = mount_point + "/connections.state";
  EXPECT_EQ(report, "small: ok\nbig: cannot save the connection state " + path + ": writing " +
                        path + ".tmp." + std::to_string(child) + ": " + strerror(ENOSPC) +
                        "\nloaded: 4\nfiles: connections.state\n");
}

TEST_F(TrackerStateFileTest, AStateWithoutBootIdIsNotWritten) {
  std::string path = dir_ + "/connections.state";
  TrackerState state = SampleState();
  state.boot_id = "";
  std::string error;
  EXPECT_FALSE(SaveTrackerState(path, state, error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_TRUE(Listing(dir_).empty());
}

TEST_F(TrackerStateFileTest, ReadsTheBootIdOfAFakeTree) {
  std::filesystem::create_directories(dir_ + "/sys/kernel/random");
  std::string file = dir_ + "/sys/kernel/random/boot_id";
  Write(file, std::string(kBoot) + "\n");
  EXPECT_EQ(ReadBootId(dir_), kBoot);
  Write(file, "  " + std::string(kBoot) + " \n\n");
  EXPECT_EQ(ReadBootId(dir_), kBoot);
  Write(file, "two words\n");
  EXPECT_EQ(ReadBootId(dir_), "");
  Write(file, "\n");
  EXPECT_EQ(ReadBootId(dir_), "");
  std::filesystem::remove(file);
  EXPECT_EQ(ReadBootId(dir_), "");
}

TEST(TrackerStateLiveTest, ReadsTheBootIdOfThisHost) {
  std::string id = ReadBootId("/proc");
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                              "[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(ReadBootId("/proc"), id);
}

// The journal: each save appends what changed; a load replays it on the snapshot.
class TrackerJournalTest : public TrackerStateFileTest {
 protected:
  void SetUp() override {
    TrackerStateFileTest::SetUp();
    path_ = dir_ + "/connections.state";
    journal_ = dir_ + "/connections.journal";
    state_.boot_id = kBoot;
  }
  // Applies a change to state_ and saves it through store_.
  bool Change(const std::vector<uint64_t>& add, const std::vector<uint64_t>& remove,
              std::string& error) {
    ConnectionKeyList added, removed;
    for (uint64_t cookie : add) {
      state_.entries[CookieKey(cookie)] = {static_cast<double>(cookie) + 0.5,
                                           AgeSource::kFirstSeen};
      added.push_back(CookieKey(cookie));
    }
    for (uint64_t cookie : remove) {
      state_.entries.erase(CookieKey(cookie));
      removed.push_back(CookieKey(cookie));
    }
    return store_.Save(state_, added, removed, error);
  }
  std::string Read(const std::string& path) {
    std::string text;
    EXPECT_EQ(ReadFileCapped(path, 1 << 20, text), 0) << path;
    return text;
  }
  Entries Load(std::string& journal_error) {
    std::string error;
    auto loaded = LoadTrackerState(path_, error, &journal_error);
    EXPECT_TRUE(loaded.has_value()) << error;
    return loaded ? loaded->entries : Entries();
  }

  std::string path_, journal_;
  TrackerState state_;
  TrackerStateStore store_{dir_ + "/connections.state"};
};

TEST_F(TrackerJournalTest, SavesAppendChangesAndLoadsReplayThem) {
  store_ = TrackerStateStore(path_);
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  EXPECT_EQ(store_.compactions(), 1u) << "the first save of a run writes the snapshot";
  std::string snapshot = Read(path_);
  ASSERT_TRUE(Change({3}, {1}, error)) << error;
  ASSERT_TRUE(Change({}, {}, error)) << error;  // nothing changed: nothing written
  ASSERT_TRUE(Change({4}, {}, error)) << error;
  EXPECT_EQ(store_.compactions(), 1u);
  EXPECT_EQ(Read(path_), snapshot) << "the snapshot is not rewritten";
  std::string journal = Read(journal_);
  std::string header = JournalHeader(kBoot, snapshot);
  EXPECT_EQ(journal, header +
                         "- c 1\n+ c 3 3.5 first_seen\ncommit 2\n"
                         "+ c 4 4.5 first_seen\ncommit 1\n");
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
  EXPECT_EQ(Listing(dir_), (std::vector<std::string>{"connections.journal", "connections.state"}));
}

TEST_F(TrackerJournalTest, TornTailIsDroppedAndReported) {
  store_ = TrackerStateStore(path_);
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  ASSERT_TRUE(Change({3}, {1}, error)) << error;
  Entries after_first = state_.entries;
  size_t first_end = Read(journal_).size();
  ASSERT_TRUE(Change({4, 5}, {2}, error)) << error;
  std::string journal = Read(journal_);
  // Every cut inside the last sample's records (a kill mid-write) loses that sample only.
  for (size_t cut = first_end + 1; cut < journal.size(); ++cut) {
    Write(journal_, journal.substr(0, cut));
    Entries loaded = Load(journal_error);
    ExpectSameEntries(loaded, after_first);
    EXPECT_NE(journal_error.find("torn"), std::string::npos) << cut << ": " << journal_error;
  }
  Write(journal_, journal.substr(0, first_end));
  ExpectSameEntries(Load(journal_error), after_first);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, CorruptJournalIsReportedAndNotTrusted) {
  store_ = TrackerStateStore(path_);
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  Entries snapshot_entries = state_.entries;
  ASSERT_TRUE(Change({3}, {1}, error)) << error;
  ASSERT_TRUE(Change({4}, {}, error)) << error;
  std::string journal = Read(journal_);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"+ c 4 4.5", "+ c 4 -4.5"},  // a bad start in a committed sample
           {"commit 2", "commit 3"},     // a count that does not add up
           {"- c 1", "* c 1"},           // an unknown record
           {"connwatch-connection-journal", "connwatch-connection-journey"}}) {
    std::string bad = journal;
    bad.replace(bad.find(from), from.size(), to);
    Write(journal_, bad);
    ExpectSameEntries(Load(journal_error), snapshot_entries);
    EXPECT_NE(journal_error, "") << to;
    EXPECT_NE(journal_error.find(journal_), std::string::npos) << journal_error;
  }
}

TEST_F(TrackerJournalTest, JournalOfAnotherSnapshotIsIgnoredQuietly) {
  store_ = TrackerStateStore(path_);
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  ASSERT_TRUE(Change({3}, {}, error)) << error;
  // A snapshot rewritten (by a crash-interrupted compaction, or by hand) next to the old
  // journal: the journal's records must not be applied to it.
  TrackerState other;
  other.boot_id = kBoot;
  other.entries[CookieKey(9)] = {1, AgeSource::kFirstSeen};
  ASSERT_TRUE(SaveTrackerState(path_, other, error)) << error;
  ExpectSameEntries(Load(journal_error), other.entries);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, JournalIsFoldedIntoTheSnapshotWhenItOutgrowsIt) {
  store_ = TrackerStateStore(path_);
  std::string error, journal_error;
  ASSERT_TRUE(Change({1}, {}, error)) << error;
  // Full churn: every sample replaces every connection.
  uint64_t next = 2;
  for (int sample = 0; sample < 200; ++sample) {
    std::vector<uint64_t> add, remove;
    for (const auto& [key, tracked] : state_.entries) remove.push_back(key.cookie);
    for (int i = 0; i < 100; ++i) add.push_back(next++);
    ASSERT_TRUE(Change(add, remove, error)) << error;
    struct stat info {};
    ASSERT_EQ(stat(journal_.c_str(), &info), 0);
    EXPECT_LE(info.st_size, 300 << 10) << "sample " << sample;
  }
  EXPECT_GT(store_.compactions(), 1u);
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, FailedAppendIsReportedAndTheNextSaveRewritesBoth) {
  store_ = TrackerStateStore(path_);
  std::string error, journal_error;
  ASSERT_TRUE(Change({1}, {}, error)) << error;
  ASSERT_EQ(unlink(journal_.c_str()), 0);
  EXPECT_FALSE(Change({2}, {}, error));
  EXPECT_NE(error.find(journal_), std::string::npos) << error;
  EXPECT_TRUE(Change({3}, {}, error)) << error;
  EXPECT_EQ(store_.compactions(), 2u);
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

}  // namespace
}  // namespace connwatch
