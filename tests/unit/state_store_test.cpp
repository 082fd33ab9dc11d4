// The state files on a real file system: temp directories, atomic saves, the journal's
// appends and their failures.
#include "tracking/state_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "base/read_file.h"
#include "support/file_size_limit.h"
#include "support/test_sockets.h"
#include "support/tracker_states.h"
#include "tracking/connection_ages.h"
#include "tracking/state_format.h"

namespace connwatch {
namespace {

using testing::FileSizeLimit;

using testing::CookieKey;
using testing::ExpectSameEntries;
using testing::kBootId;
using testing::SampleState;
using Entries = ConnectionTable;

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
  EXPECT_EQ(loaded->boot_id, kBootId);
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
    AgeTracker tracker(kBootId);
    tracker.Update(snapshot, 100, {});
    ASSERT_TRUE(SaveTrackerState(path, {tracker.boot_id(), tracker.entries()}, error)) << error;
  }
  auto loaded = LoadTrackerState(path, error);
  ASSERT_TRUE(loaded.has_value()) << error;
  AgeTracker tracker(kBootId);
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
  EXPECT_EQ(error, "refusing the connection state " + directory + ": it is not a regular file");
}

TEST_F(TrackerStateFileTest, OversizedFileIsRefused) {
  std::string path = dir_ + "/connections.state";
  Write(path, "connwatch-connection-state 1\n");
  ASSERT_EQ(truncate(path.c_str(), (64 << 20) + 1), 0);  // sparse: cheap to make
  std::string error;
  EXPECT_FALSE(LoadTrackerState(path, error).has_value());
  EXPECT_EQ(error, "the connection state " + path +
                       " is larger than the limit of 67108864 bytes; ignoring it");
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
        mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=16k,mode=0700") != 0) {
      _exit(77);
    }
    std::string path = mount_point + "/connections.state";
    TrackerState big;
    big.boot_id = kBootId;
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

