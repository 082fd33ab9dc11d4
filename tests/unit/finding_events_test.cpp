// Findings counted once per connection and held after it ended (metrics/finding_events.h).
#include "metrics/finding_events.h"

#include <gtest/gtest.h>

#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

const Snapshot& Beacon(SnapshotBuilder& builder, bool present) {
  if (present) {
    Socket socket = Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 1);
    socket.cookie = 42;
    builder.Add(socket).Own(1, 300, "beacon");
  }
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 2)).Own(2, 1, "sshd");
  return builder.Build();
}

Policy OnlyLoopbackPaths() {
  Policy policy;
  policy.paths = std::vector<PathRule>{};
  policy.listeners = std::vector<ListenerRule>{};  // the listener is a finding, not counted
  return policy;
}

double Counted(const FindingEvents& events) {
  double sum = 0;
  for (const auto& [labels, count] : events.counts()) sum += count;
  return sum;
}

TEST(FindingEventsTest, LiveViolationCountsOnceAndIsHeldWhenGone) {
  FindingEvents events;
  Policy policy = OnlyLoopbackPaths();
  for (int sample = 0; sample < 3; ++sample) {
    SnapshotBuilder builder;
    const Snapshot& live = Beacon(builder, true);
    events.ObserveLive(live, Evaluate(policy, live), 100 + sample, 1000 + sample);
  }
  EXPECT_EQ(Counted(events), 1) << "one connection, three samples";
  ASSERT_EQ(events.counts().size(), 1u);
  EXPECT_EQ(events.counts().begin()->first,
            (LabelValues{"path_violation", "beacon", "outbound", "external", "", "", ""}));
  EXPECT_TRUE(events.held().empty());
  for (int sample = 3; sample < 5; ++sample) {
    SnapshotBuilder builder;
    const Snapshot& live = Beacon(builder, false);
    events.ObserveLive(live, Evaluate(policy, live), 100 + sample, 1000 + sample);
  }
  ASSERT_EQ(events.held().size(), 1u) << "two samples without it";
  EXPECT_EQ(events.held()[0].labels[6], "8.8.8.8");
  EXPECT_EQ(events.held()[0].labels[2], "300");
  EXPECT_TRUE(events.TakeChanged());
  EXPECT_FALSE(events.TakeChanged());
}

TEST(FindingEventsTest, CloseRecordEndsItWithItsDetails) {
  FindingEvents events;
  Policy policy = OnlyLoopbackPaths();
  SnapshotBuilder builder;
  const Snapshot& live = Beacon(builder, true);
  events.ObserveLive(live, Evaluate(policy, live), 100, 1000);
  ConnectionEvent close;
  close.cookie = 42;
  close.start_boot_seconds = 99;
  close.end_boot_seconds = 104;
  close.has_bytes = true;
  close.bytes_acked = 5001;
  close.bytes_received = 21;
  events.ObserveEnds(std::vector<ConnectionEvent>{close}, 105, 1005);
  ASSERT_EQ(events.held().size(), 1u);
  const HeldFinding& held = events.held()[0];
  EXPECT_DOUBLE_EQ(held.start_unix, 999);
  EXPECT_DOUBLE_EQ(held.duration, 5);
  EXPECT_EQ(held.bytes_sent, 5001u);
  EXPECT_EQ(held.bytes_received, 21u);
  EXPECT_EQ(Counted(events), 1) << "ending it counts nothing more";
}

TEST(FindingEventsTest, ClosedConnectionsCountAndHoldAtOnce) {
  FindingEvents events;
  Policy policy = OnlyLoopbackPaths();
  SnapshotBuilder builder;
  const Snapshot& closed = Beacon(builder, true);
  Evaluation judged = Evaluate(policy, closed);
  ConnectionEvent event;
  event.end_boot_seconds = 104;
  events.ObserveClosed(closed, judged, std::vector<ConnectionEvent>{event}, 105, 1005);
  EXPECT_EQ(Counted(events), 1) << "the path violation; the listener is not counted per connection";
  ASSERT_EQ(events.held().size(), 1u);
  EXPECT_DOUBLE_EQ(events.held()[0].ended_unix, 1004);
  EXPECT_LT(events.held()[0].duration, 0) << "no start: unknown";
}

TEST(FindingEventsTest, ExpireByTimeAndCap) {
  FindingEvents events;
  Policy policy = OnlyLoopbackPaths();
  for (int i = 0; i < 3; ++i) {
    SnapshotBuilder builder;
    const Snapshot& closed = Beacon(builder, true);
    ConnectionEvent event;
    events.ObserveClosed(closed, Evaluate(policy, closed), std::vector<ConnectionEvent>{event},
                         100 + i * 100, 1000);
  }
  events.Expire(600, 2, 300);
  EXPECT_EQ(events.held().size(), 2u);
  EXPECT_EQ(events.dropped(), 1u) << "the oldest goes first";
  EXPECT_DOUBLE_EQ(events.held()[0].ended_boot, 200);
  events.Expire(150, 2, 400);
  ASSERT_EQ(events.held().size(), 1u) << "ended 200 s ago, held for 150";
  EXPECT_DOUBLE_EQ(events.held()[0].ended_boot, 300);
}

TEST(FindingEventsTest, FileRoundTripsHostileLabels) {
  std::deque<HeldFinding> held(1);
  held[0].labels = LabelValues(16, "x");
  held[0].labels[1] = "evil\tname\nwith \\ slash";
  held[0].start_unix = 1700000000.5;
  held[0].duration = 0.2;
  held[0].has_bytes = true;
  held[0].bytes_sent = 10;
  held[0].bytes_received = 20;
  held[0].ended_unix = 1700000000.7;
  std::string text = FormatHeldFindings(held);
  std::optional<std::vector<HeldFinding>> parsed = ParseHeldFindings(text);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].labels, held[0].labels);
  EXPECT_EQ((*parsed)[0].bytes_received, 20u);
  EXPECT_DOUBLE_EQ((*parsed)[0].duration, 0.2);
  EXPECT_FALSE(ParseHeldFindings(text.substr(0, text.size() - 1))) << "torn";
  EXPECT_FALSE(ParseHeldFindings("# something else\n"));
}

}  // namespace
}  // namespace connwatch
