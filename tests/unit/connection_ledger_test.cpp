// The connection ledger (tracking/connection_ledger.h): opened, failed and bytes counted
// once, from samples and close records, never going down.
#include "tracking/connection_ledger.h"

#include <gtest/gtest.h>

#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

Socket WithBytes(Socket socket, uint64_t cookie, uint64_t acked, uint64_t received) {
  socket.cookie = cookie;
  socket.has_bytes = true;
  socket.bytes_acked = acked;
  socket.bytes_received = received;
  return socket;
}

// The zone names a snapshot's classes point at belong to a ZoneClassifier; this one outlives
// the copies Live returns (a builder's own dies with it, and the copies would dangle).
const ZoneClassifier& Zones() {
  static const ZoneClassifier zones;
  return zones;
}

Snapshot Live(std::vector<Socket> connections) {
  SnapshotBuilder builder;
  pid_t pid = 100;
  for (const Socket& socket : connections) builder.Add(socket).Own(socket.inode, pid++, "curl");
  Snapshot snapshot = builder.Build();
  snapshot.classes = ClassifySockets(snapshot.sockets, {}, Zones());
  return snapshot;
}

const FlowCounts& Only(const ConnectionLedger& ledger) {
  EXPECT_EQ(ledger.flows().size(), 1u);
  return ledger.flows().begin()->second;
}

Socket Curl(uint64_t inode, uint16_t port) {
  return Tcp(SocketState::kEstablished, "10.0.0.5", port, "8.8.8.8", 443, inode);
}

TEST(ConnectionLedgerTest, BaselineThenBornSinceThenDifferences) {
  ConnectionLedger ledger;
  ledger.Observe(Live({WithBytes(Curl(1, 40000), 11, 5000, 7000)}), 100);
  EXPECT_TRUE(ledger.flows().empty()) << "the first sample is a baseline";
  ledger.Observe(
      Live({WithBytes(Curl(1, 40000), 11, 5100, 7000), WithBytes(Curl(2, 40001), 12, 300, 40)}),
      110);
  const FlowCounts& counts = Only(ledger);
  EXPECT_EQ(counts.opened, 1) << "only the connection born since";
  EXPECT_EQ(counts.bytes_sent, 100 + 300) << "a difference and a whole newcomer";
  EXPECT_EQ(counts.bytes_received, 40);
  EXPECT_EQ(ledger.flows().begin()->first.process, "curl");
  EXPECT_EQ(ledger.flows().begin()->first.direction, "outbound");
  EXPECT_EQ(ledger.flows().begin()->first.remote_zone, "external");
  // A counter that went down (connect(AF_UNSPEC) on the same socket) counts whole.
  ledger.Observe(
      Live({WithBytes(Curl(1, 40000), 11, 50, 0), WithBytes(Curl(2, 40001), 12, 300, 40)}), 120);
  EXPECT_EQ(Only(ledger).bytes_sent, 450);
  EXPECT_EQ(Only(ledger).opened, 1) << "seen again, not opened again";
}

TEST(ConnectionLedgerTest, CloseRecordsOfSeenConnectionsAddTheLastDifference) {
  ConnectionLedger ledger;
  ledger.Observe(Live({}), 100);
  ledger.Observe(Live({WithBytes(Curl(2, 40001), 12, 300, 40)}), 110);
  ConnectionEvent seen;
  seen.cookie = 12;
  seen.has_bytes = true;
  seen.bytes_acked = 1301;
  seen.bytes_received = 41;
  seen.end_boot_seconds = 115;
  ConnectionEvent unseen;
  unseen.cookie = 99;
  std::vector<ConnectionEvent> rest = ledger.CloseSeen({seen, unseen}, 116);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].cookie, 99u) << "only the connection no sample saw is returned";
  EXPECT_EQ(Only(ledger).bytes_sent, 1301);
  EXPECT_EQ(Only(ledger).bytes_received, 41);
  EXPECT_EQ(Only(ledger).opened, 1);
  EXPECT_EQ(ledger.tracked(), 0u) << "nothing is kept once counted closed";
  ASSERT_EQ(ledger.durations().size(), 1u);
  EXPECT_EQ(ledger.durations().begin()->second.count, 1u) << "from the sample that first saw it";
  EXPECT_DOUBLE_EQ(ledger.durations().begin()->second.sum, 5);
}

