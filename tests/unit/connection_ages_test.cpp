#include "tracking/connection_ages.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <vector>

#include "base/clock.h"
#include "net/cidr.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;
using testing::Udp;

constexpr const char* kBoot = "6a1f0c2e-1d1b-4f57-9c1e-2b2f1c0d9e11";

Socket Established(const char* local, uint16_t local_port, const char* remote, uint16_t remote_port,
                   uint64_t inode) {
  return Tcp(SocketState::kEstablished, local, local_port, remote, remote_port, inode);
}

Socket WithCookie(Socket socket, uint64_t cookie) {
  socket.cookie = cookie;
  return socket;
}

ConntrackStart Flow(Transport transport, const char* source, uint16_t source_port,
                    const char* destination, uint16_t destination_port, double start) {
  ConntrackStart flow;
  flow.transport = transport;
  flow.source = *ParseIpAddress(source);
  flow.source_port = source_port;
  flow.destination = *ParseIpAddress(destination);
  flow.destination_port = destination_port;
  flow.start_boot_seconds = start;
  return flow;
}

// A tracker that has already had its cold start (an empty restored table), so new
// connections are first seen "now".
AgeTracker WarmTracker() {
  AgeTracker tracker(kBoot);
  EXPECT_TRUE(tracker.Restore(kBoot, {}));
  return tracker;
}

void ExpectAge(const std::optional<ConnectionAge>& age, double seconds, AgeSource source) {
  ASSERT_TRUE(age.has_value());
  EXPECT_DOUBLE_EQ(age->age_seconds, seconds);
  EXPECT_EQ(AgeSourceName(age->source), std::string(AgeSourceName(source)));
}

TEST(AgeSourceNameTest, Labels) {
  EXPECT_STREQ(AgeSourceName(AgeSource::kConntrack), "conntrack");
  EXPECT_STREQ(AgeSourceName(AgeSource::kFirstSeen), "first_seen");
  EXPECT_STREQ(AgeSourceName(AgeSource::kProcessStart), "process_start");
}

TEST(ConnectionAgeKeyTest, CookieAloneIdentifiesASockDiagSocket) {
  ConnectionKey key = KeyOf(WithCookie(Established("10.0.0.1", 40000, "10.0.0.2", 443, 77), 9));
  ConnectionKey expected;
  expected.cookie = 9;
  EXPECT_EQ(key, expected);
}

TEST(ConnectionAgeKeyTest, ProcfsSocketsAreKeyedByInodeAndTuple) {
  Socket socket = Udp("10.0.0.1", 5000, "10.0.0.2", 53, 77);
  ConnectionKey key = KeyOf(socket);
  EXPECT_EQ(key.cookie, 0u);
  EXPECT_EQ(key.inode, 77u);
  EXPECT_EQ(key.transport, Transport::kUdp);
  EXPECT_EQ(key.local, socket.local);
  EXPECT_EQ(key.remote, socket.remote);
  EXPECT_EQ(key.local_port, 5000);
  EXPECT_EQ(key.remote_port, 53);
}

TEST(ConnectionAgeKeyTest, HashFollowsEveryField) {
  ConnectionKeyHash hash;
  ConnectionKey base = KeyOf(Established("10.0.0.1", 40000, "10.0.0.2", 443, 77));
  EXPECT_EQ(hash(base), hash(KeyOf(Established("10.0.0.1", 40000, "10.0.0.2", 443, 77))));
  std::vector<ConnectionKey> others(7, base);
  others[0].cookie = 1;
  others[1].inode = 78;
  others[2].transport = Transport::kUdp;
  others[3].local = *ParseIpAddress("10.0.0.3");
  others[4].remote = *ParseIpAddress("10.0.0.3");
  others[5].local_port = 40001;
  others[6].remote_port = 444;
  for (const ConnectionKey& other : others) {
    EXPECT_NE(other, base);
    EXPECT_NE(hash(other), hash(base));
  }
}

