// Which listener an inode-less socket waits for (FindAcceptQueues), why a socket has the
// owners it has (AttributeHeld), and both through a snapshot: built by hand, and taken by
// TakeSnapshot from a fake /proc whose owner "exits" between the fd walk and the read.
#include "sources/attribution.h"

#include <gtest/gtest.h>

#include "sources/snapshot.h"
#include "support/fake_proc.h"
#include "support/proc_net_text.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;
using testing::Udp;
constexpr SocketState kEstablished = SocketState::kEstablished;
constexpr SocketState kListen = SocketState::kListen;

TEST(FindAcceptQueuesTest, InodeLessConnectionsOnAListenedPortAndAddress) {
  std::vector<Socket> sockets = {
      Tcp(kListen, "0.0.0.0", 80, "0.0.0.0", 0, 10),                         // 0
      Tcp(kEstablished, "10.0.0.5", 80, "10.0.0.9", 50000, 0),               // 1 queued on 0
      Tcp(kEstablished, "10.0.0.5", 80, "10.0.0.9", 50001, 11),              // 2 accepted
      Tcp(SocketState::kCloseWait, "10.0.0.5", 80, "10.0.0.9", 50002, 0),    // 3 queued, FIN in
      Tcp(SocketState::kTimeWait, "10.0.0.5", 80, "10.0.0.9", 50003, 0),     // 4 not queued
      Tcp(SocketState::kNewSynRecv, "10.0.0.5", 80, "10.0.0.9", 50004, 0),   // 5 handshake
      Tcp(kEstablished, "10.0.0.5", 81, "10.0.0.9", 50005, 0),               // 6 no listener
      Udp("10.0.0.5", 80, "10.0.0.9", 50006, 0),                             // 7 not TCP
      Tcp(kEstablished, "::ffff:10.0.0.5", 80, "::ffff:10.0.0.9", 50007, 0)  // 8 v4 in v6 form
  };
  EXPECT_EQ(FindAcceptQueues(sockets), (QueuedSockets{{1, 0}, {3, 0}, {8, 0}}));
}

TEST(FindAcceptQueuesTest, TheMostSpecificListenerWins) {
  std::vector<Socket> sockets = {
      Tcp(kListen, "::", 8080, "::", 0, 1),                         // 0 v6 wildcard
      Tcp(kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 2),               // 1 v4 wildcard
      Tcp(kListen, "127.0.0.1", 8080, "0.0.0.0", 0, 3),             // 2 exact
      Tcp(kEstablished, "127.0.0.1", 8080, "127.0.0.1", 40000, 0),  // 3 -> 2
      Tcp(kEstablished, "10.0.0.5", 8080, "10.0.0.9", 40001, 0),    // 4 -> 1 (own family)
      Tcp(kEstablished, "fd00::5", 8080, "fd00::9", 40002, 0),      // 5 -> 0
      Tcp(kListen, "10.0.0.7", 9090, "0.0.0.0", 0, 4),              // 6 other address
      Tcp(kEstablished, "10.0.0.5", 9090, "10.0.0.9", 40003, 0),    // 7 not 6's
      Tcp(kListen, "::", 7070, "::", 0, 5),                         // 8 v6 wildcard only
      Tcp(kEstablished, "10.0.0.5", 7070, "10.0.0.9", 40004, 0),    // 9 -> 8 (dual stack)
      Tcp(kListen, "0.0.0.0", 6060, "0.0.0.0", 0, 6),               // 10 v4 wildcard only
      Tcp(kEstablished, "fd00::5", 6060, "fd00::9", 40005, 0),      // 11 not 10's
      Tcp(kListen, "::ffff:10.0.0.5", 5050, "::", 0, 7),            // 12 mapped bind
      Tcp(kEstablished, "10.0.0.5", 5050, "10.0.0.9", 40006, 0),    // 13 -> 12
  };
  EXPECT_EQ(FindAcceptQueues(sockets), (QueuedSockets{{3, 2}, {4, 1}, {5, 0}, {9, 8}, {13, 12}}));
  EXPECT_TRUE(FindAcceptQueues({}).empty());
}

TEST(FindAcceptQueuesTest, OnlyAListenerOfTheSameNamespace) {
  std::vector<Socket> sockets = {
      Tcp(kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 1),             // 0 in connwatch's own
      Tcp(kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 2),             // 1 in a pod's
      Tcp(kEstablished, "10.0.0.5", 8080, "10.0.0.9", 50000, 0),  // 2 queued in the pod
      Tcp(kEstablished, "10.0.0.6", 8080, "10.0.0.9", 50001, 0),  // 3 in a third, no listener
  };
  sockets[1].netns = 1;
  sockets[2].netns = 1;
  sockets[3].netns = 2;
  EXPECT_EQ(FindAcceptQueues(sockets), (QueuedSockets{{2, 1}}));
}

