#include "sources/proc_net.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/read_file.h"
#include "support/live_process.h"
#include "support/netlink_builder.h"

namespace connwatch {
namespace {

using testing::DescribeSocket;
using testing::DescribeSockets;
using testing::LoopbackListener;

std::string FixturePath(const std::string& relative) {
  return std::string(CONNWATCH_FIXTURES_DIR) + "/" + relative;
}

std::string ReadFixture(const std::string& relative) {
  std::string text;
  EXPECT_EQ(ReadFileCapped(FixturePath(relative), kMaxProcNetFileBytes, text), 0) << relative;
  return text;
}

std::vector<Socket> ParseFixture(const std::string& relative, Transport transport, Family family,
                                 ProcNetStats& stats) {
  std::vector<Socket> sockets;
  ParseProcNet(ReadFixture(relative), transport, family, sockets, stats);
  return sockets;
}

std::vector<Socket> ParseText(std::string_view text, Transport transport, Family family,
                              ProcNetStats& stats) {
  std::vector<Socket> sockets;
  ParseProcNet(text, transport, family, sockets, stats);
  return sockets;
}

constexpr std::string_view kTcpHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";
// A listener line from tests/fixtures/host1/proc/net/tcp (127.0.0.1:8080).
constexpr std::string_view kListenerLine =
    "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "11982 1 00000000251c01ac 100 0 0 10 0\n";

// The captured files, line by line (tests/fixtures/host1/PROVENANCE.md lists the sockets
// the capture opened). Ports: 8080 = 1F90, 8443 = 20FB, 40001 = 9C41, ...
TEST(ProcNetTest, ParsesCapturedTcp) {
  ProcNetStats stats;
  auto sockets = ParseFixture("host1/proc/net/tcp", Transport::kTcp, Family::kIpv4, stats);
  EXPECT_EQ(stats.malformed_lines, 0u);
  const std::vector<std::string> expected = {
      "tcp4 LISTEN 127.0.0.1:8081 0.0.0.0:0 inode=11997 uid=0",
      "tcp4 LISTEN 127.0.0.1:8080 0.0.0.0:0 inode=11982 uid=0",
      "tcp4 LISTEN 127.0.0.1:8082 0.0.0.0:0 inode=12001 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:40001 127.0.0.1:8080 inode=11985 uid=0",
      // TIME_WAIT sockets have no file: inode 0.
      "tcp4 TIME_WAIT 127.0.0.1:40004 127.0.0.1:8080 inode=0 uid=0",
      "tcp4 FIN_WAIT2 127.0.0.1:40006 127.0.0.1:8080 inode=11995 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:40010 127.0.0.1:8082 inode=12002 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:40003 127.0.0.1:9090 inode=11989 uid=0",
      // In the accept queue, never accepted: no file yet.
      "tcp4 ESTABLISHED 127.0.0.1:8081 127.0.0.1:40007 inode=0 uid=0",
      "tcp4 CLOSE_WAIT 127.0.0.1:8080 127.0.0.1:40006 inode=11996 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:8081 127.0.0.1:40008 inode=0 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:8080 127.0.0.1:40001 inode=11986 uid=0",
      // A request socket (TCP_DEFER_ACCEPT listener): inode 0.
      "tcp4 SYN_RECV 127.0.0.1:8082 127.0.0.1:40010 inode=0 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:40007 127.0.0.1:8081 inode=11998 uid=0",
      "tcp4 ESTABLISHED 127.0.0.1:40008 127.0.0.1:8081 inode=11999 uid=0",
      "tcp4 SYN_SENT 127.0.0.1:40009 127.0.0.1:8081 inode=12000 uid=0",
  };
  EXPECT_EQ(DescribeSockets(sockets), expected);

  for (const Socket& socket : sockets) {
    EXPECT_EQ(socket.transport, Transport::kTcp);
    EXPECT_EQ(socket.family, Family::kIpv4);
    EXPECT_EQ(socket.cookie, 0u);
  }
}

TEST(ProcNetTest, ConvertsHostOrderHexToNetworkOrderBytes) {
  ProcNetStats stats;
  auto sockets = ParseText(std::string(kTcpHeader) + std::string(kListenerLine), Transport::kTcp,
                           Family::kIpv4, stats);
  ASSERT_EQ(sockets.size(), 1u);
  // "0100007F" is 127.0.0.1: the u32 printed in host (little-endian) order.
  std::array<uint8_t, 16> expected{127, 0, 0, 1};
  EXPECT_EQ(sockets[0].local.bytes, expected);
  EXPECT_EQ(sockets[0].local.family, Family::kIpv4);
  EXPECT_EQ(sockets[0].local_port, 8080);  // the port is a plain number: 1F90
  EXPECT_EQ(sockets[0].remote, IpAddress{});
  EXPECT_EQ(sockets[0].inode, 11982u);
}

TEST(ProcNetTest, ParsesCapturedTcp6) {
  ProcNetStats stats;
  auto sockets = ParseFixture("host1/proc/net/tcp6", Transport::kTcp, Family::kIpv6, stats);
  EXPECT_EQ(stats.malformed_lines, 0u);
  const std::vector<std::string> expected = {
      "tcp6 LISTEN [::]:9090 [::]:0 inode=11984 uid=0",
      "tcp6 LISTEN [::1]:8443 [::]:0 inode=11983 uid=1000",
      "tcp6 ESTABLISHED [::1]:8443 [::1]:40002 inode=11988 uid=1000",
      "tcp6 ESTABLISHED [::1]:40002 [::1]:8443 inode=11987 uid=0",
      "tcp6 TIME_WAIT [::1]:40005 [::1]:8443 inode=0 uid=0",
      "tcp6 ESTABLISHED [::ffff:127.0.0.1]:9090 [::ffff:127.0.0.1]:40003 inode=11990 uid=0",
  };
  EXPECT_EQ(DescribeSockets(sockets), expected);
  ASSERT_EQ(sockets.size(), 6u);
  // ::1 is printed as 00000000000000000000000001000000: four host-order words.
  std::array<uint8_t, 16> loopback{};
  loopback[15] = 1;
  EXPECT_EQ(sockets[1].local.bytes, loopback);
  EXPECT_EQ(sockets[1].local.family, Family::kIpv6);
}

TEST(ProcNetTest, ParsesCapturedUdp) {
  ProcNetStats stats;
  auto sockets = ParseFixture("host1/proc/net/udp", Transport::kUdp, Family::kIpv4, stats);
  EXPECT_EQ(stats.malformed_lines, 0u);
  // Unconnected UDP sockets are in state 07 (TCP_CLOSE), connected ones 01.
  const std::vector<std::string> expected = {
      "udp4 CLOSE 127.0.0.1:5353 0.0.0.0:0 inode=12003 uid=65534",
      "udp4 CLOSE 0.0.0.0:6000 0.0.0.0:0 inode=12004 uid=0",
  };
  EXPECT_EQ(DescribeSockets(sockets), expected);
}

TEST(ProcNetTest, ParsesCapturedUdp6) {
  ProcNetStats stats;
  auto sockets = ParseFixture("host1/proc/net/udp6", Transport::kUdp, Family::kIpv6, stats);
  EXPECT_EQ(stats.malformed_lines, 0u);
  const std::vector<std::string> expected = {
      "udp6 CLOSE [::1]:5300 [::]:0 inode=12005 uid=0",
      "udp6 ESTABLISHED [::ffff:127.0.0.1]:6001 [::ffff:127.0.0.1]:6000 inode=12007 uid=0",
      "udp6 ESTABLISHED [::1]:40011 [::1]:5300 inode=12006 uid=0",
  };
  EXPECT_EQ(DescribeSockets(sockets), expected);
}

TEST(ProcNetTest, EmptyFileYieldsNothing) {
  ProcNetStats stats;
  auto sockets = ParseFixture("proc_net/tcp_empty", Transport::kTcp, Family::kIpv4, stats);
  EXPECT_TRUE(sockets.empty());
  EXPECT_EQ(stats.malformed_lines, 0u);
}

TEST(ProcNetTest, HeaderOnlyFileYieldsNothing) {
  ProcNetStats stats;
  auto sockets = ParseFixture("proc_net/tcp_header_only", Transport::kTcp, Family::kIpv4, stats);
  EXPECT_TRUE(sockets.empty());
  EXPECT_EQ(stats.malformed_lines, 0u);
}

TEST(ProcNetTest, TruncatedLastLineIsCountedNotParsed) {
  ProcNetStats stats;
  auto sockets = ParseFixture("proc_net/tcp_truncated", Transport::kTcp, Family::kIpv4, stats);
  // The cut line still has ten columns, but its inode reads 120 instead of 12001: only the
  // missing newline tells it apart.
  const std::vector<std::string> expected = {
      "tcp4 LISTEN 127.0.0.1:8081 0.0.0.0:0 inode=11997 uid=0",
      "tcp4 LISTEN 127.0.0.1:8080 0.0.0.0:0 inode=11982 uid=0",
  };
  EXPECT_EQ(DescribeSockets(sockets), expected);
  EXPECT_EQ(stats.malformed_lines, 1u);
}

TEST(ProcNetTest, KeepsV4MappedAddressesAsIpv6) {
  ProcNetStats stats;
  auto sockets = ParseFixture("proc_net/tcp6_v4_mapped", Transport::kTcp, Family::kIpv6, stats);
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(stats.malformed_lines, 0u);
  const Socket& socket = sockets[0];
  EXPECT_EQ(socket.family, Family::kIpv6);
  EXPECT_EQ(socket.local.family, Family::kIpv6);
  std::array<uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  EXPECT_EQ(socket.local.bytes, mapped);
  EXPECT_EQ(socket.remote.bytes, mapped);
  EXPECT_EQ(socket.local_port, 9090);
  EXPECT_EQ(socket.remote_port, 40003);
  EXPECT_EQ(socket.state, SocketState::kEstablished);
  EXPECT_EQ(socket.inode, 11990u);
}

TEST(ProcNetTest, MalformedLinesAreSkippedAndCounted) {
  std::string text(kTcpHeader);
  text += kListenerLine;
  text += "garbage\n";
  text += "   2: 0100007F:1F90 00000000:0000 0A\n";                     // too few columns
  text += "   3: 100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n";      // 7 hex digits
  text += "   4: 0100007F:1F9 00000000:0000 0A 0:0 0:0 0 0 0 1\n";      // 3-digit port
  text += "   5: 0100007F:ZZZZ 00000000:0000 0A 0:0 0:0 0 0 0 1\n";     // not hex
  text += "   6: 0100007F1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n";      // no colon
  text += "   7: 0100007F:1F90 00000000:0000 XY 0:0 0:0 0 0 0 1\n";     // state
  text += "   8: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 -1 0 1\n";    // uid
  text += "   9: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 12x\n";   // inode
  text += "  10: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1 +2\n";  // ok: extras ignored
  text += "  11: 00000000000000000000000001000000:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n";
  text += "\n";  // blank lines are not records and not errors
  text += "  12 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n";  // sl without ':'
  ProcNetStats stats;
  auto sockets = ParseText(text, Transport::kTcp, Family::kIpv4, stats);
  ASSERT_EQ(sockets.size(), 2u);
  EXPECT_EQ(sockets[0].inode, 11982u);
  EXPECT_EQ(sockets[1].inode, 1u);
  EXPECT_EQ(stats.malformed_lines, 11u);
}

TEST(ProcNetTest, FirstLineWithoutHeaderIsData) {
  ProcNetStats stats;
  auto sockets = ParseText(kListenerLine, Transport::kTcp, Family::kIpv4, stats);
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].local_port, 8080);
  EXPECT_EQ(stats.malformed_lines, 0u);
}

