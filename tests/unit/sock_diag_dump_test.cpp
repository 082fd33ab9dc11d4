// The socket dumps against the real kernel: sockets this test opens on loopback, dumped over
// sock_diag and read from /proc/net, compared field by field. The parsers on their own, on
// synthetic and captured messages: sock_diag_test.cpp.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "sources/proc_net.h"
#include "sources/sock_diag.h"
#include "support/netlink_builder.h"

namespace connwatch {
namespace {

// This process's cgroup v2 id: the inode of its cgroup directory; 0 without cgroup2 at
// /sys/fs/cgroup.
uint64_t OwnCgroupId() {
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    struct stat info {};
    if (stat(("/sys/fs/cgroup" + line.substr(3)).c_str(), &info) == 0) return info.st_ino;
  }
  return 0;
}

using testing::DescribeSocket;

struct OpenSocket {
  int fd = -1;
  uint64_t inode = 0;
  uint16_t port = 0;
  ~OpenSocket() {
    if (fd >= 0) close(fd);
  }
};

// Binds `type` to loopback port 0 (IPv4 or IPv6); optionally connects to `peer_port`.
void OpenLoopback(int family, int type, OpenSocket& out, uint16_t peer_port = 0) {
  out.fd = socket(family, type | SOCK_CLOEXEC, 0);
  ASSERT_GE(out.fd, 0) << std::strerror(errno);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(*sin);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    length = sizeof(*sin6);
  }
  ASSERT_EQ(bind(out.fd, reinterpret_cast<sockaddr*>(&storage), length), 0) << std::strerror(errno);
  if (peer_port != 0) {
    sockaddr_storage peer = storage;
    if (family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&peer)->sin_port = htons(peer_port);
    } else {
      reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port = htons(peer_port);
    }
    ASSERT_EQ(connect(out.fd, reinterpret_cast<sockaddr*>(&peer), length), 0)
        << std::strerror(errno);
  }
  ASSERT_EQ(getsockname(out.fd, reinterpret_cast<sockaddr*>(&storage), &length), 0);
  out.port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&storage)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  struct stat st {};
  ASSERT_EQ(fstat(out.fd, &st), 0);
  out.inode = st.st_ino;
}

bool HaveIpv6Loopback() {
  int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  bool bound = bind(probe, reinterpret_cast<sockaddr*>(&loopback), sizeof(loopback)) == 0;
  close(probe);
  return bound;
}

const Socket* FindInode(const std::vector<Socket>& sockets, uint64_t inode) {
  auto it = std::find_if(sockets.begin(), sockets.end(),
                         [&](const Socket& socket) { return socket.inode == inode; });
  return it == sockets.end() ? nullptr : &*it;
}

TEST(SockDiagLiveTest, BothSourcesFindOwnListener) {
  OpenSocket listener;
  ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET, SOCK_STREAM, listener));
  ASSERT_EQ(listen(listener.fd, 1), 0);

  std::vector<Socket> from_diag;
  SockDiagStats diag_stats;
  std::string error;
  ASSERT_TRUE(DumpSockDiag(from_diag, diag_stats, error)) << error;
  std::vector<Socket> from_proc;
  ProcNetStats proc_stats;
  ASSERT_TRUE(ReadProcNetSockets("/proc", from_proc, proc_stats, error)) << error;

  const Socket* diag = FindInode(from_diag, listener.inode);
  const Socket* proc = FindInode(from_proc, listener.inode);
  ASSERT_NE(diag, nullptr) << "inode " << listener.inode << " not in the sock_diag dump";
  ASSERT_NE(proc, nullptr) << "inode " << listener.inode << " not in /proc/net/tcp";
  EXPECT_EQ(DescribeSocket(*proc), "tcp4 LISTEN 127.0.0.1:" + std::to_string(listener.port) +
                                       " 0.0.0.0:0 inode=" + std::to_string(listener.inode) +
                                       " uid=" + std::to_string(geteuid()));
  EXPECT_NE(diag->cookie, 0u);
  if (uint64_t own = OwnCgroupId()) {
    EXPECT_EQ(diag->cgroup_id, own) << "INET_DIAG_CGROUP_ID: the cgroup this process is in";
  }
  Socket diag_without_cookie = *diag;  // /proc/net has neither cookie nor cgroup
  diag_without_cookie.cookie = 0;
  diag_without_cookie.cgroup_id = 0;
  EXPECT_EQ(diag_without_cookie, *proc);
  EXPECT_EQ(diag_stats.malformed_messages, 0u);
  EXPECT_EQ(proc_stats.malformed_lines, 0u);
}