TEST(ConnectionLedgerTest, EventsBeforeTheFirstSampleAreOlderThanConnwatch) {
  ConnectionLedger ledger;
  ConnectionEvent event;
  event.cookie = 5;
  EXPECT_TRUE(ledger.CloseSeen({event}, 1).empty());
}

TEST(ConnectionLedgerTest, ClosedConnectionsCountOpenedFailedBytesAndDurations) {
  ConnectionLedger ledger;
  ledger.Observe(Live({}), 100);
  Snapshot closed =
      Live({Curl(1, 40000), Tcp(SocketState::kSynSent, "10.0.0.5", 40001, "8.8.8.8", 443, 2)});
  ConnectionEvent ok;
  ok.has_bytes = true;
  ok.bytes_acked = 1001;
  ok.bytes_received = 11;
  ok.start_boot_seconds = 101;
  ok.end_boot_seconds = 101.2;
  ConnectionEvent failed;
  failed.outcome = EventOutcome::kFailed;
  ledger.CountClosed(closed, std::vector<ConnectionEvent>{ok, failed}, 105);
  const FlowCounts& counts = Only(ledger);
  EXPECT_EQ(counts.opened, 1);
  EXPECT_EQ(counts.failed, 1);
  EXPECT_EQ(counts.bytes_sent, 1001);
  const DurationHistogram& histogram = ledger.durations().begin()->second;
  EXPECT_EQ(histogram.count, 1u) << "the failed one has no start";
  EXPECT_EQ(histogram.buckets[0], 0u) << "0.2 s is above 0.01 s";
  EXPECT_EQ(histogram.buckets[1], 0u) << "and above 0.1 s";
  EXPECT_EQ(histogram.buckets[2], 1u) << "but within 1 s";
}

// Opened by what the closed snapshot says: it knows an accepted end was established when
// the event's counters (zeroed by a reset on close) made it look failed.
TEST(ConnectionLedgerTest, ClosedCountsFollowTheClosedSnapshot) {
  ConnectionLedger ledger;
  ledger.Observe(Live({}), 100);
  Snapshot closed = Live({Tcp(SocketState::kEstablished, "10.0.0.5", 80, "10.0.0.9", 0, 1)});
  closed.classes[0].direction = Direction::kInbound;
  ConnectionEvent zeroed;
  zeroed.outcome = EventOutcome::kFailed;
  zeroed.has_bytes = true;
  ledger.CountClosed(closed, std::vector<ConnectionEvent>{zeroed}, 105);
  const FlowCounts& counts = Only(ledger);
  EXPECT_EQ(counts.opened, 1);
  EXPECT_EQ(counts.failed, 0);
}

TEST(ConnectionLedgerTest, AttemptSeenThenEstablishedCountsOnce) {
  ConnectionLedger ledger;
  ledger.Observe(Live({}), 100);
  Socket attempt = Tcp(SocketState::kSynSent, "10.0.0.5", 40000, "8.8.8.8", 443, 1);
  attempt.cookie = 7;
  ledger.Observe(Live({attempt}), 110);
  EXPECT_TRUE(ledger.flows().empty()) << "not established yet: nothing counted";
  ConnectionEvent close;
  close.cookie = 7;
  EXPECT_TRUE(ledger.CloseSeen({close}, 115).empty());
  EXPECT_EQ(Only(ledger).opened, 1);
}