TEST(ProcNetTest, MapsKernelStates) {
  auto state_of = [](std::string_view st) {
    std::string text = "   0: 0100007F:1F90 00000000:0000 " + std::string(st) +
                       " 00000000:00000000 00:00000000 00000000 0 0 1\n";
    ProcNetStats stats;
    auto sockets = ParseText(text, Transport::kTcp, Family::kIpv4, stats);
    return sockets.empty() ? SocketState::kUnknown : sockets[0].state;
  };
  EXPECT_EQ(state_of("01"), SocketState::kEstablished);
  EXPECT_EQ(state_of("06"), SocketState::kTimeWait);
  EXPECT_EQ(state_of("0A"), SocketState::kListen);
  EXPECT_EQ(state_of("0b"), SocketState::kClosing);  // lower-case hex is hex too
  // TCP_NEW_SYN_RECV is folded into SYN_RECV as in the sock_diag parser.
  EXPECT_EQ(state_of("0C"), SocketState::kSynRecv);
  EXPECT_EQ(state_of("00"), SocketState::kUnknown);
  EXPECT_EQ(state_of("0D"), SocketState::kUnknown);
}

TEST(ProcNetTest, AppendsToExistingSockets) {
  std::vector<Socket> sockets(1);
  ProcNetStats stats;
  ParseProcNet(kListenerLine, Transport::kTcp, Family::kIpv4, sockets, stats);
  ASSERT_EQ(sockets.size(), 2u);
  EXPECT_EQ(sockets[0], Socket{});
  EXPECT_EQ(sockets[1].local_port, 8080);
}