// This kernel's /proc/net/udp{,6} and udp_diag agree on UDP sockets, bound and connected.
TEST(SockDiagLiveTest, BothSourcesAgreeOnUdp) {
  OpenSocket server4, client4, server6, client6;
  ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET, SOCK_DGRAM, server4));
  ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET, SOCK_DGRAM, client4, server4.port));
  bool have_ipv6 = HaveIpv6Loopback();
  if (have_ipv6) {
    ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET6, SOCK_DGRAM, server6));
    ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET6, SOCK_DGRAM, client6, server6.port));
  }

  std::vector<Socket> from_diag;
  SockDiagStats diag_stats;
  std::string error;
  ASSERT_TRUE(DumpSockDiag(from_diag, diag_stats, error)) << error;
  std::vector<Socket> from_proc;
  ProcNetStats proc_stats;
  ASSERT_TRUE(ReadProcNetSockets("/proc", from_proc, proc_stats, error)) << error;

  std::vector<const OpenSocket*> mine = {&server4, &client4};
  if (have_ipv6) mine.insert(mine.end(), {&server6, &client6});
  for (const OpenSocket* open : mine) {
    const Socket* diag = FindInode(from_diag, open->inode);
    const Socket* proc = FindInode(from_proc, open->inode);
    ASSERT_NE(diag, nullptr) << "inode " << open->inode;
    ASSERT_NE(proc, nullptr) << "inode " << open->inode;
    Socket diag_without_cookie = *diag;
    diag_without_cookie.cookie = 0;
    diag_without_cookie.cgroup_id = 0;
    EXPECT_EQ(DescribeSocket(diag_without_cookie), DescribeSocket(*proc));
    EXPECT_EQ(diag_without_cookie, *proc);
    EXPECT_EQ(proc->transport, Transport::kUdp);
    EXPECT_EQ(proc->local_port, open->port);
  }
  EXPECT_EQ(FindInode(from_proc, server4.inode)->state, SocketState::kClose);
  EXPECT_EQ(FindInode(from_proc, client4.inode)->state, SocketState::kEstablished);
  EXPECT_EQ(FindInode(from_proc, client4.inode)->remote_port, server4.port);
}

// A listener and a connection (both ends) per family, open while a test runs.
struct TcpSocketsOfBothFamilies {
  OpenSocket listener4, client4, listener6, client6;
  std::vector<uint64_t> inodes;  // of all of them, and of the accepted ends
  std::vector<int> accepted;
  ~TcpSocketsOfBothFamilies() {
    for (int fd : accepted) close(fd);
  }
  void Open() {
    for (auto [family, listener, client] :
         {std::tuple{AF_INET, &listener4, &client4}, std::tuple{AF_INET6, &listener6, &client6}}) {
      ASSERT_NO_FATAL_FAILURE(OpenLoopback(family, SOCK_STREAM, *listener));
      ASSERT_EQ(listen(listener->fd, 4), 0);
      ASSERT_NO_FATAL_FAILURE(OpenLoopback(family, SOCK_STREAM, *client, listener->port));
      int fd = accept4(listener->fd, nullptr, nullptr, SOCK_CLOEXEC);
      ASSERT_GE(fd, 0) << std::strerror(errno);
      accepted.push_back(fd);
      struct stat st {};
      ASSERT_EQ(fstat(fd, &st), 0);
      inodes.insert(inodes.end(), {listener->inode, client->inode, st.st_ino});
    }
  }
};