TEST(AttributeHeldTest, Reasons) {
  EXPECT_EQ(AttributeHeld(2, 1, StillOpen::kCannotTell), Attribution::kOwned);
  EXPECT_EQ(AttributeHeld(2, 0, StillOpen::kCannotTell), Attribution::kOwnerExited)
      << "held at the walk, gone by the read";
  EXPECT_EQ(AttributeHeld(0, 0, StillOpen::kNo), Attribution::kOwnerExited)
      << "closed between the dump and the walk";
  EXPECT_EQ(AttributeHeld(0, 0, StillOpen::kYes), Attribution::kUnknown);
  EXPECT_EQ(AttributeHeld(0, 0, StillOpen::kCannotTell), Attribution::kUnknown);
  EXPECT_STREQ(AttributionName(Attribution::kAcceptQueue), "accept_queue");
  EXPECT_STREQ(AttributionName(Attribution::kOwnerExited), "owner_exited");
  EXPECT_STREQ(AttributionName(Attribution::kUnknown), "unknown");
  EXPECT_STREQ(AttributionName(Attribution::kNoInode), "none");
}

// nginx's listener (master and worker), two clients in its accept queue, one accepted, a
// connection whose holder was not read, three nobody held (closed since, reused inode, still
// there), and a client queued on a listener whose owner exited.
SnapshotBuilder& Host(SnapshotBuilder& builder) {
  return builder
      .Add(Tcp(kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))                       // 0
      .Add(Tcp(kEstablished, "10.0.0.5", 80, "10.0.0.9", 50000, 0))            // 1 queued
      .Add(Tcp(kEstablished, "::ffff:10.0.0.5", 80, "::ffff:10.0.0.8", 5, 0))  // 2 queued
      .Add(Tcp(kEstablished, "10.0.0.5", 80, "10.0.0.9", 50001, 2))            // 3 accepted
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "10.0.0.7", 443, 3))           // 4 not read
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "10.0.0.7", 443, 4))           // 5 closed
      .Add(Tcp(kEstablished, "10.0.0.5", 40002, "10.0.0.7", 443, 5))           // 6 reused
      .Add(Tcp(kEstablished, "10.0.0.5", 40003, "10.0.0.7", 443, 6))           // 7 still there
      .Add(Tcp(kListen, "0.0.0.0", 81, "0.0.0.0", 0, 7))                       // 8 owner exited
      .Add(Tcp(kEstablished, "10.0.0.5", 81, "10.0.0.9", 50002, 0))            // 9 queued on 8
      .Add(Tcp(SocketState::kTimeWait, "10.0.0.5", 80, "10.0.0.9", 50003, 0))  // 10 nobody's
      .Own(1, 100, "nginx")
      .Own(1, 101, "nginx")
      .Own(2, 101, "nginx");
}

SocketLookup FakeLookup(const Socket& socket, uint64_t& inode) {
  switch (socket.inode) {
    case 4:
      return SocketLookup::kGone;
    case 5:
      inode = 0;  // its last fd closed: an orphan now
      return SocketLookup::kOpen;
    case 6:
      inode = 6;
      return SocketLookup::kOpen;
  }
  return SocketLookup::kUnknown;
}

TEST(SnapshotAttributionTest, QueuedSocketsHaveTheirListenersOwners) {
  SnapshotBuilder builder;
  Snapshot& snapshot = Host(builder).Build();
  snapshot.owners.Add(3, 300);  // 300 exits before it is read: no process entry
  snapshot.owners.Add(7, 700);
  snapshot.IndexOwners();
  EXPECT_EQ(snapshot.queued, (QueuedSockets{{1, 0}, {2, 0}, {9, 8}}));
  for (size_t queued : {1, 2}) {
    std::span<const pid_t> owners = snapshot.OwnersOf(snapshot.sockets[queued]);
    EXPECT_EQ(std::vector<pid_t>(owners.begin(), owners.end()), (std::vector<pid_t>{100, 101}));
    EXPECT_EQ(snapshot.OwnerNames(snapshot.sockets[queued]), std::vector<std::string>{"nginx"});
  }
  EXPECT_TRUE(snapshot.OwnersOf(snapshot.sockets[10]).empty());
  // Without the index (an Add voids it) the queue still holds.
  snapshot.owners.Add(99, 9);
  EXPECT_EQ(snapshot.OwnersOf(snapshot.sockets[1]).size(), 2u);
  Socket copy = snapshot.sockets[1];  // not a socket of this snapshot: no queue to be in
  EXPECT_TRUE(snapshot.OwnersOf(copy).empty());
}

