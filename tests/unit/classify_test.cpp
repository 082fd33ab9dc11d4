#include "classify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::Tcp;
using testing::Udp;
constexpr auto kListen = SocketState::kListen;
constexpr auto kEstablished = SocketState::kEstablished;

std::vector<SocketClass> Classify(const std::vector<Socket>& sockets,
                                  const ClassifyOptions& options = {}) {
  static const ZoneClassifier zones;
  return ClassifySockets(sockets, options, zones);
}

TEST(ClassifyTest, TcpRolesFollowState) {
  auto classes = Classify({Tcp(kListen, "0.0.0.0", 22, "0.0.0.0", 0),
                           Tcp(kEstablished, "10.0.0.5", 22, "10.0.0.9", 50000),
                           Tcp(SocketState::kTimeWait, "10.0.0.5", 22, "10.0.0.9", 50001),
                           Tcp(SocketState::kSynSent, "10.0.0.5", 40000, "8.8.8.8", 443)});
  EXPECT_EQ(classes[0].role, SocketRole::kListener);
  EXPECT_EQ(classes[0].direction, Direction::kNone);
  EXPECT_EQ(classes[0].remote_zone, nullptr);
  EXPECT_EQ(classes[1].role, SocketRole::kConnection);
  EXPECT_EQ(classes[2].role, SocketRole::kOther);
  EXPECT_EQ(classes[3].role, SocketRole::kOther);
  EXPECT_EQ(classes[3].direction, Direction::kOutbound) << "peers get a direction in any state";
  EXPECT_EQ(*classes[3].remote_zone, "external");
}

TEST(ClassifyTest, InboundWhenLocalPortIsListenedOnSameOrWildcardAddress) {
  auto classes = Classify({
      Tcp(kListen, "0.0.0.0", 22, "0.0.0.0", 0), Tcp(kListen, "127.0.0.1", 8080, "0.0.0.0", 0),
      Tcp(kEstablished, "192.168.1.5", 22, "192.168.1.9", 50000),    // wildcard listener
      Tcp(kEstablished, "127.0.0.1", 8080, "127.0.0.1", 50001),      // same address
      Tcp(kEstablished, "192.168.1.5", 8080, "192.168.1.9", 50002),  // other address
      Tcp(kEstablished, "192.168.1.5", 50003, "1.1.1.1", 22),        // client to remote :22
  });
  EXPECT_EQ(classes[2].direction, Direction::kInbound);
  EXPECT_EQ(*classes[2].remote_zone, "internal");
  EXPECT_EQ(classes[3].direction, Direction::kInbound);
  EXPECT_EQ(*classes[3].remote_zone, "loopback");
  EXPECT_EQ(classes[4].direction, Direction::kOutbound);
  EXPECT_EQ(classes[5].direction, Direction::kOutbound);
}

TEST(ClassifyTest, DualStackListenerTakesV4MappedConnections) {
  auto classes = Classify({
      Tcp(kListen, "::", 443, "::", 0),
      Tcp(kEstablished, "::ffff:10.0.0.5", 443, "::ffff:203.0.113.7", 50000),
      Tcp(kListen, "0.0.0.0", 80, "0.0.0.0", 0),
      Tcp(kEstablished, "2001:db8::5", 80, "2001:db8::9", 50001),
  });
  EXPECT_EQ(classes[1].direction, Direction::kInbound);
  EXPECT_EQ(*classes[1].remote_zone, "external");
  EXPECT_EQ(classes[3].direction, Direction::kOutbound) << "a v4 wildcard takes no IPv6";
}

// One port, many listeners on different addresses (one per worker or container): each
// covers its own address only, whichever of them the connection's local address is.
TEST(ClassifyTest, ManyListenersOnOnePortEachCoverTheirOwnAddress) {
  std::vector<Socket> sockets;
  std::vector<std::string> addresses;
  for (int w = 0; w < 300; ++w)
    addresses.push_back("127.1." + std::to_string(w / 256) + "." + std::to_string(w % 256));
  for (const std::string& address : addresses) {
    sockets.push_back(Tcp(kListen, address.c_str(), 20000, "0.0.0.0", 0));
  }
  size_t first = sockets.size();
  sockets.push_back(Tcp(kEstablished, "127.1.0.0", 20000, "127.2.0.1", 40000));   // the first
  sockets.push_back(Tcp(kEstablished, "127.1.1.43", 20000, "127.2.0.1", 40001));  // the last
  sockets.push_back(Tcp(kEstablished, "127.1.1.44", 20000, "127.2.0.1", 40002));  // none
  sockets.push_back(Tcp(kEstablished, "::ffff:127.1.0.7", 20000, "::1", 40003));  // mapped
  sockets.push_back(Tcp(kEstablished, "127.1.0.7", 20001, "127.2.0.1", 40004));   // other port
  auto classes = Classify(sockets);
  EXPECT_EQ(classes[first].direction, Direction::kInbound);
  EXPECT_EQ(classes[first + 1].direction, Direction::kInbound);
  EXPECT_EQ(classes[first + 2].direction, Direction::kOutbound);
  EXPECT_EQ(classes[first + 3].direction, Direction::kInbound);
  EXPECT_EQ(classes[first + 4].direction, Direction::kOutbound);
}

