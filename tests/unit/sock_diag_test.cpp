#include "sources/sock_diag.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "base/read_file.h"
#include "sources/proc_net.h"
#include "support/netlink_builder.h"

namespace connwatch {
namespace {

using testing::DescribeSocket;
using testing::DescribeSockets;
using testing::NetlinkBuilder;
using testing::ReadFramedBuffers;

std::string FixturePath(const std::string& relative) {
  return std::string(CONNWATCH_FIXTURES_DIR) + "/" + relative;
}

struct ParseResult {
  DumpStatus status = DumpStatus::kMore;
  std::vector<Socket> sockets;
  SockDiagStats stats;
  int error = 0;
};

ParseResult Parse(std::span<const uint8_t> buffer, Transport transport = Transport::kTcp) {
  ParseResult result;
  result.status = ParseSockDiagReply(buffer, transport, result.sockets, result.stats, result.error);
  return result;
}

bool SocketLess(const Socket& a, const Socket& b) {
  return std::tie(a.transport, a.family, a.state, a.local, a.local_port, a.remote, a.remote_port,
                  a.inode, a.uid, a.cookie) < std::tie(b.transport, b.family, b.state, b.local,
                                                       b.local_port, b.remote, b.remote_port,
                                                       b.inode, b.uid, b.cookie);
}

// Without what only sock_diag knows (the cookie, the creator's cgroup), for comparing with
// /proc/net.
std::vector<Socket> SortedWithoutCookies(std::vector<Socket> sockets) {
  for (Socket& socket : sockets) {
    socket.cookie = 0;
    socket.cgroup_id = 0;
  }
  std::sort(sockets.begin(), sockets.end(), SocketLess);
  return sockets;
}

// The offset of the first inet_diag_msg in a buffer the builder made.
constexpr size_t kFirstMsg = NLMSG_HDRLEN;

// --- synthetic messages -------------------------------------------------------------

TEST(SockDiagParseTest, ParsesIpv4Message) {
  NetlinkBuilder builder;
  builder.DiagMsg({.family = AF_INET,
                   .state = 1,
                   .local = "10.1.2.3",
                   .local_port = 443,
                   .remote = "192.0.2.7",
                   .remote_port = 51000,
                   .inode = 4242,
                   .uid = 1000});
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kMore);
  ASSERT_EQ(result.sockets.size(), 1u);
  const Socket& socket = result.sockets[0];
  EXPECT_EQ(socket.transport, Transport::kTcp);
  EXPECT_EQ(socket.family, Family::kIpv4);
  EXPECT_EQ(socket.state, SocketState::kEstablished);
  EXPECT_EQ(socket.local.family, Family::kIpv4);
  EXPECT_EQ(socket.local.bytes, (std::array<uint8_t, 16>{10, 1, 2, 3}));
  EXPECT_EQ(socket.remote.bytes, (std::array<uint8_t, 16>{192, 0, 2, 7}));
  EXPECT_EQ(socket.local_port, 443);
  EXPECT_EQ(socket.remote_port, 51000);
  EXPECT_EQ(socket.inode, 4242u);
  EXPECT_EQ(socket.uid, 1000u);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
}

TEST(SockDiagParseTest, PortsAreBigEndianOnTheWire) {
  NetlinkBuilder builder;
  builder.DiagMsg({.local_port = 0x1F90, .remote_port = 0x0102});
  std::vector<uint8_t> bytes(builder.bytes().begin(), builder.bytes().end());
  // idiag_sport is __be16: 8080 is 1F 90 in memory whatever the host order.
  size_t sport = kFirstMsg + offsetof(inet_diag_msg, id.idiag_sport);
  EXPECT_EQ(bytes[sport], 0x1F);
  EXPECT_EQ(bytes[sport + 1], 0x90);
  ParseResult result = Parse(bytes);
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.sockets[0].local_port, 8080);
  EXPECT_EQ(result.sockets[0].remote_port, 0x0102);
}

