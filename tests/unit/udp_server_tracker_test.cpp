#include "sources/udp_server_tracker.h"

#include <gtest/gtest.h>

#include <vector>

#include "sources/snapshot.h"
#include "support/fake_proc.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::Tcp;
using testing::Udp;

Socket WithCookie(Socket socket, uint64_t cookie) {
  socket.cookie = cookie;
  return socket;
}

EphemeralPorts Range() {
  EphemeralPorts ephemeral;
  ephemeral.range = {32768, 60999};
  ephemeral.reserved.set(51000);
  return ephemeral;
}

TEST(UdpServerTrackerTest, CandidatesAreUnconnectedBoundUdpInsideTheRange) {
  EphemeralPorts ephemeral = Range();
  EXPECT_TRUE(IsUdpServerCandidate(Udp("0.0.0.0", 40000, "0.0.0.0", 0), ephemeral));
  EXPECT_TRUE(IsUdpServerCandidate(Udp("::", 51820, "::", 0), ephemeral));
  // Outside the range: a listener without waiting, not the tracker's to judge.
  EXPECT_FALSE(IsUdpServerCandidate(Udp("0.0.0.0", 53, "0.0.0.0", 0), ephemeral));
  EXPECT_FALSE(IsUdpServerCandidate(Udp("0.0.0.0", 61000, "0.0.0.0", 0), ephemeral));
  EXPECT_FALSE(IsUdpServerCandidate(Udp("0.0.0.0", 51000, "0.0.0.0", 0), ephemeral));  // reserved
  EXPECT_FALSE(IsUdpServerCandidate(Udp("0.0.0.0", 0, "0.0.0.0", 0), ephemeral));      // unbound
  EXPECT_FALSE(IsUdpServerCandidate(Udp("10.0.0.5", 40001, "10.0.0.53", 53), ephemeral));
  EXPECT_FALSE(
      IsUdpServerCandidate(Tcp(SocketState::kListen, "0.0.0.0", 40000, "0.0.0.0", 0), ephemeral));
}

TEST(UdpServerTrackerTest, HeldAfterMoreThanAfterConsecutiveSamples) {
  UdpServerTracker tracker;
  std::vector<Socket> sockets = {WithCookie(Udp("0.0.0.0", 40000, "0.0.0.0", 0, 11), 1001)};
  EXPECT_EQ(tracker.Update(sockets, Range(), 3), std::vector<bool>{false});  // seen 1
  EXPECT_EQ(tracker.Update(sockets, Range(), 3), std::vector<bool>{false});  // 2
  EXPECT_EQ(tracker.Update(sockets, Range(), 3), std::vector<bool>{false});  // 3
  EXPECT_EQ(tracker.Update(sockets, Range(), 3), std::vector<bool>{true});   // 4 > 3
  EXPECT_EQ(tracker.Update(sockets, Range(), 3), std::vector<bool>{true});
  EXPECT_EQ(tracker.tracked(), 1u);
}

TEST(UdpServerTrackerTest, ZeroHoldsAtOnceAndOneSampleNeverHoldsOtherwise) {
  std::vector<Socket> sockets = {WithCookie(Udp("0.0.0.0", 40000, "0.0.0.0", 0, 11), 1001)};
  UdpServerTracker at_once;
  EXPECT_EQ(at_once.Update(sockets, Range(), 0), std::vector<bool>{true});
  UdpServerTracker one_shot;
  EXPECT_EQ(one_shot.Update(sockets, Range(), 1), std::vector<bool>{false});
}

// A DNS client that opens a socket per query: each sample sees another socket (another
// cookie, another port), none is ever held, and the table does not grow.
TEST(UdpServerTrackerTest, PerQuerySocketsAreNeverHeld) {
  UdpServerTracker tracker;
  for (uint16_t i = 0; i < 50; ++i) {
    std::vector<Socket> sockets = {WithCookie(
        Udp("0.0.0.0", static_cast<uint16_t>(40000 + i), "0.0.0.0", 0, 100 + i), 5000 + i)};
    EXPECT_EQ(tracker.Update(sockets, Range(), 3), std::vector<bool>{false}) << i;
    EXPECT_EQ(tracker.tracked(), 1u);
  }
}

TEST(UdpServerTrackerTest, AMissedSampleStartsTheCountOver) {
  UdpServerTracker tracker;
  std::vector<Socket> present = {WithCookie(Udp("0.0.0.0", 40000, "0.0.0.0", 0, 11), 1001)};
  tracker.Update(present, Range(), 1);
  EXPECT_EQ(tracker.Update(present, Range(), 1), std::vector<bool>{true});
  tracker.Update({}, Range(), 1);
  EXPECT_EQ(tracker.tracked(), 0u);
  EXPECT_EQ(tracker.Update(present, Range(), 1), std::vector<bool>{false});
}

