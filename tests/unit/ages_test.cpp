// The one-shot commands' ages: FormatAge's table, and AttachOneShotAges on snapshots of a fake
// /proc (its net/tcp, its processes and its boot id) with real state files in a temp
// --storage.path. "Now" is the real boot clock, read by AttachOneShotAges itself, so ages are
// compared within a tolerance far below the differences between the sources.
#include "cli/ages.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "base/clock.h"
#include "support/fake_proc.h"
#include "support/proc_net_text.h"
#include "tracking/connection_ages.h"
#include "tracking/state_store.h"

namespace connwatch {
namespace {

using testing::FakeProc;
using testing::FakeProcess;
using testing::ProcNetEntry;

TEST(FormatAgeOfTest, AnUpperBoundIsMarked) {
  EXPECT_EQ(FormatAgeOf({4456, AgeSource::kProcessStart, 0}), "<=1h14m");
  EXPECT_EQ(FormatAgeOf({42, AgeSource::kProcessStart, 40}), "<=42s");
  EXPECT_EQ(FormatAgeOf({42, AgeSource::kFirstSeen}), "42s");
  EXPECT_EQ(FormatAgeOf({42, AgeSource::kConntrack}), "42s");
}

TEST(FormatAgeTest, CompactUnitsForTables) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0s"},
      {0.9, "0s"},  // whole seconds, truncated
      {59, "59s"},
      {59.99, "59s"},
      {60, "1m0s"},
      {61, "1m1s"},
      {3599, "59m59s"},
      {3600, "1h0m"},
      {3660, "1h1m"},
      {86399, "23h59m"},
      {86400, "1d0h"},
      {2 * 86400 + 4 * 3600, "2d4h"},
      {2 * 86400 + 4 * 3600 + 3599, "2d4h"},  // minutes are not shown with days
      {1e9, "11574d1h"},                      // ~31.7 years
      {1e15, "11574074074d1h"},
      // Nothing a clock step or a bad state file could make turns into undefined behaviour.
      {-5, "0s"},
      {std::numeric_limits<double>::quiet_NaN(), "0s"},
      {-std::numeric_limits<double>::infinity(), "0s"},
      {std::numeric_limits<double>::infinity(), "106481481481481d11h"},
      {1e300, "106481481481481d11h"},
  };
  for (const auto& [seconds, want] : cases) {
    EXPECT_EQ(FormatAge(seconds), want) << seconds;
  }
}

constexpr const char* kThisBoot = "2b7e1c0a-6d35-4c8e-9f0e-5d1a7c3b9e42";
constexpr pid_t kEarlyPid = 100;  // started 30 s after boot
constexpr pid_t kLatePid = 200;   // started 60 s after boot
constexpr double kEarlyStart = 30, kLateStart = 60;

// Ports of the sockets in the tree's net/tcp.
constexpr uint16_t kOwnedByEarly = 40000, kOwnedByLate = 40001, kUnowned = 40002, kSsh = 22;

class OneShotAgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The process starts bound the ages only if the machine has been up longer.
    if (BootClockSeconds() < 2 * kLateStart) GTEST_SKIP() << "booted too recently";
    testing::WriteProcNet(proc_, {
                                     {"10.0.0.1", kOwnedByEarly, "192.0.2.7", 443, 1, 1001},
                                     {"10.0.0.1", kOwnedByLate, "192.0.2.7", 443, 1, 1002},
                                     {"10.0.0.1", kUnowned, "192.0.2.8", 443, 1, 1003},
                                     {"0.0.0.0", kSsh, "0.0.0.0", 0, 10, 1004},
                                 });
    testing::WriteBootId(proc_, kThisBoot);
    FakeProcess early, late;
    early.start_time_ticks = static_cast<uint64_t>(kEarlyStart * sysconf(_SC_CLK_TCK));
    late.start_time_ticks = static_cast<uint64_t>(kLateStart * sysconf(_SC_CLK_TCK));
    proc_.AddProcess(kEarlyPid, early).AddSocket(kEarlyPid, 3, 1001).AddSocket(kEarlyPid, 4, 1004);
    proc_.AddProcess(kLatePid, late).AddSocket(kLatePid, 3, 1002);

    char pattern[] = "/tmp/connwatch-ages-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    storage_ = pattern;

    SnapshotOptions options;
    options.procfs = proc_.root();
    options.source_mode = SourceMode::kProcfs;
    snapshot_ = TakeSnapshot(options, zones_);
    ASSERT_EQ(snapshot_.sockets.size(), 4u);
    ASSERT_EQ(snapshot_.processes.size(), 2u);
  }
  void TearDown() override {
    if (!storage_.empty()) std::filesystem::remove_all(storage_);
  }

  size_t IndexOf(uint16_t local_port) const {
    for (size_t i = 0; i < snapshot_.sockets.size(); ++i) {
      if (snapshot_.sockets[i].local_port == local_port) return i;
    }
    ADD_FAILURE() << "no socket on port " << local_port;
    return 0;
  }
  const Socket& SocketOn(uint16_t local_port) const {
    return snapshot_.sockets[IndexOf(local_port)];
  }

  // The age of the socket on `local_port`: about `seconds` old, known from `source`.
  void ExpectAge(uint16_t local_port, double seconds, AgeSource source) const {
    ASSERT_EQ(snapshot_.ages.size(), snapshot_.sockets.size());
    const std::optional<ConnectionAge>& age = snapshot_.ages[IndexOf(local_port)];
    ASSERT_TRUE(age.has_value()) << local_port;
    EXPECT_NEAR(age->age_seconds, seconds, 0.5) << local_port;
    EXPECT_STREQ(AgeSourceName(age->source), AgeSourceName(source)) << local_port;
  }

  void SaveState(const std::string& boot_id,
                 const std::vector<std::pair<uint16_t, TrackedConnection>>& entries) {
    TrackerState state;
    state.boot_id = boot_id;
    for (const auto& [port, tracked] : entries) state.entries[KeyOf(SocketOn(port))] = tracked;
    std::string error;
    ASSERT_TRUE(SaveTrackerState(StatePathIn(storage_), state, error)) << error;
  }

  // What the process-start bounds give, with no state and no conntrack.
  void ExpectColdAges() const {
    double now = BootClockSeconds();
    ExpectAge(kOwnedByEarly, now - kEarlyStart, AgeSource::kProcessStart);
    ExpectAge(kOwnedByLate, now - kLateStart, AgeSource::kProcessStart);
    ExpectAge(kUnowned, 0, AgeSource::kFirstSeen);  // no owner, so no bound: seen now
    EXPECT_FALSE(snapshot_.ages[IndexOf(kSsh)].has_value()) << "a listener has no age";
  }

  FakeProc proc_;
  ZoneClassifier zones_;
  Snapshot snapshot_;
  std::string storage_;
};

TEST_F(OneShotAgesTest, WithoutStorageOwnedConnectionsAreBoundedByTheirProcessStart) {
  EXPECT_EQ(AttachOneShotAges(snapshot_, proc_.root(), ""), "");
  ExpectColdAges();
  // One look at a connection makes nothing of its bound certain: no long_connection.
  EXPECT_EQ(snapshot_.ages[IndexOf(kOwnedByEarly)]->watched_seconds, 0);
  EXPECT_EQ(CertainAgeSeconds(*snapshot_.ages[IndexOf(kOwnedByEarly)]), 0);
}

TEST_F(OneShotAgesTest, AnUnusableStateIsSaidAndTheBoundsRemain) {
  std::filesystem::create_directories(storage_);
  {
    std::ofstream out(StatePathIn(storage_));
    out << "not a connwatch state\n";
  }
  std::string problem = AttachOneShotAges(snapshot_, proc_.root(), storage_);
  EXPECT_NE(problem.find(StatePathIn(storage_)), std::string::npos) << problem;
  EXPECT_NE(problem.find("ages come from conntrack and process starts only"), std::string::npos)
      << problem;
  ExpectColdAges();
}

TEST_F(OneShotAgesTest, AStorageWithoutAStateFileGivesTheBoundsToo) {
  EXPECT_EQ(AttachOneShotAges(snapshot_, proc_.root(), storage_), "");
  ExpectColdAges();
  EXPECT_FALSE(std::filesystem::exists(StatePathIn(storage_))) << "the state is only read";
}