TEST(SockDiagParseTest, ParsesIpv6MessageWithAttributes) {
  NetlinkBuilder builder;
  // Real replies carry attributes after inet_diag_msg even when none were asked for
  // (the captured ones do); INET_DIAG_INFO here stands for any of them.
  builder.DiagMsg({.family = AF_INET6,
                   .state = 10,
                   .local = "2001:db8::1",
                   .local_port = 8443,
                   .remote = "::",
                   .inode = 7,
                   .uid = 0},
                  {{INET_DIAG_INFO, std::vector<uint8_t>(104, 0xAB)}, {INET_DIAG_SHUTDOWN, {3}}});
  ParseResult result = Parse(builder.bytes(), Transport::kUdp);
  ASSERT_EQ(result.sockets.size(), 1u);
  const Socket& socket = result.sockets[0];
  EXPECT_EQ(socket.transport, Transport::kUdp);
  EXPECT_EQ(socket.family, Family::kIpv6);
  EXPECT_EQ(socket.local.family, Family::kIpv6);
  EXPECT_EQ(socket.local.bytes,
            (std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(socket.remote.bytes, (std::array<uint8_t, 16>{}));
  EXPECT_EQ(socket.state, SocketState::kListen);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
}

TEST(SockDiagParseTest, FindsAnAttributeByType) {
  NetlinkBuilder builder;
  builder.DiagMsg({.local = "127.0.0.1", .local_port = 80},
                  {{INET_DIAG_SHUTDOWN, {3}}, {INET_DIAG_INFO, std::vector<uint8_t>(7, 0xAB)}});
  std::span<const uint8_t> payload = builder.bytes().subspan(kFirstMsg);
  std::span<const uint8_t> info = DiagAttribute(payload, INET_DIAG_INFO);
  ASSERT_EQ(info.size(), 7u) << "the value, past the padded one before it";
  EXPECT_EQ(info[6], 0xAB);
  EXPECT_EQ(DiagAttribute(payload, INET_DIAG_SHUTDOWN).size(), 1u);
  EXPECT_TRUE(DiagAttribute(payload, INET_DIAG_CONG).empty()) << "not there";
  std::vector<uint8_t> broken(payload.begin(), payload.end());
  broken[NLMSG_ALIGN(sizeof(inet_diag_msg))] = 2;  // the first length below its header
  EXPECT_TRUE(DiagAttribute(broken, INET_DIAG_INFO).empty()) << "the walk stops";
}

TEST(SockDiagParseTest, DeliveredOnlyWhereTheKernelSendsIt) {
  std::vector<uint8_t> info(280, 0);
  uint32_t one = 1;
  std::memcpy(info.data() + offsetof(tcp_info, tcpi_delivered), &one, sizeof(one));
  uint32_t delivered = 0;
  ASSERT_TRUE(ParseTcpInfoDelivered(info, delivered));
  EXPECT_EQ(delivered, 1u);
  info.resize(offsetof(tcp_info, tcpi_delivered) + 3);  // a kernel before 4.18
  delivered = 9;
  EXPECT_FALSE(ParseTcpInfoDelivered(info, delivered));
  EXPECT_EQ(delivered, 9u) << "untouched";
}

TEST(SockDiagParseTest, KeepsV4MappedAddressesAsIpv6) {
  NetlinkBuilder builder;
  builder.DiagMsg({.family = AF_INET6, .local = "::ffff:127.0.0.1", .remote = "::ffff:10.0.0.1"});
  ParseResult result = Parse(builder.bytes());
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.sockets[0].family, Family::kIpv6);
  EXPECT_EQ(result.sockets[0].local.bytes,
            (std::array<uint8_t, 16>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}));
}

TEST(SockDiagParseTest, AssemblesCookieLowWordFirst) {
  NetlinkBuilder builder;
  builder.DiagMsg({});
  std::vector<uint8_t> bytes(builder.bytes().begin(), builder.bytes().end());
  // Written by hand, not by the builder, so the test does not just mirror the parser.
  uint32_t words[2] = {0xDEADBEEF, 0x00000012};
  std::memcpy(bytes.data() + kFirstMsg + offsetof(inet_diag_msg, id.idiag_cookie), words,
              sizeof(words));
  ParseResult result = Parse(bytes);
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.sockets[0].cookie, 0x12DEADBEEFull);
}

