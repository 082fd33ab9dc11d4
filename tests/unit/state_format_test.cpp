// The state file's text alone: literal and serialized text in, states and errors out.
#include "tracking/state_format.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/tracker_states.h"

namespace connwatch {
namespace {

using testing::CookieKey;
using testing::ExpectSameEntries;
using testing::InodeKey;
using testing::kBootId;
using testing::SampleState;

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
  EXPECT_EQ(parsed->boot_id, kBootId);
  ExpectSameEntries(parsed->entries, state.entries);
}

// Oldest first; at one start, procfs keys (no cookie) before cookies, each by its key.
TEST(TrackerStateTest, OrdersByStartThenKey) {
  TrackerState state;
  state.boot_id = kBootId;
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
  state.boot_id = kBootId;
  std::string error;
  auto parsed = ParseTrackerState(SerializeTrackerState(state), error);
  ASSERT_TRUE(parsed.has_value()) << error;
  EXPECT_EQ(parsed->boot_id, kBootId);
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
  state.boot_id = kBootId;
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

TEST(TrackerJournalFormatTest, LivesBesideItsSnapshot) {
  EXPECT_EQ(JournalPathFor("/var/lib/connwatch/connections.state"),
            "/var/lib/connwatch/connections.journal");
  EXPECT_EQ(JournalPathFor("/tmp/state"), "/tmp/state.journal");
  EXPECT_EQ(JournalPathFor("a.state.state"), "a.state.journal");
}

// The snapshot's text the journal tests extend; its FNV-1a 64 is e3a29a2284fc21f7.
constexpr std::string_view kSnapshot =
    "connwatch-connection-state 1\n"
    "boot_id b00t\n"
    "c 1 1.5 first_seen\n"
    "c 2 2.5 first_seen\n"
    "end 2\n";
constexpr std::string_view kJournalHeader =
    "connwatch-connection-journal 1\n"
    "boot_id b00t\n"
    "snapshot e3a29a2284fc21f7\n";

TEST(TrackerJournalFormatTest, HeaderNamesTheSnapshotByTheHashOfItsBytes) {
  EXPECT_EQ(JournalHeader("b00t", kSnapshot), kJournalHeader);
  // The FNV-1a 64 test vectors: the offset basis, and "a".
  EXPECT_EQ(JournalHeader("x", ""),
            "connwatch-connection-journal 1\nboot_id x\nsnapshot cbf29ce484222325\n");
  EXPECT_EQ(JournalHeader("x", "a"),
            "connwatch-connection-journal 1\nboot_id x\nsnapshot af63dc4c8601ec8c\n");
}

TEST(TrackerJournalFormatTest, RecordsRemovalsThenAdditionsThenTheirCount) {
  TrackerState state;
  state.boot_id = "b00t";
  ConnectionKey tuple = InodeKey(9, Transport::kUdp, "2001:db8::1", 5353, "2001:db8::2", 53);
  ConnectionKey gone = InodeKey(4, Transport::kTcp, "10.0.0.1", 1, "10.0.0.2", 2);
  state.entries[CookieKey(3)] = {3.5, AgeSource::kConntrack};
  state.entries[tuple] = {50, AgeSource::kProcessStart};
  ConnectionKeyList added, removed;
  added.push_back(tuple);
  added.push_back(CookieKey(3));
  added.push_back(CookieKey(8));  // added and gone again within the sample: not written
  removed.push_back(gone);
  removed.push_back(CookieKey(1));
  EXPECT_EQ(JournalRecords(state, added, removed),
            "- c 1\n"
            "- i 4 t 10.0.0.1 1 10.0.0.2 2\n"
            "+ c 3 3.5 conntrack\n"
            "+ i 9 u 2001:db8::1 5353 2001:db8::2 53 50 process_start\n"
            "commit 4\n");
  EXPECT_EQ(JournalRecords(state, {}, {}), "");
  ConnectionKeyList only_absent;
  only_absent.push_back(CookieKey(8));
  EXPECT_EQ(JournalRecords(state, only_absent, {}), "");
}

// Replays `journal` on the state kSnapshot holds.
struct Replay {
  bool applied;
  std::string error;
  TrackerState state;
};
Replay ReplayOnTheSnapshot(std::string_view journal) {
  std::string error;
  auto snapshot = ParseTrackerState(kSnapshot, error);
  EXPECT_TRUE(snapshot.has_value()) << error;
  Replay replay{false, "stale", snapshot.value_or(TrackerState())};
  replay.applied = ReplayJournal(journal, kSnapshot, replay.state, replay.error);
  return replay;
}

TEST(TrackerJournalFormatTest, ReplaysCommittedSamples) {
  Replay replay = ReplayOnTheSnapshot(std::string(kJournalHeader) +
                                      "- c 1\n+ c 3 3.5 conntrack\ncommit 2\n"
                                      "+ i 9 u 10.0.0.1 53 10.0.0.2 5353 0.25 first_seen\n"
                                      "- c 2\ncommit 2\n");
  EXPECT_TRUE(replay.applied);
  EXPECT_EQ(replay.error, "");
  ConnectionTable expected;
  expected[CookieKey(3)] = {3.5, AgeSource::kConntrack};
  expected[InodeKey(9, Transport::kUdp, "10.0.0.1", 53, "10.0.0.2", 5353)] = {
      0.25, AgeSource::kFirstSeen};
  ExpectSameEntries(replay.state.entries, expected);
  EXPECT_EQ(replay.state.boot_id, "b00t");

  Replay header_only = ReplayOnTheSnapshot(kJournalHeader);
  EXPECT_TRUE(header_only.applied);
  EXPECT_EQ(header_only.error, "");
  EXPECT_EQ(header_only.state.entries.size(), 2u);
}

TEST(TrackerJournalFormatTest, DropsATornLastSample) {
  ConnectionTable after_first;
  after_first[CookieKey(2)] = {2.5, AgeSource::kFirstSeen};
  after_first[CookieKey(3)] = {3.5, AgeSource::kConntrack};
  const std::string committed =
      std::string(kJournalHeader) + "- c 1\n+ c 3 3.5 conntrack\ncommit 2\n";
  for (std::string_view tail : {"- c 2\n", "- c 2\n+ c 4 4.5 first_seen\n", "- c", "commit"}) {
    Replay replay = ReplayOnTheSnapshot(committed + std::string(tail));
    EXPECT_TRUE(replay.applied) << tail;
    EXPECT_EQ(replay.error,
              "a torn last sample (no \"commit\" line, as a kill during the write leaves); its "
              "records were dropped, 2 earlier ones applied")
        << tail;
    ExpectSameEntries(replay.state.entries, after_first);
  }
}

TEST(TrackerJournalFormatTest, AnotherSnapshotsJournalIsNotAppliedQuietly) {
  const std::string records = "- c 1\ncommit 1\n";
  for (const std::string& header :
       {JournalHeader("b00t", "connwatch-connection-state 1\nboot_id b00t\nend 0\n"),
        JournalHeader("another-boot", kSnapshot)}) {
    Replay replay = ReplayOnTheSnapshot(header + records);
    EXPECT_FALSE(replay.applied) << header;
    EXPECT_EQ(replay.error, "") << header;
    EXPECT_EQ(replay.state.entries.size(), 2u) << header;
  }
}

TEST(TrackerJournalFormatTest, CorruptJournalsAreRefusedWhole) {
  const std::string valid_sample = "- c 1\ncommit 1\n";
  struct Case {
    std::string journal;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"connwatch-connection-state 1\nboot_id b00t\nend 0\n",
       "not a connwatch connection journal; ignoring it"},
      {"", "not a connwatch connection journal; ignoring it"},
      {std::string(kJournalHeader) + "- c 1\ncommit 2\n",
       "line 5: a commit line that does not count its records; ignoring the journal"},
      {std::string(kJournalHeader) + valid_sample + "commit x\n",
       "line 6: a commit line that does not count its records; ignoring the journal"},
      {std::string(kJournalHeader) + valid_sample + "* c 2\ncommit 1\n",
       "line 6: expected \"+ <entry>\", \"- <key>\" or \"commit <n>\"; ignoring the journal"},
      {std::string(kJournalHeader) + valid_sample + "+\n",
       "line 6: expected \"+ <entry>\", \"- <key>\" or \"commit <n>\"; ignoring the journal"},
      {std::string(kJournalHeader) + "+ c 5 -1 first_seen\ncommit 1\n",
       "line 4: bad start time; ignoring the journal"},
      {std::string(kJournalHeader) + "- c 5 1 first_seen\ncommit 1\n",
       "line 4: a cookie entry has 4 fields; ignoring the journal"},
      {std::string(kJournalHeader) + "-  c 5\ncommit 1\n",
       "line 4: empty field or stray space; ignoring the journal"},
  };
  for (const Case& bad : cases) {
    Replay replay = ReplayOnTheSnapshot(bad.journal);
    EXPECT_FALSE(replay.applied) << bad.journal;
    EXPECT_EQ(replay.error, bad.error) << bad.journal;
    // Not even the valid sample before the corruption is applied.
    EXPECT_EQ(replay.state.entries.size(), 2u) << bad.journal;
    EXPECT_TRUE(replay.state.entries.contains(CookieKey(1))) << bad.journal;
  }
}

}  // namespace
}  // namespace connwatch