TEST(SnapshotAttributionTest, ReasonsWithAndWithoutLookups) {
  SnapshotBuilder builder;
  Snapshot& snapshot = Host(builder).Build();
  snapshot.owners.Add(3, 300);
  snapshot.owners.Add(7, 700);
  snapshot.IndexOwners();
  using A = Attribution;
  std::vector<A> without = {A::kOwned,       A::kAcceptQueue, A::kAcceptQueue, A::kOwned,
                            A::kOwnerExited, A::kUnknown,     A::kUnknown,     A::kUnknown,
                            A::kOwnerExited, A::kOwnerExited, A::kNoInode};
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    EXPECT_EQ(snapshot.AttributionOf(i), without[i]) << "socket " << i << ", no lookup";
  }
  size_t asked = 0;
  AttributeSockets(snapshot, [&asked](const Socket& socket, uint64_t& inode) {
    ++asked;
    return FakeLookup(socket, inode);
  });
  std::vector<A> with = without;
  with[5] = A::kOwnerExited;  // gone
  with[6] = A::kOwnerExited;  // open, but no longer under its inode
  EXPECT_EQ(snapshot.attribution, with);
  EXPECT_EQ(asked, 3u) << "only sockets with an inode that no process held";
  AttributeSockets(snapshot, nullptr);
  EXPECT_EQ(snapshot.attribution, without);
}

TEST(SnapshotAttributionTest, LookupsAreCapped) {
  SnapshotBuilder builder;
  for (uint64_t i = 0; i < kMaxAttributionLookups + 10; ++i) {
    builder.Add(
        Tcp(kEstablished, "10.0.0.5", static_cast<uint16_t>(20000 + i), "10.0.0.7", 443, 1000 + i));
  }
  Snapshot& snapshot = builder.Build();
  size_t asked = 0;
  AttributeSockets(snapshot, [&asked](const Socket&, uint64_t&) {
    ++asked;
    return SocketLookup::kGone;
  });
  EXPECT_EQ(asked, kMaxAttributionLookups);
  EXPECT_EQ(snapshot.attribution.front(), Attribution::kOwnerExited);
  EXPECT_EQ(snapshot.attribution.back(), Attribution::kUnknown) << "past the cap: cannot tell";
}

// Through TakeSnapshot on a fake /proc: pid 200 holds a connection at the fd walk, and its
// files vanish before its stat is read (the fd walk sees its fd/; the process read finds no
// stat), as a client that exits mid-sample leaves them. A queued client on nginx's port.
TEST(SnapshotAttributionTest, OwnerThatExitsBetweenTheWalkAndTheReadOnAFakeProc) {
  testing::FakeProc proc;
  proc.MakeDir("net");
  using testing::ProcNetEntry;
  proc.WriteFile("net/tcp", testing::ProcNetText(testing::kProcNetTcpHeader,
                                                 {
                                                     {"0.0.0.0", 80, "0.0.0.0", 0, 10, 41},
                                                     {"10.0.0.5", 80, "10.0.0.9", 50000, 1, 0},
                                                     {"10.0.0.5", 40000, "10.0.0.7", 443, 1, 42},
                                                     {"10.0.0.5", 40001, "10.0.0.7", 443, 1, 43},
                                                 }));
  proc.WriteFile("net/udp", testing::kProcNetUdpHeader);
  testing::FakeProcess nginx;
  nginx.comm = "nginx";
  nginx.exe = "/usr/sbin/nginx";
  proc.AddProcess(100, nginx).AddSocket(100, 3, 41);
  proc.AddProcess(200).AddSocket(200, 3, 42);
  proc.Remove("200/stat");
  SnapshotOptions options;
  options.procfs = proc.root();
  options.source_mode = SourceMode::kProcfs;
  ZoneClassifier zones;
  Snapshot snapshot = TakeSnapshot(options, zones);
  ASSERT_EQ(snapshot.sockets.size(), 4u);
  EXPECT_EQ(snapshot.attribution,
            (std::vector<Attribution>{Attribution::kOwned, Attribution::kAcceptQueue,
                                      Attribution::kOwnerExited, Attribution::kUnknown}))
      << "procfs: nobody can tell whether 43 still exists";
  EXPECT_EQ(snapshot.OwnerNames(snapshot.sockets[1]), std::vector<std::string>{"nginx"});
}

}  // namespace
}  // namespace connwatch