TEST(UdpServerTrackerTest, ASocketIsKnownByCookieElseInodeAndByPort) {
  UdpServerTracker tracker;
  // The same port reopened by another socket (a new cookie) is a new socket.
  tracker.Update({WithCookie(Udp("0.0.0.0", 40000, "0.0.0.0", 0, 11), 1)}, Range(), 1);
  EXPECT_EQ(tracker.Update({WithCookie(Udp("0.0.0.0", 40000, "0.0.0.0", 0, 11), 2)}, Range(), 1),
            std::vector<bool>{false});
  // Without cookies (/proc/net) the inode is the key.
  UdpServerTracker procfs;
  std::vector<Socket> by_inode = {Udp("0.0.0.0", 40000, "0.0.0.0", 0, 77)};
  procfs.Update(by_inode, Range(), 1);
  EXPECT_EQ(procfs.Update(by_inode, Range(), 1), std::vector<bool>{true});
  // A socket with neither is never held.
  UdpServerTracker nameless;
  std::vector<Socket> no_id = {Udp("0.0.0.0", 40000, "0.0.0.0", 0, 0)};
  nameless.Update(no_id, Range(), 0);
  EXPECT_EQ(nameless.Update(no_id, Range(), 0), std::vector<bool>{false});
  EXPECT_EQ(nameless.tracked(), 0u);
}

TEST(UdpServerTrackerTest, OnlyCandidatesAreTrackedAndResultsAreParallel) {
  UdpServerTracker tracker;
  std::vector<Socket> sockets = {
      Tcp(SocketState::kListen, "0.0.0.0", 40000, "0.0.0.0", 0, 1),
      Udp("0.0.0.0", 53, "0.0.0.0", 0, 2),
      Udp("10.0.0.5", 40001, "10.0.0.53", 53, 3),
      Udp("0.0.0.0", 40002, "0.0.0.0", 0, 4),
  };
  EXPECT_EQ(tracker.Update(sockets, Range(), 0), (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(tracker.tracked(), 1u);
}

// /proc/net may list one socket twice while the kernel rehashes: it is one sighting.
TEST(UdpServerTrackerTest, ADuplicateRowIsOneSighting) {
  UdpServerTracker tracker;
  Socket socket = Udp("0.0.0.0", 40000, "0.0.0.0", 0, 9);
  EXPECT_EQ(tracker.Update({socket, socket}, Range(), 1), (std::vector<bool>{false, false}));
  EXPECT_EQ(tracker.Update({socket, socket}, Range(), 1), (std::vector<bool>{true, true}));
}

// The wiring: TakeSnapshot asks the tracker its options carry, so the socket on 40000 becomes
// a listener in the snapshot's classes on the 4th sample with udp_server_after 3, while the
// one on 61000 (outside the range) is one from the start.
TEST(UdpServerTrackerTest, TakeSnapshotClassifiesHeldSocketsAsListeners) {
  testing::FakeProc proc;
  for (const char* dir : {"net", "sys", "sys/net", "sys/net/ipv4"}) proc.MakeDir(dir);
  proc.WriteFile("sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
  const char* header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n";
  for (const char* file : {"net/tcp", "net/tcp6", "net/udp6"}) proc.WriteFile(file, header);
  proc.WriteFile(
      "net/udp",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode ref pointer drops\n"
      "   1: 00000000:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     "
      "0        0 777 2 0000000000000000 0\n"
      "   2: 00000000:EE48 00000000:0000 07 00000000:00000000 00:00000000 00000000     "
      "0        0 778 2 0000000000000000 0\n");
  proc.AddProcess(100);
  proc.AddSocket(100, 3, 777);
  proc.AddSocket(100, 4, 778);
  UdpServerTracker tracker;
  SnapshotOptions options;
  options.procfs = proc.root();
  options.source_mode = SourceMode::kProcfs;
  options.udp_servers = &tracker;
  options.udp_server_after = 3;
  ZoneClassifier zones;
  std::vector<std::vector<SocketRole>> roles;
  for (int sample = 0; sample < 5; ++sample) {
    Snapshot snapshot = TakeSnapshot(options, zones);
    ASSERT_EQ(snapshot.sockets.size(), 2u);
    ASSERT_EQ(snapshot.sockets[0].local_port, 40000);
    roles.push_back({snapshot.classes[0].role, snapshot.classes[1].role});
  }
  constexpr SocketRole kOther = SocketRole::kOther, kListener = SocketRole::kListener;
  EXPECT_EQ(roles, (std::vector<std::vector<SocketRole>>{{kOther, kListener},
                                                         {kOther, kListener},
                                                         {kOther, kListener},
                                                         {kListener, kListener},
                                                         {kListener, kListener}}));
  // Without a tracker (a bare snapshot) the socket inside the range is never a listener.
  options.udp_servers = nullptr;
  EXPECT_EQ(TakeSnapshot(options, zones).classes[0].role, kOther);
}

}  // namespace
}  // namespace connwatch