TEST(ProcNetTest, ReadsAFakeProcTree) {
  std::vector<Socket> sockets;
  ProcNetStats stats;
  std::string error;
  ASSERT_TRUE(ReadProcNetSockets(FixturePath("host1/proc"), sockets, stats, error)) << error;
  EXPECT_EQ(stats.malformed_lines, 0u);
  EXPECT_EQ(stats.truncated_files, 0u);
  ASSERT_EQ(sockets.size(), 16u + 6u + 2u + 3u);
  // tcp, tcp6, udp, udp6 in that order.
  EXPECT_EQ(DescribeSocket(sockets[0]), "tcp4 LISTEN 127.0.0.1:8081 0.0.0.0:0 inode=11997 uid=0");
  EXPECT_EQ(DescribeSocket(sockets[16]), "tcp6 LISTEN [::]:9090 [::]:0 inode=11984 uid=0");
  EXPECT_EQ(DescribeSocket(sockets[22]),
            "udp4 CLOSE 127.0.0.1:5353 0.0.0.0:0 inode=12003 uid=65534");
  EXPECT_EQ(DescribeSocket(sockets[24]), "udp6 CLOSE [::1]:5300 [::]:0 inode=12005 uid=0");
}

class ProcNetTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/proc_net_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    std::filesystem::create_directories(root_ + "/net");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Copy(const std::string& name) {
    std::filesystem::copy_file(FixturePath("host1/proc/net/" + name), root_ + "/net/" + name);
  }
  std::string root_;
};