TEST_F(OneShotAgesTest, FirstSightingsPersistedInThisBootReplaceTheBounds) {
  double now = BootClockSeconds();
  SaveState(kThisBoot, {
                           {kOwnedByEarly, {now - 15, AgeSource::kFirstSeen}},
                           {kUnowned, {now - 300, AgeSource::kFirstSeen}},
                           // As the exporter's own cold start recorded it: kept as it was.
                           {kOwnedByLate, {10, AgeSource::kProcessStart}},
                       });
  AttachOneShotAges(snapshot_, proc_.root(), storage_);
  now = BootClockSeconds();
  ExpectAge(kOwnedByEarly, 15, AgeSource::kFirstSeen);
  ExpectAge(kUnowned, 300, AgeSource::kFirstSeen);
  ExpectAge(kOwnedByLate, now - 10, AgeSource::kProcessStart);
  EXPECT_FALSE(snapshot_.ages[IndexOf(kSsh)].has_value());
}

TEST_F(OneShotAgesTest, PersistedEntriesOfOtherConnectionsChangeNothing) {
  // The same tuple under another inode is another connection (a reused port).
  TrackerState state;
  state.boot_id = kThisBoot;
  Socket other = SocketOn(kOwnedByEarly);
  other.inode = 999;
  state.entries[KeyOf(other)] = {1, AgeSource::kFirstSeen};
  std::string error;
  ASSERT_TRUE(SaveTrackerState(StatePathIn(storage_), state, error)) << error;
  AttachOneShotAges(snapshot_, proc_.root(), storage_);
  ExpectColdAges();
}

TEST_F(OneShotAgesTest, StateFromAnotherBootIsIgnored) {
  double now = BootClockSeconds();
  SaveState("00000000-0000-4000-8000-000000000000",
            {{kOwnedByEarly, {now - 15, AgeSource::kFirstSeen}},
             {kUnowned, {now - 300, AgeSource::kFirstSeen}}});
  AttachOneShotAges(snapshot_, proc_.root(), storage_);
  ExpectColdAges();
}

TEST_F(OneShotAgesTest, StateIsIgnoredWhenTheTreeHasNoBootId) {
  double now = BootClockSeconds();
  SaveState(kThisBoot, {{kUnowned, {now - 300, AgeSource::kFirstSeen}}});
  proc_.Remove("sys/kernel/random/boot_id");
  AttachOneShotAges(snapshot_, proc_.root(), storage_);
  ExpectColdAges();
}

TEST_F(OneShotAgesTest, ConntrackStartsWinOverStateAndBounds) {
  double now = BootClockSeconds();
  SaveState(kThisBoot, {{kOwnedByEarly, {now - 15, AgeSource::kFirstSeen}},
                        {kUnowned, {now - 300, AgeSource::kFirstSeen}}});
  // The snapshot's two clocks, read together: conntrack's wall-clock starts are converted
  // with them, not with the wall clock of now (here far from the real one).
  snapshot_.timestamp_seconds = 1800000000;
  snapshot_.boot_clock_seconds = now;
  auto flow = [&](const char* source, uint16_t source_port, const char* destination,
                  uint16_t destination_port, double started_ago) {
    ConntrackFlow result;
    result.source = *ParseIpAddress(source);
    result.source_port = source_port;
    result.destination = *ParseIpAddress(destination);
    result.destination_port = destination_port;
    result.start_unix_ns =
        static_cast<uint64_t>(std::llround((snapshot_.timestamp_seconds - started_ago) * 1e9));
    return result;
  };
  snapshot_.conntrack_flows = {
      flow("10.0.0.1", kOwnedByEarly, "192.0.2.7", 443, 42),  // we connected
      flow("192.0.2.8", 443, "10.0.0.1", kUnowned, 7),        // as seen from the other end
  };
  ConntrackFlow no_timestamp = flow("10.0.0.1", kOwnedByLate, "192.0.2.7", 443, 5);
  no_timestamp.start_unix_ns = 0;
  snapshot_.conntrack_flows.push_back(no_timestamp);
  AttachOneShotAges(snapshot_, proc_.root(), storage_);
  now = BootClockSeconds();
  ExpectAge(kOwnedByEarly, 42, AgeSource::kConntrack);
  ExpectAge(kUnowned, 7, AgeSource::kConntrack);
  ExpectAge(kOwnedByLate, now - kLateStart, AgeSource::kProcessStart);
}

}  // namespace
}  // namespace connwatch
