// The probe program (tp_btf/tcp_send_reset) on the real kernel, as root when built with eBPF
// (skipped otherwise): a connect to a closed loopback port is one probe, in whatever network
// namespace received it; an ACK or a SYN-ACK to a closed port, or a reset of a connection
// that has sockets, is none.
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "sources/bpf_events.h"
#include "support/loopback_sockets.h"

namespace connwatch {
namespace {

using testing::InodeOf;
using testing::Listen;
using testing::LocalPort;
using testing::LoopbackAddress;

constexpr auto kDrainTimeout = std::chrono::seconds(2);

class BpfProbesKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!BpfEventsBuilt()) GTEST_SKIP() << "built without eBPF (CONNWATCH_BPF)";
    if (geteuid() != 0) GTEST_SKIP() << "not root: loading needs CAP_BPF and CAP_PERFMON";
    std::string error;
    events_ = BpfEvents::Open(error);
    ASSERT_NE(events_, nullptr) << error;
  }

  std::unique_ptr<BpfEvents> events_;
};

// Drains until `done` holds or kDrainTimeout has passed, then once more after a pause (a
// duplicate would come with the first); every probe drained.
std::vector<InboundProbe> DrainProbesUntil(
    BpfEvents& events, const std::function<bool(const std::vector<InboundProbe>&)>& done) {
  std::vector<ConnectionEvent> connections;
  std::vector<InboundProbe> probes;
  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (true) {
    events.Drain(connections, &probes);
    if (done(probes) || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  events.Drain(connections, &probes);
  return probes;
}

// A connect from a bound port (so its number is known after the refusal) to a loopback port
// nobody listens on; false when the family has no loopback here.
bool ConnectToAClosedPort(int family, uint16_t& closed_port, uint16_t& client_port,
                          int& connect_errno) {
  int bound = Listen(family, closed_port);
  if (bound < 0) return false;
  close(bound);
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage any = LoopbackAddress(family, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0) {
    if (fd >= 0) close(fd);
    return false;
  }
  client_port = LocalPort(fd);
  sockaddr_storage address = LoopbackAddress(family, closed_port);
  connect_errno = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    connect_errno = errno;
  }
  close(fd);
  return true;
}

TEST_F(BpfProbesKernelTest, AConnectToAClosedPortIsOneProbe) {
  const uint64_t netns = InodeOf("/proc/self/ns/net");
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "127.0.0.1" : "::1");
    uint16_t closed_port = 0, client_port = 0;
    int connect_errno = 0;
    const double before = BootClockSeconds();
    if (!ConnectToAClosedPort(family, closed_port, client_port, connect_errno)) {
      ASSERT_EQ(family, AF_INET6) << "no IPv4 loopback: " << strerror(errno);
      std::printf("no IPv6 loopback here: the IPv6 probe is not checked\n");
      continue;
    }
    ASSERT_EQ(connect_errno, ECONNREFUSED);
    auto ours = [&](const InboundProbe& p) {
      return p.local_port == closed_port && p.remote_port == client_port;
    };
    auto count = [&](const std::vector<InboundProbe>& all) {
      return std::count_if(all.begin(), all.end(), ours);
    };
    std::vector<InboundProbe> probes =
        DrainProbesUntil(*events_, [&](const auto& all) { return count(all) > 0; });
    ASSERT_EQ(count(probes), 1) << probes.size() << " probes drained";
    const InboundProbe& probe = *std::find_if(probes.begin(), probes.end(), ours);
    const std::string loopback = family == AF_INET ? "127.0.0.1" : "::1";
    EXPECT_EQ(probe.family, family == AF_INET ? Family::kIpv4 : Family::kIpv6);
    EXPECT_EQ(FormatIpAddress(probe.local), loopback);
    EXPECT_EQ(FormatIpAddress(probe.remote), loopback);
    EXPECT_EQ(probe.netns_inode, netns);
    EXPECT_GE(probe.boot_seconds, before);
    EXPECT_LE(probe.boot_seconds, BootClockSeconds());
  }
  EXPECT_EQ(events_->lost(), 0u);
  EXPECT_EQ(events_->malformed(), 0u);
}

// Moves the calling thread into a network namespace of its own and brings its lo up; "" or
// what failed. The namespace ends with the thread (and its last socket).
std::string EnterANamespaceWithLoopback() {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + strerror(errno);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + strerror(errno);
  ifreq lo{};
  std::strcpy(lo.ifr_name, "lo");
  bool up = ioctl(fd, SIOCGIFFLAGS, &lo) == 0;
  lo.ifr_flags |= IFF_UP;
  up = up && ioctl(fd, SIOCSIFFLAGS, &lo) == 0;
  std::string error = up ? "" : std::string("lo up: ") + strerror(errno);
  close(fd);
  return error;
}

// In a network namespace of its own (made by a thread, gone when the thread ends): the probe
// names the namespace of the device that received the SYN, not this process's.
TEST_F(BpfProbesKernelTest, AProbeNamesTheReceivingNamespace) {
  uint64_t inside_inode = 0;
  uint16_t closed_port = 0, client_port = 0;
  int connect_errno = 0;
  std::string failed;
  std::thread inside([&] {
    failed = EnterANamespaceWithLoopback();
    if (failed.empty() && !ConnectToAClosedPort(AF_INET, closed_port, client_port, connect_errno))
      failed = "no loopback in the namespace";
    inside_inode = InodeOf("/proc/thread-self/ns/net");
  });
  inside.join();
  ASSERT_EQ(failed, "");
  ASSERT_EQ(connect_errno, ECONNREFUSED);
  ASSERT_NE(inside_inode, InodeOf("/proc/self/ns/net"));
  auto ours = [&](const InboundProbe& p) {
    return p.local_port == closed_port && p.remote_port == client_port;
  };
  std::vector<InboundProbe> probes = DrainProbesUntil(
      *events_, [&](const auto& all) { return std::any_of(all.begin(), all.end(), ours); });
  ASSERT_EQ(std::count_if(probes.begin(), probes.end(), ours), 1);
  EXPECT_EQ(std::find_if(probes.begin(), probes.end(), ours)->netns_inode, inside_inode);
}