TEST(AgeTrackerTest, FirstSeenThenAging) {
  SnapshotBuilder builder;
  const Snapshot& snapshot =
      builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Build();
  AgeTracker tracker = WarmTracker();
  auto ages = tracker.Update(snapshot, 100, {});
  ASSERT_EQ(ages.size(), 1u);
  ExpectAge(ages[0], 0, AgeSource::kFirstSeen);
  ExpectAge(tracker.Update(snapshot, 130.5, {})[0], 30.5, AgeSource::kFirstSeen);
  ExpectAge(tracker.Update(snapshot, 3700, {})[0], 3600, AgeSource::kFirstSeen);
  // A clock that went back (it cannot, but a caller may err) gives no negative age.
  ExpectAge(tracker.Update(snapshot, 90, {})[0], 0, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, OnlyConnectionsGetAnAge) {
  SnapshotBuilder builder;
  const Snapshot& snapshot =
      builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
          .Add(Tcp(SocketState::kTimeWait, "10.0.0.1", 40001, "10.0.0.2", 443, 0))
          .Add(Tcp(SocketState::kSynSent, "10.0.0.1", 40002, "10.0.0.2", 443, 2))
          .Add(Udp("0.0.0.0", 53, "0.0.0.0", 0, 3))
          .Add(Established("10.0.0.1", 22, "10.0.0.9", 50000, 4))
          .Add(Udp("10.0.0.1", 40003, "10.0.0.53", 53, 5))
          .Build();
  AgeTracker tracker = WarmTracker();
  tracker.Update(snapshot, 100, {});
  auto ages = tracker.Update(snapshot, 110, {});
  ASSERT_EQ(ages.size(), 6u);
  EXPECT_FALSE(ages[0].has_value());
  EXPECT_FALSE(ages[1].has_value());
  EXPECT_FALSE(ages[2].has_value());
  EXPECT_FALSE(ages[3].has_value());
  ExpectAge(ages[4], 10, AgeSource::kFirstSeen);
  ExpectAge(ages[5], 10, AgeSource::kFirstSeen);
  EXPECT_EQ(tracker.entries().size(), 2u);
}

TEST(AgeTrackerTest, ClosedConnectionsAreDropped) {
  SnapshotBuilder both_builder, one_builder, again_builder;
  const Snapshot& both = both_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11))
                             .Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 12))
                             .Build();
  const Snapshot& one =
      one_builder.Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 12)).Build();
  AgeTracker tracker = WarmTracker();
  tracker.Update(both, 100, {});
  EXPECT_EQ(tracker.entries().size(), 2u);
  ExpectAge(tracker.Update(one, 150, {})[0], 50, AgeSource::kFirstSeen);
  ASSERT_EQ(tracker.entries().size(), 1u);
  EXPECT_EQ(tracker.entries().begin()->first.inode, 12u);
  // Had it been kept, the same key coming back would be 100 s old.
  const Snapshot& again =
      again_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Build();
  ExpectAge(tracker.Update(again, 200, {})[0], 0, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, ReopenedWithTheSameTupleStartsAfresh) {
  SnapshotBuilder first_builder, second_builder;
  const Snapshot& first =
      first_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Build();
  const Snapshot& second =
      second_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 12)).Build();
  AgeTracker tracker = WarmTracker();
  tracker.Update(first, 100, {});
  ExpectAge(tracker.Update(first, 150, {})[0], 50, AgeSource::kFirstSeen);
  ExpectAge(tracker.Update(second, 200, {})[0], 0, AgeSource::kFirstSeen);
  ExpectAge(tracker.Update(second, 210, {})[0], 10, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, ReusedInodeWithAnotherTupleStartsAfresh) {
  SnapshotBuilder first_builder, second_builder;
  const Snapshot& first =
      first_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Build();
  const Snapshot& second =
      second_builder.Add(Established("10.0.0.1", 40007, "10.0.0.3", 22, 11)).Build();
  AgeTracker tracker = WarmTracker();
  tracker.Update(first, 100, {});
  ExpectAge(tracker.Update(first, 150, {})[0], 50, AgeSource::kFirstSeen);
  ExpectAge(tracker.Update(second, 200, {})[0], 0, AgeSource::kFirstSeen);
  EXPECT_EQ(tracker.entries().size(), 1u);
}