// The compat request's one walk returns what the two per-family dumps return.
TEST(SockDiagLiveTest, CompatDumpMatchesPerFamilyDumps) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  TcpSocketsOfBothFamilies mine;
  ASSERT_NO_FATAL_FAILURE(mine.Open());

  std::vector<Socket> compat, per_family;
  SockDiagStats compat_stats, per_family_stats;
  std::string error;
  ASSERT_TRUE(DumpSockDiagWith(DumpMethod::kCompatTcp, compat, compat_stats, error)) << error;
  ASSERT_TRUE(DumpSockDiagWith(DumpMethod::kPerFamily, per_family, per_family_stats, error))
      << error;
  for (uint64_t inode : mine.inodes) {
    const Socket* a = FindInode(compat, inode);
    const Socket* b = FindInode(per_family, inode);
    ASSERT_NE(a, nullptr) << "inode " << inode << " not in the compat dump";
    ASSERT_NE(b, nullptr) << "inode " << inode << " not in the per-family dumps";
    EXPECT_EQ(*a, *b) << DescribeSocket(*a) << " vs " << DescribeSocket(*b);
  }
  EXPECT_EQ(FindInode(compat, mine.listener6.inode)->family, Family::kIpv6);
  EXPECT_EQ(FindInode(compat, mine.client4.inode)->family, Family::kIpv4);
  EXPECT_EQ(compat_stats.malformed_messages, 0u);
}

TEST(SockDiagLiveTest, CompatDumpHoldsBothFamiliesAndOnlyTcp) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  TcpSocketsOfBothFamilies mine;
  ASSERT_NO_FATAL_FAILURE(mine.Open());
  OpenSocket udp;
  ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET, SOCK_DGRAM, udp));
  std::vector<Socket> sockets;
  SockDiagStats stats;
  std::string error;
  int kernel_errno = -1;
  std::vector<std::vector<uint8_t>> raw;
  ASSERT_TRUE(DumpTcpBothFamilies(sockets, stats, error, kernel_errno, &raw)) << error;
  EXPECT_EQ(kernel_errno, 0);
  for (uint64_t inode : mine.inodes) EXPECT_NE(FindInode(sockets, inode), nullptr) << inode;
  EXPECT_EQ(FindInode(sockets, udp.inode), nullptr);
  // The replies carry the request's type, and replaying them gives the same sockets.
  std::vector<Socket> replayed;
  DumpStatus status = DumpStatus::kMore;
  for (const auto& buffer : raw) {
    nlmsghdr header;
    std::memcpy(&header, buffer.data(), sizeof(header));
    if (header.nlmsg_type != NLMSG_DONE) {
      EXPECT_EQ(header.nlmsg_type, TCPDIAG_GETSOCK);
    }
    int replay_error = 0;
    status = ParseSockDiagReply(buffer, Transport::kTcp, replayed, stats, replay_error);
  }
  EXPECT_EQ(status, DumpStatus::kDone);
  EXPECT_EQ(replayed, sockets);
}

TEST(SockDiagLiveTest, RecordsRawBuffersOfOneTable) {
  OpenSocket listener;
  ASSERT_NO_FATAL_FAILURE(OpenLoopback(AF_INET, SOCK_STREAM, listener));
  ASSERT_EQ(listen(listener.fd, 1), 0);
  std::vector<Socket> sockets;
  SockDiagStats stats;
  std::string error;
  std::vector<std::vector<uint8_t>> raw;
  ASSERT_TRUE(DumpSockDiagTable(Family::kIpv4, Transport::kTcp, sockets, stats, error, &raw))
      << error;
  ASSERT_FALSE(raw.empty());
  // Replaying the recorded buffers gives back exactly what the dump returned.
  std::vector<Socket> replayed;
  SockDiagStats replay_stats;
  DumpStatus status = DumpStatus::kMore;
  for (const auto& buffer : raw) {
    int replay_error = 0;
    status = ParseSockDiagReply(buffer, Transport::kTcp, replayed, replay_stats, replay_error);
  }
  EXPECT_EQ(status, DumpStatus::kDone);
  EXPECT_EQ(replayed, sockets);
  EXPECT_NE(FindInode(sockets, listener.inode), nullptr);
  for (const Socket& socket : sockets) EXPECT_EQ(socket.family, Family::kIpv4);
}

}  // namespace
}  // namespace connwatch