TEST(SockDiagParseTest, MapsNewSynRecvToSynRecv) {
  NetlinkBuilder builder;
  builder.DiagMsg({.state = 12}).DiagMsg({.state = 3}).DiagMsg({.state = 0}).DiagMsg({.state = 13});
  ParseResult result = Parse(builder.bytes());
  ASSERT_EQ(result.sockets.size(), 4u);
  // /proc/net/tcp prints request sockets as 03; both sources must agree.
  EXPECT_EQ(result.sockets[0].state, SocketState::kSynRecv);
  EXPECT_EQ(result.sockets[1].state, SocketState::kSynRecv);
  EXPECT_EQ(result.sockets[2].state, SocketState::kUnknown);
  EXPECT_EQ(result.sockets[3].state, SocketState::kUnknown);
}

TEST(SockDiagParseTest, MultipartDumpAcrossBuffers) {
  NetlinkBuilder first;
  first.DiagMsg({.local_port = 1, .inode = 11})
      .DiagMsg({.local_port = 2, .inode = 12})
      .DiagMsg({.local_port = 3, .inode = 13});
  NetlinkBuilder second;
  second.DiagMsg({.local_port = 4, .inode = 14}).Done();

  std::vector<Socket> sockets;
  SockDiagStats stats;
  int error = 0;
  EXPECT_EQ(ParseSockDiagReply(first.bytes(), Transport::kTcp, sockets, stats, error),
            DumpStatus::kMore);
  EXPECT_EQ(sockets.size(), 3u);
  EXPECT_EQ(ParseSockDiagReply(second.bytes(), Transport::kTcp, sockets, stats, error),
            DumpStatus::kDone);
  ASSERT_EQ(sockets.size(), 4u);
  for (size_t i = 0; i < sockets.size(); ++i) {
    EXPECT_EQ(sockets[i].local_port, i + 1);
    EXPECT_EQ(sockets[i].inode, i + 11);
  }
  EXPECT_EQ(error, 0);
  EXPECT_EQ(stats.malformed_messages, 0u);
}

TEST(SockDiagParseTest, DoneAloneEndsTheDump) {
  NetlinkBuilder builder;
  builder.Done();
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kDone);
  EXPECT_TRUE(result.sockets.empty());
}

TEST(SockDiagParseTest, MessagesAfterDoneAreIgnored) {
  NetlinkBuilder builder;
  builder.DiagMsg({.inode = 1}).Done().DiagMsg({.inode = 2});
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kDone);
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.sockets[0].inode, 1u);
}

TEST(SockDiagParseTest, DoneWithNegativeErrnoIsAnError) {
  NetlinkBuilder builder;
  builder.DiagMsg({}).Done(-ENOMEM);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kError);
  EXPECT_EQ(result.error, ENOMEM);
}

TEST(SockDiagParseTest, NlmsgErrorCarriesErrno) {
  NetlinkBuilder builder;
  builder.Error(ENOENT);  // what a kernel without udp_diag answers for IPPROTO_UDP
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kError);
  EXPECT_EQ(result.error, ENOENT);
  EXPECT_TRUE(result.sockets.empty());
}

TEST(SockDiagParseTest, NlmsgErrorZeroIsAnAcknowledgement) {
  NetlinkBuilder builder;
  builder.Error(0);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kDone);
  EXPECT_EQ(result.error, 0);
}

TEST(SockDiagParseTest, ShortNlmsgErrorIsAnError) {
  NetlinkBuilder builder;
  uint8_t two_bytes[2] = {};
  builder.Message(NLMSG_ERROR, 0, two_bytes);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kError);
  EXPECT_EQ(result.error, EBADMSG);
  EXPECT_EQ(result.stats.malformed_messages, 1u);
}

TEST(SockDiagParseTest, OverrunIsAnError) {
  NetlinkBuilder builder;
  builder.Message(NLMSG_OVERRUN, 0, {});
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kError);
  EXPECT_EQ(result.error, ENOBUFS);
}