TEST(AgeTrackerTest, CookieKeysSurviveInodeAndTupleChanges) {
  // With a cookie only the cookie counts (it is unique per boot); a new cookie is a new
  // connection even on the same inode and tuple.
  SnapshotBuilder first_builder, same_builder, other_builder;
  const Snapshot& first =
      first_builder.Add(WithCookie(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11), 1001))
          .Build();
  const Snapshot& same =
      same_builder
          .Add(WithCookie(Established("::ffff:10.0.0.1", 40000, "::ffff:10.0.0.2", 443, 99), 1001))
          .Build();
  const Snapshot& other =
      other_builder
          .Add(WithCookie(Established("::ffff:10.0.0.1", 40000, "::ffff:10.0.0.2", 443, 99), 1002))
          .Build();
  AgeTracker tracker = WarmTracker();
  tracker.Update(first, 100, {});
  ExpectAge(tracker.Update(same, 160, {})[0], 60, AgeSource::kFirstSeen);
  ExpectAge(tracker.Update(other, 170, {})[0], 0, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, ColdStartBoundsPreexistingConnectionsByTheOldestOwner) {
  SnapshotBuilder builder;
  builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11))
      .Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 12))
      .Add(Established("10.0.0.1", 40002, "10.0.0.2", 443, 13))
      .Add(Established("10.0.0.1", 40003, "10.0.0.2", 443, 14))
      .Own(11, 100, "worker")
      .Own(11, 101, "master")
      .Own(13, 102, "future");
  builder.snapshot.owners.Add(11, 999);  // exited before it could be read
  builder.snapshot.owners.Add(14, 998);  // its only owner exited
  builder.snapshot.processes.at(100).start_since_boot_seconds = 50;
  builder.snapshot.processes.at(101).start_since_boot_seconds = 30;
  builder.snapshot.processes.at(102).start_since_boot_seconds = 500;  // clock skew
  const Snapshot& snapshot = builder.Build();

  AgeTracker tracker(kBoot);
  auto ages = tracker.Update(snapshot, 100, {});
  ASSERT_EQ(ages.size(), 4u);
  ExpectAge(ages[0], 70, AgeSource::kProcessStart);
  ExpectAge(ages[1], 0, AgeSource::kFirstSeen);  // unowned
  ExpectAge(ages[2], 0, AgeSource::kProcessStart);
  ExpectAge(ages[3], 0, AgeSource::kFirstSeen);
  auto later = tracker.Update(snapshot, 110, {});
  ExpectAge(later[0], 80, AgeSource::kProcessStart);
  ExpectAge(later[2], 10, AgeSource::kProcessStart);  // its start was clamped to 100
}

TEST(AgeTrackerTest, AfterTheColdStartNewConnectionsAreFirstSeen) {
  SnapshotBuilder first_builder, later_builder;
  first_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Own(11, 100, "app");
  first_builder.snapshot.processes.at(100).start_since_boot_seconds = 20;
  later_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11))
      .Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 12))
      .Own(11, 100, "app")
      .Own(12, 100, "app");
  later_builder.snapshot.processes.at(100).start_since_boot_seconds = 20;
  AgeTracker tracker(kBoot);
  ExpectAge(tracker.Update(first_builder.Build(), 100, {})[0], 80, AgeSource::kProcessStart);
  auto ages = tracker.Update(later_builder.Build(), 150, {});
  ExpectAge(ages[0], 130, AgeSource::kProcessStart);
  ExpectAge(ages[1], 0, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, RestoredStateIsNoColdStart) {
  SnapshotBuilder builder;
  builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Own(11, 100, "app");
  builder.snapshot.processes.at(100).start_since_boot_seconds = 20;
  AgeTracker tracker(kBoot);
  ASSERT_TRUE(tracker.Restore(kBoot, {}));
  ExpectAge(tracker.Update(builder.Build(), 100, {})[0], 0, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, RestoredStateContinuesAges) {
  SnapshotBuilder before_builder, after_builder;
  before_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11))
      .Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 12))
      .Own(11, 100, "app");
  before_builder.snapshot.processes.at(100).start_since_boot_seconds = 40;
  after_builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11))
      .Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 12))
      .Add(Established("10.0.0.1", 40002, "10.0.0.2", 443, 13))
      .Own(11, 100, "app")
      .Own(13, 100, "app");
  after_builder.snapshot.processes.at(100).start_since_boot_seconds = 40;

  AgeTracker before(kBoot);
  auto first = before.Update(before_builder.Build(), 100, {});
  ExpectAge(first[0], 60, AgeSource::kProcessStart);
  ExpectAge(first[1], 0, AgeSource::kFirstSeen);

  // A restart: a new tracker adopts the old table and the ages go on from it.
  AgeTracker after(kBoot);
  ASSERT_TRUE(after.Restore(kBoot, before.entries()));
  auto ages = after.Update(after_builder.Build(), 500, {});
  ASSERT_EQ(ages.size(), 3u);
  ExpectAge(ages[0], 460, AgeSource::kProcessStart);
  ExpectAge(ages[1], 400, AgeSource::kFirstSeen);
  ExpectAge(ages[2], 0, AgeSource::kFirstSeen);  // new since: not bounded by its owner
}

