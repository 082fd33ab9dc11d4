// The event collector: its modes, and the sock_diag and eBPF sources end to end on the real
// kernel (a loopback connection of this process, or a connect to a closed port, arrives
// through the thread's queues).
#include "sources/connection_events.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "sources/bpf_events.h"
#include "support/loopback_pair.h"

namespace connwatch {
namespace {

TEST(ConnectionEventsTest, ModesParse) {
  EventsMode mode = EventsMode::kOff;
  ASSERT_TRUE(ParseEventsMode("auto", mode));
  EXPECT_EQ(mode, EventsMode::kAuto);
  ASSERT_TRUE(ParseEventsMode("ebpf", mode));
  EXPECT_EQ(mode, EventsMode::kEbpf);
  ASSERT_TRUE(ParseEventsMode("sock_diag", mode));
  EXPECT_EQ(mode, EventsMode::kSockDiag);
  ASSERT_TRUE(ParseEventsMode("off", mode));
  EXPECT_EQ(mode, EventsMode::kOff);
  EXPECT_FALSE(ParseEventsMode("kprobe", mode));
  EXPECT_STREQ(EventSourceName(EventSource::kSockDiag), "sock_diag");
  EXPECT_STREQ(EventSourceName(EventSource::kEbpf), "ebpf");
  EXPECT_STREQ(EventSourceName(EventSource::kOff), "off");
}

TEST(ConnectionEventsTest, OffSeesNothing) {
  ConnectionEvents events(EventsMode::kOff, "/proc");
  EXPECT_EQ(events.source(), EventSource::kOff);
  std::vector<ConnectionEvent> taken;
  events.Take(taken);
  EXPECT_TRUE(taken.empty());
  EXPECT_EQ(events.lost(), 0u);
}

// Opens and closes one loopback connection; returns the client's cookie and port.
uint64_t OneConnection(uint16_t& client_port) {
  testing::LoopbackPair pair;
  testing::OpenLoopbackPair(pair);
  client_port = pair.client_port;
  testing::CloseLoopbackPair(pair);
  return pair.client_cookie;
}

TEST(ConnectionEventsTest, SockDiagSourceDeliversThroughTheQueue) {
  ConnectionEvents events(EventsMode::kSockDiag, "/proc");
  ASSERT_EQ(events.source(), EventSource::kSockDiag);
  uint16_t client_port = 0;
  uint64_t cookie = OneConnection(client_port);
  ASSERT_NE(cookie, 0u);
  std::vector<ConnectionEvent> taken;
  bool found = false;
  for (int i = 0; i < 30 && !found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    events.Take(taken);
    for (const ConnectionEvent& event : taken) {
      if (event.cookie == cookie) {
        found = true;
        EXPECT_EQ(event.local_port, client_port);
        EXPECT_NE(event.netns_inode, 0u) << "the subscriber's namespace";
        EXPECT_GT(event.end_boot_seconds, 0);
      }
    }
  }
  EXPECT_TRUE(found) << "the client's close never arrived (" << taken.size() << " others)";
  EXPECT_EQ(events.lost(), 0u);
}

// More closes than one block holds: the sample gets them as full blocks and a last one,
// none lost (the queue never reallocates: tests/bench/events_bench.py measures the peak).
TEST(ConnectionEventsTest, AFloodComesInBlocks) {
  ConnectionEvents events(EventsMode::kSockDiag, "/proc");
  ASSERT_EQ(events.source(), EventSource::kSockDiag);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  linger reset{1, 0};  // accepted sockets inherit it: no TIME_WAIT piles up
  setsockopt(listener, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 64), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const size_t connections = kEventsPerBlock / 2 + 100;  // two records each: a block and more
  for (size_t i = 0; i < connections; ++i) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    int server = accept(listener, nullptr, nullptr);
    close(server);
    close(client);
    // A pause now and then lets the reader keep up however slow its build is (under ASan
    // it reads slower than this loop closes): the test is about blocks, not the buffer's
    // headroom, which tests/e2e/test_events_load.py measures at full speed.
    if (i % 256 == 255) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  close(listener);
  EventBlocks blocks;
  size_t records = 0;
  for (int i = 0; i < 50 && records < 2 * connections; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    events.TakeBlocks(blocks);
    records = 0;
    for (const std::vector<ConnectionEvent>& block : blocks) records += block.size();
  }
  EXPECT_GE(records, 2 * connections) << "lost " << events.lost();
  ASSERT_GE(blocks.size(), 2u);
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_LE(blocks[i].size(), kEventsPerBlock) << "block " << i;
    EXPECT_FALSE(blocks[i].empty()) << "block " << i;
  }
  EXPECT_EQ(events.lost(), 0u);
}

// A loopback port nobody listens on: bound by the kernel's choice, then closed.
uint16_t ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// `count` connects to 127.0.0.1:`port`; how many the kernel refused.
size_t ConnectRefused(uint16_t port, size_t count) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  size_t refused = 0;
  for (size_t i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 &&
        errno == ECONNREFUSED) {
      ++refused;
    }
    close(fd);
  }
  return refused;
}