TEST(SockDiagParseTest, DumpInterruptedOnAnyMessage) {
  NetlinkBuilder builder;
  builder.DiagMsg({.inode = 1}).DiagMsg({.inode = 2}, {}, NLM_F_DUMP_INTR).DiagMsg({.inode = 3});
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kInterrupted);
  // The caller throws the attempt away; the parser still walks the whole buffer.
  EXPECT_EQ(result.sockets.size(), 3u);
}

TEST(SockDiagParseTest, DumpInterruptedOnDone) {
  NetlinkBuilder builder;
  builder.DiagMsg({}).Done(0, NLM_F_DUMP_INTR);
  EXPECT_EQ(Parse(builder.bytes()).status, DumpStatus::kInterrupted);
}

TEST(SockDiagParseTest, ErrorWinsOverInterrupted) {
  NetlinkBuilder builder;
  builder.DiagMsg({}, {}, NLM_F_DUMP_INTR).Error(EPERM);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kError);
  EXPECT_EQ(result.error, EPERM);
}

TEST(SockDiagParseTest, ShortPayloadIsSkippedAndCounted) {
  NetlinkBuilder builder;
  uint8_t ten_bytes[10] = {AF_INET, 1};
  builder.DiagMsg({.inode = 1})
      .Message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, ten_bytes)
      .DiagMsg({.inode = 2})
      .Done();
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kDone);
  ASSERT_EQ(result.sockets.size(), 2u);
  EXPECT_EQ(result.sockets[1].inode, 2u);
  EXPECT_EQ(result.stats.malformed_messages, 1u);
}

TEST(SockDiagParseTest, UnknownFamilyIsSkippedAndCounted) {
  NetlinkBuilder builder;
  builder.DiagMsg({.family = AF_INET, .inode = 1});
  std::vector<uint8_t> bytes(builder.bytes().begin(), builder.bytes().end());
  bytes[kFirstMsg + offsetof(inet_diag_msg, idiag_family)] = AF_UNIX;
  ParseResult result = Parse(bytes);
  EXPECT_TRUE(result.sockets.empty());
  EXPECT_EQ(result.stats.malformed_messages, 1u);
  EXPECT_EQ(result.status, DumpStatus::kMore);
}

TEST(SockDiagParseTest, UnknownTypesCountNoopsDoNot) {
  NetlinkBuilder builder;
  uint8_t payload[4] = {};
  builder.Message(NLMSG_NOOP, 0, {}).Message(0x42, NLM_F_MULTI, payload).DiagMsg({.inode = 5});
  ParseResult result = Parse(builder.bytes());
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.stats.malformed_messages, 1u);
}

// The compat dump (TCPDIAG_GETSOCK) answers with messages of its request's type.
TEST(SockDiagParseTest, ParsesCompatDumpMessages) {
  NetlinkBuilder builder;
  builder.DiagMsg({.family = AF_INET, .inode = 7})
      .DiagMsg({.family = AF_INET6, .local = "::1", .remote = "::", .inode = 8});
  std::vector<uint8_t> bytes(builder.bytes().begin(), builder.bytes().end());
  nlmsghdr first;
  std::memcpy(&first, bytes.data(), sizeof(first));
  for (size_t offset : {size_t{0}, static_cast<size_t>(NLMSG_ALIGN(first.nlmsg_len))}) {
    uint16_t type = TCPDIAG_GETSOCK;
    std::memcpy(bytes.data() + offset + offsetof(nlmsghdr, nlmsg_type), &type, sizeof(type));
  }
  ParseResult result = Parse(bytes);
  ASSERT_EQ(result.sockets.size(), 2u);
  EXPECT_EQ(result.sockets[0].family, Family::kIpv4);
  EXPECT_EQ(result.sockets[1].family, Family::kIpv6);
  EXPECT_EQ(result.sockets[1].inode, 8u);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
}