TEST(ConnectionLedgerTest, TupleKeyedSocketsMatchEventsByTuple) {
  ConnectionLedger ledger;
  ledger.Observe(Live({}), 100);
  Socket socket = Curl(1, 40000);  // cookie 0: read from /proc/net
  ledger.Observe(Live({socket}), 110);
  ConnectionEvent close;
  close.cookie = 1234;
  close.local = socket.local;
  close.local_port = socket.local_port;
  close.remote = socket.remote;
  close.remote_port = socket.remote_port;
  EXPECT_TRUE(ledger.CloseSeen({close}, 115).empty()) << "the same connection, not a new one";
  EXPECT_EQ(Only(ledger).opened, 1);
}

// What the sink hears: (process, remote port, established, when) per counted connection.
struct Heard {
  std::string process;
  uint16_t remote_port;
  bool established;
  double when;
  pid_t pid;
  bool operator==(const Heard&) const = default;
};
std::vector<Heard>& Listen(ConnectionLedger& ledger) {
  static std::vector<Heard> heard;
  heard.clear();
  ledger.SetCountedSink([](const CountedConnection& counted) {
    heard.push_back({counted.labels.process, counted.remote_port, counted.established,
                     counted.when_boot, counted.pid});
  });
  return heard;
}

TEST(ConnectionLedgerTest, SinkHearsEveryConnectionOnceWithItsBestStart) {
  ConnectionLedger ledger;
  std::vector<Heard>& heard = Listen(ledger);
  ledger.Observe(Live({Curl(1, 40000)}), 100);  // before connwatch: no start, never heard
  ledger.Observe(Live({WithBytes(Curl(2, 40001), 12, 1, 1)}), 110);
  EXPECT_TRUE(heard.empty()) << "nothing has ended yet";
  ConnectionEvent seen;  // sock_diag: no start; the first sample that saw it is better
  seen.cookie = 12;
  seen.remote_port = 443;
  seen.end_boot_seconds = 118;
  ledger.CloseSeen({seen}, 119);
  Snapshot closed =
      Live({Curl(3, 40002), Tcp(SocketState::kSynSent, "10.0.0.5", 40003, "8.8.8.8", 81, 4)});
  ConnectionEvent quick;  // eBPF: an exact start and the pid
  quick.remote_port = 443;
  quick.start_boot_seconds = 112.5;
  quick.end_boot_seconds = 112.7;
  quick.pid = 4242;
  ConnectionEvent refused;
  refused.remote_port = 81;
  refused.outcome = EventOutcome::kFailed;
  refused.end_boot_seconds = 113;
  ledger.CountClosed(closed, std::vector<ConnectionEvent>{quick, refused}, 120);
  EXPECT_EQ(heard, (std::vector<Heard>{{"curl", 443, true, 110, 0},
                                       {"curl", 443, true, 112.5, 4242},
                                       {"curl", 81, false, 113, 0}}));
  heard.clear();
  // The baseline connection goes without a close record: still not heard (no start).
  ledger.Observe(Live({Curl(5, 40005)}), 130);
  ledger.Observe(Live({Curl(5, 40005)}), 140);
  ledger.Observe(Live({}), 150);
  ledger.Observe(Live({}), 160);
  EXPECT_EQ(heard, (std::vector<Heard>{{"curl", 443, true, 130, 0}}))
      << "one gone for two samples is heard with its first sighting";
}

TEST(ConnectionLedgerTest, ExpireKeepsMovingAndLiveFlows) {
  ConnectionLedger ledger;
  ledger.Observe(Live({}), 100);
  ledger.Observe(Live({Curl(1, 40000)}), 110);
  ledger.Expire(60, 150, {});
  EXPECT_EQ(ledger.flows().size(), 1u) << "moved 40 s ago";
  ledger.Expire(60, 200, {"curl"});
  EXPECT_EQ(ledger.flows().size(), 1u) << "its process still holds sockets";
  ledger.Expire(60, 200, {});
  EXPECT_TRUE(ledger.flows().empty());
}

}  // namespace
}  // namespace connwatch