// TCP flags (RFC 9293 section 3.1).
constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kAck = 0x10;

// A 20-byte TCP segment with `flags` from 127.0.0.1:`from` to 127.0.0.1:`to`, through a raw
// socket (root); false when it could not be sent.
bool SendSegment(uint16_t from, uint16_t to, uint8_t flags) {
  uint8_t tcp[20] = {};
  tcp[0] = from >> 8, tcp[1] = from & 0xff, tcp[2] = to >> 8, tcp[3] = to & 0xff;
  tcp[7] = 1;              // sequence number
  tcp[11] = flags & kAck;  // an acknowledgment number where the ACK flag is set
  tcp[12] = 5 << 4;        // data offset: no options
  tcp[13] = flags;
  tcp[14] = tcp[15] = 0xff;  // window
  // The checksum covers a pseudo-header too: both addresses, the protocol and the length.
  uint32_t sum = 2 * (0x7f00 + 0x0001) + IPPROTO_TCP + sizeof(tcp);
  for (size_t i = 0; i < sizeof(tcp); i += 2) sum += tcp[i] << 8 | tcp[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  tcp[16] = static_cast<uint8_t>(~sum >> 8), tcp[17] = static_cast<uint8_t>(~sum & 0xff);
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
  sockaddr_storage address = LoopbackAddress(AF_INET, 0);
  bool sent = fd >= 0 && sendto(fd, tcp, sizeof(tcp), 0, reinterpret_cast<sockaddr*>(&address),
                                sizeof(sockaddr_in)) == static_cast<ssize_t>(sizeof(tcp));
  if (fd >= 0) close(fd);
  return sent;
}

// A loopback port nobody listens on: bound by the kernel's choice, then closed.
uint16_t ClosedPort() {
  uint16_t port = 0;
  int fd = Listen(AF_INET, port);
  if (fd >= 0) close(fd);
  return port;
}

// Only a SYN without ACK is a probe: an ACK or a SYN-ACK to a closed port (backscatter, what a
// host receives when someone scans others in its name) is reset too but attempts nothing. The
// SYN sent the same way shows that the crafted segments reach the program.
TEST_F(BpfProbesKernelTest, OnlyASynWithoutAckIsAProbe) {
  const uint16_t from = ClosedPort(), to_ack = ClosedPort(), to_syn_ack = ClosedPort(),
                 to_syn = ClosedPort();
  ASSERT_TRUE(from != 0 && to_ack != 0 && to_syn_ack != 0 && to_syn != 0);
  ASSERT_TRUE(SendSegment(from, to_ack, kAck)) << strerror(errno);
  ASSERT_TRUE(SendSegment(from, to_syn_ack, kSyn | kAck)) << strerror(errno);
  ASSERT_TRUE(SendSegment(from, to_syn, kSyn)) << strerror(errno);
  auto to = [from](const std::vector<InboundProbe>& all, uint16_t port) {
    return std::count_if(all.begin(), all.end(), [&](const InboundProbe& p) {
      return p.local_port == port && p.remote_port == from;
    });
  };
  std::vector<InboundProbe> probes =
      DrainProbesUntil(*events_, [&](const auto& all) { return to(all, to_syn) > 0; });
  EXPECT_EQ(to(probes, to_syn), 1);
  EXPECT_EQ(to(probes, to_ack), 0);
  EXPECT_EQ(to(probes, to_syn_ack), 0);
}

// An abort (close with SO_LINGER 0) resets a connection that has a socket on both ends: the
// tracepoint fires with the socket, and no probe is written. The closes are the sign that
// the reset has been through.
TEST_F(BpfProbesKernelTest, AResetOfAnExistingConnectionIsNoProbe) {
  uint16_t port = 0;
  int listener = Listen(AF_INET, port);
  ASSERT_GE(listener, 0);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage address = LoopbackAddress(AF_INET, port);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  const uint16_t client_port = LocalPort(client);
  linger abort{1, 0};
  ASSERT_EQ(setsockopt(client, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort)), 0);
  close(client);  // sends the reset
  char byte;
  EXPECT_EQ(recv(server, &byte, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  close(server);
  close(listener);

  std::vector<ConnectionEvent> connections;
  std::vector<InboundProbe> probes;
  auto ours = [&](const ConnectionEvent& e) {
    return e.local_port == port || e.remote_port == port;
  };
  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  auto closes = [&] { return std::count_if(connections.begin(), connections.end(), ours); };
  while (closes() < 2 && std::chrono::steady_clock::now() < deadline) {
    events_->Drain(connections, &probes);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  events_->Drain(connections, &probes);
  EXPECT_EQ(closes(), 2) << "both ends' closes";
  for (const InboundProbe& probe : probes) {
    EXPECT_FALSE(probe.local_port == port || probe.local_port == client_port ||
                 probe.remote_port == port || probe.remote_port == client_port)
        << "a probe for the reset connection: " << probe.local_port << " <- " << probe.remote_port;
  }
}

}  // namespace
}  // namespace connwatch
