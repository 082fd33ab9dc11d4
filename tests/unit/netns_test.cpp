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