size_t ProbesTo(const std::vector<InboundProbe>& probes, uint16_t port) {
  size_t found = 0;
  for (const InboundProbe& probe : probes) found += probe.local_port == port;
  return found;
}

// sock_diag has no notification for a segment that found no socket: no probes, ever.
TEST(ConnectionEventsTest, SockDiagSourceHasNoProbes) {
  ConnectionEvents events(EventsMode::kSockDiag, "/proc");
  ASSERT_EQ(events.source(), EventSource::kSockDiag);
  ASSERT_EQ(ConnectRefused(ClosedPort(), 3), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<InboundProbe> probes;
  events.TakeProbes(probes);
  EXPECT_TRUE(probes.empty());
}

class ConnectionEventsEbpfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!BpfEventsBuilt()) GTEST_SKIP() << "built without eBPF (CONNWATCH_BPF)";
    if (geteuid() != 0) GTEST_SKIP() << "not root: loading needs CAP_BPF and CAP_PERFMON";
    events_ = std::make_unique<ConnectionEvents>(EventsMode::kEbpf, "/proc");
    ASSERT_EQ(events_->source(), EventSource::kEbpf);
  }
  std::unique_ptr<ConnectionEvents> events_;
};

TEST_F(ConnectionEventsEbpfTest, ProbesArriveThroughTheirQueue) {
  const uint16_t port = ClosedPort();
  ASSERT_EQ(ConnectRefused(port, 2), 2u);
  std::vector<InboundProbe> probes;
  for (int i = 0; i < 30 && ProbesTo(probes, port) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    events_->TakeProbes(probes);
  }
  EXPECT_EQ(ProbesTo(probes, port), 2u);
  std::vector<ConnectionEvent> closed;  // the two connecting sockets' failed closes
  events_->Take(closed);
  events_->TakeProbes(probes);
  EXPECT_EQ(ProbesTo(probes, port), 2u) << "taken twice";
  EXPECT_EQ(events_->lost(), 0u);
}

// Beyond kMaxQueuedProbes between two takes, probes are dropped and counted as lost.
TEST_F(ConnectionEventsEbpfTest, ProbesBeyondTheBoundAreLost) {
  const size_t beyond = 100;
  ASSERT_EQ(ConnectRefused(ClosedPort(), kMaxQueuedProbes + beyond), kMaxQueuedProbes + beyond);
  for (int i = 0; i < 50 && events_->lost() < beyond; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(events_->lost(), beyond);
  std::vector<InboundProbe> probes;
  events_->TakeProbes(probes);
  EXPECT_EQ(probes.size(), kMaxQueuedProbes);
}

}  // namespace
}  // namespace connwatch
