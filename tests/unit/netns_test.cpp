// The pure parts of reading other namespaces: sockstat counts, the TCP dump they plan, the
// netns label and which pin names are taken.
#include "sources/netns.h"

#include <gtest/gtest.h>

#include "support/test_sockets.h"

namespace connwatch {
namespace {

// Captured on this machine kind (kernel 6.18) inside a namespace with one listener, one
// connection to it (two sockets) and one TIME_WAIT entry.
constexpr const char* kSockstat =
    "sockets: used 5\n"
    "TCP: inuse 3 orphan 0 tw 1 alloc 3 mem 1\n"
    "UDP: inuse 1 mem 1\n"
    "UDPLITE: inuse 0\n"
    "RAW: inuse 0\n"
    "FRAG: inuse 0 memory 0\n";
constexpr const char* kSockstat6 =
    "TCP6: inuse 2\n"
    "UDP6: inuse 0\n"
    "UDPLITE6: inuse 0\n"
    "RAW6: inuse 0\n"
    "FRAG6: inuse 0 memory 0\n";

TEST(ParseSockstatTest, CountsTcpOfBothFamiliesAndTimeWait) {
  EXPECT_EQ(ParseSockstat(kSockstat, kSockstat6), (SockstatCounts{3, 2, 1}));
  EXPECT_EQ(ParseSockstat(kSockstat, ""), (SockstatCounts{3, 0, 1})) << "IPv6 disabled";
}

TEST(ParseSockstatTest, MalformedTextIsUnknown) {
  EXPECT_EQ(ParseSockstat("", kSockstat6), std::nullopt);
  EXPECT_EQ(ParseSockstat("TCP: inuse x orphan 0 tw 1\n", ""), std::nullopt);
  EXPECT_EQ(ParseSockstat("TCP: inuse 3 orphan 0\n", ""), std::nullopt) << "no tw";
  EXPECT_EQ(ParseSockstat("TCP: inuse 3 tw\n", ""), std::nullopt) << "tw without a value";
  EXPECT_EQ(ParseSockstat("TCP: inuse 3 tw 1\n", "TCP6: inuse -1\n"), std::nullopt);
  EXPECT_EQ(ParseSockstat("XTCP: inuse 3 tw 1\nTCP: inuse 4 tw 0", ""), (SockstatCounts{4, 0, 0}))
      << "the line must start with TCP:";
}

TEST(PlanTcpDumpTest, NoneListenersFirstOrAll) {
  EXPECT_EQ(PlanTcpDump(SockstatCounts{0, 0, 0}), TcpDumpPlan::kNone);
  EXPECT_EQ(PlanTcpDump(SockstatCounts{0, 0, 1}), TcpDumpPlan::kListenersFirst)
      << "a TIME_WAIT entry needs the all-states dump";
  EXPECT_EQ(PlanTcpDump(SockstatCounts{0, 2, 0}), TcpDumpPlan::kListenersFirst);
  EXPECT_EQ(PlanTcpDump(std::nullopt), TcpDumpPlan::kAll);
}

TEST(ListenersAreAllTest, OnlyWhenNothingElseIsCounted) {
  EXPECT_TRUE(ListenersAreAll({1, 1, 0}, 2));
  EXPECT_FALSE(ListenersAreAll({2, 1, 0}, 2)) << "one connection besides two listeners";
  EXPECT_FALSE(ListenersAreAll({1, 0, 1}, 1)) << "a TIME_WAIT entry";
}

TEST(CountTcpListenersTest, FromAnOffset) {
  std::vector<Socket> sockets = {
      testing::Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1),
      testing::Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 2),
      testing::Tcp(SocketState::kEstablished, "10.0.0.1", 80, "10.0.0.2", 5000, 3),
      testing::Udp("0.0.0.0", 53, "0.0.0.0", 0, 4),
  };
  sockets[3].state = SocketState::kListen;  // no UDP socket is a TCP listener, whatever it says
  EXPECT_EQ(CountTcpListeners(sockets, 0), 2u);
  EXPECT_EQ(CountTcpListeners(sockets, 1), 1u);
  EXPECT_EQ(CountTcpListeners(sockets, 4), 0u);
}