TEST(SockDiagParseTest, OnlyUnknownRequestErrorsMeanNoCompatDump) {
  EXPECT_TRUE(CompatDumpRefused(EINVAL));
  EXPECT_TRUE(CompatDumpRefused(EOPNOTSUPP));
  EXPECT_FALSE(CompatDumpRefused(0));
  EXPECT_FALSE(CompatDumpRefused(ENOBUFS));
  EXPECT_FALSE(CompatDumpRefused(EPERM));
}

TEST(SockDiagParseTest, TruncatedLastMessageIsCounted) {
  NetlinkBuilder builder;
  builder.DiagMsg({.inode = 1}).DiagMsg({.inode = 2}).Truncate(10);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.status, DumpStatus::kMore);
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.sockets[0].inode, 1u);
  EXPECT_EQ(result.stats.malformed_messages, 1u);
}

TEST(SockDiagParseTest, TrailingBytesShorterThanAHeaderAreCounted) {
  NetlinkBuilder builder;
  uint8_t junk[6] = {1, 2, 3, 4, 5, 6};
  builder.DiagMsg({.inode = 1}).Raw(junk);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.stats.malformed_messages, 1u);
}

TEST(SockDiagParseTest, LengthShorterThanHeaderStopsTheWalk) {
  nlmsghdr bad{};
  bad.nlmsg_len = 4;  // would loop forever if trusted
  bad.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  NetlinkBuilder builder;
  builder.Raw({reinterpret_cast<const uint8_t*>(&bad), sizeof(bad)}).DiagMsg({.inode = 1});
  ParseResult result = Parse(builder.bytes());
  EXPECT_TRUE(result.sockets.empty());
  EXPECT_EQ(result.stats.malformed_messages, 1u);
}

TEST(SockDiagParseTest, EmptyBufferIsNotTheEnd) {
  ParseResult result = Parse({});
  EXPECT_EQ(result.status, DumpStatus::kMore);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
}

TEST(SockDiagParseTest, UnalignedBufferParses) {
  NetlinkBuilder builder;
  builder.DiagMsg({.local_port = 53, .inode = 99, .cookie = 0x0102030405060708}).Done();
  std::vector<uint8_t> shifted(builder.bytes().size() + 1);
  std::copy(builder.bytes().begin(), builder.bytes().end(), shifted.begin() + 1);
  ParseResult result = Parse(std::span<const uint8_t>(shifted).subspan(1));
  EXPECT_EQ(result.status, DumpStatus::kDone);
  ASSERT_EQ(result.sockets.size(), 1u);
  EXPECT_EQ(result.sockets[0].inode, 99u);
  EXPECT_EQ(result.sockets[0].cookie, 0x0102030405060708u);
}

// --- the captured host state (tests/fixtures/host1) -----------------------------------

struct Table {
  const char* bin;
  const char* proc;
  Transport transport;
  Family family;
  size_t count;
};
constexpr Table kTables[] = {
    {"sock_diag_tcp4.bin", "tcp", Transport::kTcp, Family::kIpv4, 16},
    {"sock_diag_tcp6.bin", "tcp6", Transport::kTcp, Family::kIpv6, 6},
    {"sock_diag_udp4.bin", "udp", Transport::kUdp, Family::kIpv4, 2},
    {"sock_diag_udp6.bin", "udp6", Transport::kUdp, Family::kIpv6, 3},
};

// Replays a captured dump buffer by buffer as DumpSockDiag would.
std::vector<Socket> ReplayCapturedDump(const Table& table, SockDiagStats& stats) {
  auto buffers = ReadFramedBuffers(FixturePath(std::string("host1/") + table.bin));
  EXPECT_FALSE(buffers.empty()) << table.bin;
  std::vector<Socket> sockets;
  for (size_t i = 0; i < buffers.size(); ++i) {
    int error = 0;
    DumpStatus status = ParseSockDiagReply(buffers[i], table.transport, sockets, stats, error);
    DumpStatus expected = i + 1 == buffers.size() ? DumpStatus::kDone : DumpStatus::kMore;
    EXPECT_EQ(status, expected) << table.bin << " buffer " << i;
  }
  return sockets;
}