TEST(AgeTrackerTest, AProcessStartBoundIsCertainOnlyForTheTimeWatched) {
  SnapshotBuilder builder;
  builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Own(11, 100, "nginx");
  builder.snapshot.processes.at(100).start_since_boot_seconds = 20;
  const Snapshot& snapshot = builder.Build();
  AgeTracker tracker(kBoot);
  auto first = tracker.Update(snapshot, 4476, {});
  ASSERT_TRUE(first[0]);
  ExpectAge(first[0], 4456, AgeSource::kProcessStart);
  EXPECT_EQ(first[0]->watched_seconds, 0);
  EXPECT_EQ(CertainAgeSeconds(*first[0]), 0) << "the bound alone is no fact";
  auto later = tracker.Update(snapshot, 4776, {});
  EXPECT_EQ(later[0]->watched_seconds, 300);
  EXPECT_EQ(CertainAgeSeconds(*later[0]), 300);

  // After a restart the restored bound is watched from the new run's first sample on.
  AgeTracker restarted(kBoot);
  ASSERT_TRUE(restarted.Restore(kBoot, tracker.entries()));
  auto after = restarted.Update(snapshot, 5000, {});
  ExpectAge(after[0], 4980, AgeSource::kProcessStart);
  EXPECT_EQ(after[0]->watched_seconds, 0);
  EXPECT_EQ(restarted.Update(snapshot, 5060, {})[0]->watched_seconds, 60);
}

TEST(CertainAgeSecondsTest, ExactAndLowerBoundsAreTheAge) {
  EXPECT_EQ(CertainAgeSeconds({50, AgeSource::kConntrack, 0}), 50);
  EXPECT_EQ(CertainAgeSeconds({50, AgeSource::kFirstSeen, 0}), 50);
  EXPECT_EQ(CertainAgeSeconds({50, AgeSource::kProcessStart, 10}), 10);
  EXPECT_EQ(CertainAgeSeconds({50, AgeSource::kProcessStart, 90}), 50) << "never past the bound";
}

TEST(AgeTrackerTest, StateFromAnotherBootIsRefused) {
  SnapshotBuilder builder;
  const Snapshot& snapshot =
      builder.Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11)).Build();
  AgeTracker old_boot("boot-a");
  old_boot.Update(snapshot, 100, {});
  ASSERT_EQ(old_boot.entries().size(), 1u);

  AgeTracker tracker("boot-b");
  EXPECT_FALSE(tracker.Restore("boot-a", old_boot.entries()));
  EXPECT_TRUE(tracker.entries().empty());
  // Refused state is no restore: still a cold start, the old start means nothing.
  ExpectAge(tracker.Update(snapshot, 5, {})[0], 0, AgeSource::kFirstSeen);
}

TEST(AgeTrackerTest, AnUnknownBootIdRefusesEverything) {
  AgeTracker tracker("");
  ConnectionTable entries;
  ConnectionKey key;
  key.cookie = 5;
  entries[key] = {10, AgeSource::kFirstSeen};
  EXPECT_FALSE(tracker.Restore("", entries));
  EXPECT_TRUE(tracker.entries().empty());
  AgeTracker known(kBoot);
  EXPECT_TRUE(known.Restore(kBoot, entries));
  EXPECT_EQ(known.entries().size(), 1u);
}