TEST(ClassifyTest, TransportsDoNotShareListeningPorts) {
  auto classes = Classify({
      Udp("0.0.0.0", 53, "0.0.0.0", 0),
      Tcp(kEstablished, "10.0.0.5", 53, "10.0.0.9", 50000),
  });
  EXPECT_EQ(classes[0].role, SocketRole::kListener);
  EXPECT_EQ(classes[1].direction, Direction::kOutbound);
}

TEST(ClassifyTest, UdpListenerRule) {
  ClassifyOptions options;
  options.ephemeral.range = {32768, 60999};
  options.ephemeral.reserved.set(40000);
  options.udp_service_ports.set(50000);
  auto classes = Classify(
      {
          Udp("0.0.0.0", 53, "0.0.0.0", 0),         // service port below the range
          Udp("0.0.0.0", 61000, "0.0.0.0", 0),      // above the range
          Udp("0.0.0.0", 45000, "0.0.0.0", 0),      // ephemeral: a client socket
          Udp("0.0.0.0", 40000, "0.0.0.0", 0),      // reserved port
          Udp("0.0.0.0", 50000, "0.0.0.0", 0),      // declared service port
          Udp("0.0.0.0", 0, "0.0.0.0", 0),          // never bound
          Udp("10.0.0.5", 45001, "10.0.0.53", 53),  // connected: a connection
      },
      options);
  EXPECT_EQ(classes[0].role, SocketRole::kListener);
  EXPECT_EQ(classes[1].role, SocketRole::kListener);
  EXPECT_EQ(classes[2].role, SocketRole::kOther);
  EXPECT_EQ(classes[3].role, SocketRole::kListener);
  EXPECT_EQ(classes[4].role, SocketRole::kListener);
  EXPECT_EQ(classes[5].role, SocketRole::kOther);
  EXPECT_EQ(classes[6].role, SocketRole::kConnection);
  EXPECT_EQ(classes[6].direction, Direction::kOutbound);
  EXPECT_EQ(*classes[6].remote_zone, "internal");
}

// A server inside the ephemeral range (socat UDP4-RECVFROM:40000) once the tracker says its
// socket is held: a listener, and the connected sockets on its port are inbound.
TEST(ClassifyTest, HeldUdpSocketsInsideTheRangeAreListeners) {
  ClassifyOptions options;
  options.ephemeral.range = {32768, 60999};
  options.udp_held = {true, false, false};
  auto classes = Classify({Udp("0.0.0.0", 40000, "0.0.0.0", 0), Udp("0.0.0.0", 45000, "0.0.0.0", 0),
                           Udp("10.0.0.5", 40000, "10.0.0.9", 50000)},
                          options);
  EXPECT_EQ(classes[0].role, SocketRole::kListener);
  EXPECT_EQ(classes[1].role, SocketRole::kOther);
  EXPECT_EQ(classes[2].role, SocketRole::kConnection);
  EXPECT_EQ(classes[2].direction, Direction::kInbound);
  // Without the tracker's word, the same sockets are a client's.
  options.udp_held.clear();
  classes = Classify({Udp("0.0.0.0", 40000, "0.0.0.0", 0)}, options);
  EXPECT_EQ(classes[0].role, SocketRole::kOther);
}

TEST(ClassifyTest, ConnectedUdpToListenedPortIsInbound) {
  auto classes =
      Classify({Udp("0.0.0.0", 443, "0.0.0.0", 0), Udp("10.0.0.5", 443, "198.51.100.4", 50000)});
  EXPECT_EQ(classes[1].role, SocketRole::kConnection);
  EXPECT_EQ(classes[1].direction, Direction::kInbound);
}

TEST(ClassifyTest, Names) {
  EXPECT_STREQ(StateName(Transport::kTcp, SocketState::kTimeWait), "time_wait");
  EXPECT_STREQ(StateName(Transport::kTcp, SocketState::kNewSynRecv), "syn_recv");
  EXPECT_STREQ(StateName(Transport::kUdp, SocketState::kClose), "unconnected");
  EXPECT_STREQ(StateName(Transport::kUdp, SocketState::kEstablished), "established");
  EXPECT_STREQ(DirectionName(Direction::kInbound), "inbound");
  EXPECT_STREQ(RoleName(SocketRole::kListener), "listener");
}

}  // namespace
}  // namespace connwatch