TEST(SockDiagCapturedTest, ParsesEveryCapturedDump) {
  std::set<uint64_t> cookies;
  for (const Table& table : kTables) {
    SockDiagStats stats;
    std::vector<Socket> sockets = ReplayCapturedDump(table, stats);
    EXPECT_EQ(stats.malformed_messages, 0u) << table.bin;
    EXPECT_EQ(sockets.size(), table.count) << table.bin;
    for (const Socket& socket : sockets) {
      EXPECT_EQ(socket.family, table.family) << DescribeSocket(socket);
      EXPECT_EQ(socket.transport, table.transport) << DescribeSocket(socket);
      // Every socket, TIME_WAIT and request sockets included, has a cookie, unique per boot.
      EXPECT_NE(socket.cookie, 0u) << DescribeSocket(socket);
      EXPECT_TRUE(cookies.insert(socket.cookie).second) << DescribeSocket(socket);
    }
  }
}

TEST(SockDiagCapturedTest, CapturedTcp6HasExactSockets) {
  SockDiagStats stats;
  std::vector<Socket> sockets = ReplayCapturedDump(kTables[1], stats);
  for (Socket& socket : sockets) socket.cookie = 0;
  // sock_diag walks the listening hash, then the established hash (TIME_WAIT included).
  std::vector<std::string> described = DescribeSockets(sockets);
  std::sort(described.begin(), described.end());
  const std::vector<std::string> expected = {
      "tcp6 ESTABLISHED [::1]:40002 [::1]:8443 inode=11987 uid=0",
      "tcp6 ESTABLISHED [::1]:8443 [::1]:40002 inode=11988 uid=1000",
      "tcp6 ESTABLISHED [::ffff:127.0.0.1]:9090 [::ffff:127.0.0.1]:40003 inode=11990 uid=0",
      "tcp6 LISTEN [::1]:8443 [::]:0 inode=11983 uid=1000",
      "tcp6 LISTEN [::]:9090 [::]:0 inode=11984 uid=0",
      "tcp6 TIME_WAIT [::1]:40005 [::1]:8443 inode=0 uid=0",
  };
  EXPECT_EQ(described, expected);
}

// THE KEY TEST: one host state, captured through both sources at the same moment, yields
// the same sockets (cookies aside: /proc/net has none).
TEST(SockDiagCapturedTest, BothSourcesAgreeOnCapturedHost) {
  std::vector<Socket> from_diag;
  std::vector<Socket> from_proc;
  SockDiagStats diag_stats;
  ProcNetStats proc_stats;
  for (const Table& table : kTables) {
    std::vector<Socket> sockets = ReplayCapturedDump(table, diag_stats);
    from_diag.insert(from_diag.end(), sockets.begin(), sockets.end());
    std::string text;
    ASSERT_EQ(ReadFileCapped(FixturePath(std::string("host1/proc/net/") + table.proc),
                             kMaxProcNetFileBytes, text),
              0);
    ParseProcNet(text, table.transport, table.family, from_proc, proc_stats);
  }
  EXPECT_EQ(diag_stats.malformed_messages, 0u);
  EXPECT_EQ(proc_stats.malformed_lines, 0u);
  from_diag = SortedWithoutCookies(from_diag);
  from_proc = SortedWithoutCookies(from_proc);
  EXPECT_EQ(DescribeSockets(from_diag), DescribeSockets(from_proc));
  EXPECT_EQ(from_diag, from_proc);
  EXPECT_EQ(from_diag.size(), 27u);
  // The capture covers every state it set out to (PROVENANCE.md).
  std::set<SocketState> states;
  for (const Socket& socket : from_diag) states.insert(socket.state);
  EXPECT_EQ(states, (std::set<SocketState>{SocketState::kEstablished, SocketState::kSynSent,
                                           SocketState::kSynRecv, SocketState::kFinWait2,
                                           SocketState::kTimeWait, SocketState::kClose,
                                           SocketState::kCloseWait, SocketState::kListen}));
}

}  // namespace
}  // namespace connwatch