// Captured on this machine kind (kernel 6.18).
constexpr const char* kSnmp =
    "Ip: Forwarding DefaultTTL InReceives\n"
    "Ip: 1 64 2813\n"
    "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets "
    "CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n"
    "Tcp: 1 200 120000 -1 30521 29754 30 39472 4 240335 231847 8718 740 22039 0\n"
    "Udp: InDatagrams NoPorts\n"
    "Udp: 5 0\n";

TEST(ParseSnmpTcpTest, TheCountersThatMoveWithConnections) {
  EXPECT_EQ(ParseSnmpTcp(kSnmp), (TcpCounters{30521, 29754, 30, 39472, 4}));
  EXPECT_EQ(ParseSnmpTcp("Tcp: ActiveOpens\n"), std::nullopt) << "no value line";
  EXPECT_EQ(ParseSnmpTcp("Tcp: ActiveOpens PassiveOpens\nTcp: 1\n"), std::nullopt)
      << "fewer values than names";
  EXPECT_EQ(ParseSnmpTcp("Tcp: ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab\n"
                         "Tcp: 1 2 3 4 x\n"),
            std::nullopt);
  EXPECT_EQ(ParseSnmpTcp("Tcp: ActiveOpens PassiveOpens AttemptFails EstabResets\nTcp: 1 2 3 4\n"),
            std::nullopt)
      << "no CurrEstab";
  EXPECT_EQ(ParseSnmpTcp(""), std::nullopt);
}

TEST(CanReuseConnectionsTest, OnlyWhenNothingMovedAndNotTooLong) {
  TcpSignature quiet{{3, 0, 0}, {10, 5, 0, 0, 2}};
  TcpSignature opened = quiet;
  ++opened.snmp.active_opens;
  TcpSignature closed = quiet;
  --closed.snmp.curr_estab;
  EXPECT_TRUE(CanReuseConnections(quiet, quiet, 0, 30));
  EXPECT_TRUE(CanReuseConnections(quiet, quiet, 28, 30));
  EXPECT_FALSE(CanReuseConnections(quiet, quiet, 29, 30)) << "the 30th sample reads everything";
  EXPECT_FALSE(CanReuseConnections(quiet, quiet, 0, 1)) << "full reads every sample";
  EXPECT_FALSE(CanReuseConnections(quiet, opened, 0, 30));
  EXPECT_FALSE(CanReuseConnections(quiet, closed, 0, 30));
  EXPECT_FALSE(CanReuseConnections(std::nullopt, quiet, 0, 30)) << "the first read";
  EXPECT_FALSE(CanReuseConnections(quiet, std::nullopt, 0, 30)) << "snmp unreadable";
}

TEST(NetnsLabelTest, PinThenContainerThenInode) {
  const std::string id(64, 'a');
  EXPECT_EQ(NetnsLabel("blue", id, 4026532000), "blue");
  EXPECT_EQ(NetnsLabel("", id, 4026532000), "aaaaaaaaaaaa");
  EXPECT_EQ(NetnsLabel("", "", 4026532000), "inode:4026532000");
}

TEST(IsPinNameTest, WhatIpNetnsAcceptsAndPrints) {
  EXPECT_TRUE(IsPinName("cni-1b2c3d4e-5f60"));
  EXPECT_TRUE(IsPinName("blue"));
  EXPECT_FALSE(IsPinName(""));
  EXPECT_FALSE(IsPinName("."));
  EXPECT_FALSE(IsPinName(".."));
  EXPECT_FALSE(IsPinName("a b"));
  EXPECT_FALSE(IsPinName("line\nbreak"));
  EXPECT_FALSE(IsPinName("\xff"));
  EXPECT_FALSE(IsPinName(std::string(256, 'x')));
}

}  // namespace
}  // namespace connwatch