TEST(AgeTrackerTest, ConntrackGivesExactStartsInEitherDirection) {
  SnapshotBuilder builder;
  const Snapshot& snapshot =
      builder
          .Add(Established("10.0.0.1", 40000, "10.0.0.2", 443, 11))  // we connected
          .Add(Established("10.0.0.1", 22, "10.0.0.9", 50000, 12))   // they connected
          .Add(Established("10.0.0.1", 40001, "10.0.0.2", 443, 13))  // UDP flow only
          .Add(Established("10.0.0.1", 40002, "10.0.0.2", 443, 14))  // no flow
          .Add(Established("10.0.0.1", 40003, "10.0.0.2", 443, 15))  // start in future
          .Add(Established("10.0.0.1", 40004, "10.0.0.2", 443, 16))  // before boot
          .Own(14, 100, "app")
          .Own(11, 100, "app")
          .Build();
  builder.snapshot.processes.at(100).start_since_boot_seconds = 10;
  std::vector<ConntrackStart> conntrack = {
      Flow(Transport::kTcp, "10.0.0.1", 40000, "10.0.0.2", 443, 900),
      Flow(Transport::kTcp, "10.0.0.9", 50000, "10.0.0.1", 22, 400.25),
      Flow(Transport::kUdp, "10.0.0.1", 40001, "10.0.0.2", 443, 300),
      Flow(Transport::kTcp, "10.0.0.1", 40003, "10.0.0.2", 443, 1200),
      Flow(Transport::kTcp, "10.0.0.1", 40004, "10.0.0.2", 443, -50),
  };
  AgeTracker tracker(kBoot);
  auto ages = tracker.Update(snapshot, 1000, conntrack);
  ASSERT_EQ(ages.size(), 6u);
  ExpectAge(ages[0], 100, AgeSource::kConntrack);  // conntrack beats the process start
  ExpectAge(ages[1], 599.75, AgeSource::kConntrack);
  ExpectAge(ages[2], 0, AgeSource::kFirstSeen);
  ExpectAge(ages[3], 990, AgeSource::kProcessStart);
  ExpectAge(ages[4], 0, AgeSource::kConntrack);
  ExpectAge(ages[5], 1000, AgeSource::kConntrack);  // never older than the boot
  // The (clamped) starts are remembered: conntrack need not be dumped again.
  auto later = tracker.Update(snapshot, 1010, {});
  ExpectAge(later[1], 609.75, AgeSource::kConntrack);
  ExpectAge(later[4], 10, AgeSource::kConntrack);
}

TEST(AgeTrackerTest, ConntrackMatchesDualStackSockets) {
  SnapshotBuilder builder;
  const Snapshot& snapshot =
      builder.Add(Established("::ffff:10.0.0.1", 8080, "::ffff:10.0.0.7", 50000, 11))
          .Add(Established("2001:db8::1", 40000, "2001:db8::2", 443, 12))
          .Build();
  std::vector<ConntrackStart> conntrack = {
      Flow(Transport::kTcp, "10.0.0.7", 50000, "10.0.0.1", 8080, 40),
      Flow(Transport::kTcp, "2001:db8::1", 40000, "2001:db8::2", 443, 70),
      // The same tuple twice (it should not be): the later start wins, never overstating.
      Flow(Transport::kTcp, "2001:db8::1", 40000, "2001:db8::2", 443, 50),
      Flow(Transport::kTcp, "::ffff:10.0.0.7", 50000, "::ffff:10.0.0.1", 8080, 20),
  };
  AgeTracker tracker = WarmTracker();
  auto ages = tracker.Update(snapshot, 100, conntrack);
  ExpectAge(ages[0], 60, AgeSource::kConntrack);
  ExpectAge(ages[1], 30, AgeSource::kConntrack);
}