// The journal: each save appends what changed; a load replays it on the snapshot.
class TrackerJournalTest : public TrackerStateFileTest {
 protected:
  void SetUp() override {
    TrackerStateFileTest::SetUp();
    path_ = dir_ + "/connections.state";
    journal_ = dir_ + "/connections.journal";
    state_.boot_id = kBootId;
    store_.emplace(path_);
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
    return store_->Save(state_, added, removed, error);
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
  std::optional<TrackerStateStore> store_;
};

TEST_F(TrackerJournalTest, SavesAppendChangesAndLoadsReplayThem) {
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  EXPECT_EQ(store_->compactions(), 1u) << "the first save of a run writes the snapshot";
  std::string snapshot = Read(path_);
  ASSERT_TRUE(Change({3}, {1}, error)) << error;
  ASSERT_TRUE(Change({}, {}, error)) << error;  // nothing changed: nothing written
  ASSERT_TRUE(Change({4}, {}, error)) << error;
  EXPECT_EQ(store_->compactions(), 1u);
  EXPECT_EQ(Read(path_), snapshot) << "the snapshot is not rewritten";
  std::string journal = Read(journal_);
  std::string header = JournalHeader(kBootId, snapshot);
  EXPECT_EQ(journal, header +
                         "- c 1\n+ c 3 3.5 first_seen\ncommit 2\n"
                         "+ c 4 4.5 first_seen\ncommit 1\n");
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
  EXPECT_EQ(Listing(dir_), (std::vector<std::string>{"connections.journal", "connections.state"}));
}

TEST_F(TrackerJournalTest, TornTailIsDroppedAndReported) {
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
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  ASSERT_TRUE(Change({3}, {}, error)) << error;
  // A snapshot rewritten (by a crash-interrupted compaction, or by hand) next to the old
  // journal: the journal's records must not be applied to it.
  TrackerState other;
  other.boot_id = kBootId;
  other.entries[CookieKey(9)] = {1, AgeSource::kFirstSeen};
  ASSERT_TRUE(SaveTrackerState(path_, other, error)) << error;
  ExpectSameEntries(Load(journal_error), other.entries);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, JournalIsFoldedIntoTheSnapshotWhenItOutgrowsIt) {
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
  EXPECT_GT(store_->compactions(), 1u);
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, FailedAppendIsReportedAndTheNextSaveRewritesBoth) {
  std::string error, journal_error;
  ASSERT_TRUE(Change({1}, {}, error)) << error;
  ASSERT_EQ(unlink(journal_.c_str()), 0);
  EXPECT_FALSE(Change({2}, {}, error));
  EXPECT_EQ(error, "cannot save the connection journal " + journal_ + ": opening " + journal_ +
                       ": " + strerror(ENOENT));
  EXPECT_TRUE(Change({3}, {}, error)) << error;
  EXPECT_EQ(store_->compactions(), 2u);
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, UnreadableOrOversizedJournalIsReportedAndSkipped) {
  std::string error, journal_error;
  ASSERT_TRUE(Change({1, 2}, {}, error)) << error;
  Entries snapshot_entries = state_.entries;
  ASSERT_EQ(unlink(journal_.c_str()), 0);
  ASSERT_EQ(mkdir(journal_.c_str(), 0700), 0);
  ExpectSameEntries(Load(journal_error), snapshot_entries);
  EXPECT_EQ(journal_error, "refusing " + journal_ + ": it is not a regular file");
  ASSERT_EQ(rmdir(journal_.c_str()), 0);
  Write(journal_, JournalHeader(kBootId, Read(path_)));
  ASSERT_EQ(truncate(journal_.c_str(), (64 << 20) + 1), 0);  // sparse: cheap to make
  ExpectSameEntries(Load(journal_error), snapshot_entries);
  EXPECT_EQ(journal_error, journal_ + " is larger than the limit of 67108864 bytes; ignoring it");
}

// A directory where the journal should be: the append cannot open it, and the next save's
// rewrite of both files cannot replace it (then, once it is gone, can).
TEST_F(TrackerJournalTest, AJournalThatCannotBeOpenedIsReported) {
  std::string error, journal_error;
  ASSERT_TRUE(Change({1}, {}, error)) << error;
  ASSERT_EQ(unlink(journal_.c_str()), 0);
  ASSERT_EQ(mkdir(journal_.c_str(), 0700), 0);
  EXPECT_FALSE(Change({2}, {}, error));
  EXPECT_EQ(error, "cannot save the connection journal " + journal_ + ": opening " + journal_ +
                       ": " + strerror(EISDIR));
  EXPECT_FALSE(Change({3}, {}, error));
  EXPECT_EQ(store_->compactions(), 2u) << "the snapshot was rewritten";
  EXPECT_EQ(error, "cannot save the connection journal " + journal_ + ": renaming " + journal_ +
                       ".tmp." + std::to_string(getpid()) + ": " + strerror(EISDIR));
  ASSERT_EQ(rmdir(journal_.c_str()), 0);
  ASSERT_TRUE(Change({4}, {}, error)) << error;
  EXPECT_EQ(store_->compactions(), 3u);
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

TEST_F(TrackerJournalTest, ATornAppendIsCutBackAndTheNextSaveRewritesBoth) {
  std::string error, journal_error;
  ASSERT_TRUE(Change({1}, {}, error)) << error;
  ASSERT_TRUE(Change({2}, {}, error)) << error;
  std::string before = Read(journal_);
  bool saved = true;
  {
    // Room for 5 bytes of the next sample's records: the first write stops there, the
    // second fails.
    FileSizeLimit limit(before.size() + 5);
    ASSERT_TRUE(limit.set());
    saved = Change({3, 4}, {}, error);
  }
  EXPECT_FALSE(saved);
  EXPECT_EQ(error, "cannot save the connection journal " + journal_ + ": appending to " + journal_ +
                       ": " + strerror(EFBIG));
  EXPECT_EQ(Read(journal_), before) << "the 5 bytes written are cut off again";
  ASSERT_TRUE(Change({5}, {}, error)) << error;
  EXPECT_EQ(store_->compactions(), 2u);
  EXPECT_EQ(Read(journal_), JournalHeader(kBootId, Read(path_)));
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

// A FIFO where the journal should be takes the append but can be neither synced nor cut back
// (EINVAL for both): each failure is said.
TEST_F(TrackerJournalTest, AFailedCutBackIsReportedToo) {
  std::string error, journal_error;
  ASSERT_TRUE(Change({1}, {}, error)) << error;
  uint64_t journal_bytes = Read(journal_).size();
  ASSERT_EQ(unlink(journal_.c_str()), 0);
  ASSERT_EQ(mkfifo(journal_.c_str(), 0600), 0);
  // A reader first: the store's open then does not wait for one, nor its write raise SIGPIPE.
  int reader = open(journal_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0) << strerror(errno);
  bool saved = Change({2}, {}, error);
  char buffer[256];
  ssize_t n = read(reader, buffer, sizeof(buffer));
  close(reader);
  EXPECT_FALSE(saved);
  EXPECT_EQ(error, "cannot save the connection journal " + journal_ + ": syncing " + journal_ +
                       ": " + strerror(EINVAL) + "; cutting it back to " +
                       std::to_string(journal_bytes) + " bytes also failed: " + strerror(EINVAL));
  ASSERT_GT(n, 0) << strerror(errno);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "+ c 2 2.5 first_seen\ncommit 1\n");
  ASSERT_TRUE(Change({3}, {}, error)) << error;
  EXPECT_EQ(store_->compactions(), 2u);
  ExpectSameEntries(Load(journal_error), state_.entries);
  EXPECT_EQ(journal_error, "");
}

}  // namespace
}  // namespace connwatch