TEST_F(ProcNetTreeTest, MissingIpv6FilesAreNotAnError) {
  Copy("tcp");
  Copy("udp");
  std::vector<Socket> sockets;
  ProcNetStats stats;
  std::string error;
  ASSERT_TRUE(ReadProcNetSockets(root_, sockets, stats, error)) << error;
  EXPECT_EQ(sockets.size(), 16u + 2u);
}

TEST_F(ProcNetTreeTest, MissingTcpIsAnError) {
  Copy("tcp6");
  Copy("udp");
  std::vector<Socket> sockets(1);
  ProcNetStats stats;
  std::string error;
  EXPECT_FALSE(ReadProcNetSockets(root_, sockets, stats, error));
  EXPECT_NE(error.find("/net/tcp"), std::string::npos) << error;
  EXPECT_EQ(sockets.size(), 1u);  // nothing appended on failure
}

// The real kernel: a listener opened here shows up with its inode.
TEST(ProcNetLiveTest, FindsOwnListener) {
  LoopbackListener listener;
  ASSERT_NO_FATAL_FAILURE(listener.Open());

  std::vector<Socket> sockets;
  ProcNetStats stats;
  std::string error;
  ASSERT_TRUE(ReadProcNetSockets("/proc", sockets, stats, error)) << error;
  listener.Close();
  auto it = std::find_if(sockets.begin(), sockets.end(),
                         [&](const Socket& s) { return s.inode == listener.inode(); });
  ASSERT_NE(it, sockets.end()) << "inode " << listener.inode() << " not in /proc/net";
  EXPECT_EQ(it->transport, Transport::kTcp);
  EXPECT_EQ(it->family, Family::kIpv4);
  EXPECT_EQ(it->state, SocketState::kListen);
  EXPECT_EQ(it->local_port, listener.port());
  EXPECT_EQ(it->local.bytes[0], 127);
  EXPECT_EQ(it->uid, geteuid());
  EXPECT_EQ(stats.malformed_lines, 0u);
}

}  // namespace
}  // namespace connwatch