TEST(AgeTrackerTest, ManyConnections) {
  constexpr int kCount = 20000;
  SnapshotBuilder builder;
  std::vector<ConntrackStart> conntrack;
  for (int i = 0; i < kCount; ++i) {
    uint16_t port = static_cast<uint16_t>(1024 + i);
    builder.Add(Established("10.0.0.1", port, "10.0.0.2", 443, 1000 + i));
    if (i % 2 == 0) {
      conntrack.push_back(Flow(Transport::kTcp, "10.0.0.1", port, "10.0.0.2", 443, i % 100));
    }
  }
  const Snapshot& snapshot = builder.Build();
  AgeTracker tracker = WarmTracker();
  auto ages = tracker.Update(snapshot, 1000, conntrack);
  ASSERT_EQ(ages.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(ages[i].has_value());
    if (i % 2 == 0) {
      ASSERT_EQ(ages[i]->source, AgeSource::kConntrack) << i;
      ASSERT_DOUBLE_EQ(ages[i]->age_seconds, 1000 - i % 100) << i;
    } else {
      ASSERT_EQ(ages[i]->source, AgeSource::kFirstSeen) << i;
    }
  }
  EXPECT_EQ(tracker.entries().size(), static_cast<size_t>(kCount));
}

// start_boot = boot - (unix - start_unix), with the snapshot's two clocks: the wall clock
// of now plays no part. Flows without a timestamp give nothing; no clamping here (the
// tracker clamps).
TEST(ConntrackStartsOfTest, MovesStartsToTheBootClockWithTheSnapshotsClocks) {
  Snapshot snapshot;
  snapshot.timestamp_seconds = 1800000000;
  snapshot.boot_clock_seconds = 5000;
  auto flow = [](Transport transport, const char* source, uint16_t source_port,
                 const char* destination, uint16_t destination_port, uint64_t start_unix_ns) {
    ConntrackFlow result;
    result.transport = transport;
    result.source = *ParseIpAddress(source);
    result.source_port = source_port;
    result.destination = *ParseIpAddress(destination);
    result.destination_port = destination_port;
    result.start_unix_ns = start_unix_ns;
    return result;
  };
  snapshot.conntrack_flows = {
      flow(Transport::kTcp, "10.0.0.1", 40000, "192.0.2.7", 443, 1'799'999'899'500'000'000ull),
      flow(Transport::kUdp, "10.0.0.1", 5353, "10.0.0.53", 53, 0),  // no timestamp
      flow(Transport::kUdp, "2001:db8::1", 5000, "2001:db8::2", 53, 1'800'000'010'000'000'000ull),
      flow(Transport::kTcp, "10.0.0.2", 1, "10.0.0.3", 2, 1'799'990'000'000'000'000ull),
  };
  std::vector<ConntrackStart> starts = ConntrackStartsOf(snapshot);
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[0].transport, Transport::kTcp);
  EXPECT_EQ(starts[0].source, *ParseIpAddress("10.0.0.1"));
  EXPECT_EQ(starts[0].source_port, 40000);
  EXPECT_EQ(starts[0].destination, *ParseIpAddress("192.0.2.7"));
  EXPECT_EQ(starts[0].destination_port, 443);
  EXPECT_DOUBLE_EQ(starts[0].start_boot_seconds, 4899.5);  // 100.5 s before the sample
  EXPECT_EQ(starts[1].transport, Transport::kUdp);
  EXPECT_EQ(starts[1].source, *ParseIpAddress("2001:db8::1"));
  EXPECT_EQ(starts[1].destination_port, 53);
  EXPECT_DOUBLE_EQ(starts[1].start_boot_seconds, 5010);   // after the sample: a clock step
  EXPECT_DOUBLE_EQ(starts[2].start_boot_seconds, -5000);  // before boot: left to the tracker

  // The same flows with other clocks move by exactly the difference.
  snapshot.boot_clock_seconds = 100;
  snapshot.timestamp_seconds = 1800000100;
  starts = ConntrackStartsOf(snapshot);
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_DOUBLE_EQ(starts[0].start_boot_seconds, -100.5);
  EXPECT_TRUE(ConntrackStartsOf(Snapshot()).empty());
}

TEST(ConnectionAgeBootClockTest, IsTheBootClock) {
  double first = BootClockSeconds();
  double second = BootClockSeconds();
  EXPECT_GT(first, 0);
  EXPECT_GE(second, first);
  // /proc/uptime's first field is CLOCK_BOOTTIME too.
  FILE* uptime = fopen("/proc/uptime", "r");
  ASSERT_NE(uptime, nullptr);
  double seconds = 0;
  ASSERT_EQ(fscanf(uptime, "%lf", &seconds), 1);
  fclose(uptime);
  EXPECT_NEAR(seconds, BootClockSeconds(), 2.0);
}

}  // namespace
}  // namespace connwatch
