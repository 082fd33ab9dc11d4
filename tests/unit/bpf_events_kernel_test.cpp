// The eBPF programs on the real kernel (as root, when built with eBPF; skipped otherwise):
// this process's own loopback connections and the capabilities. The probe program:
// bpf_events_probes_test.cpp.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "connwatch_events.h"
#include "privilege/capabilities.h"
#include "sources/bpf_events.h"
#include "support/live_process.h"
#include "support/loopback_sockets.h"

namespace connwatch {
namespace {

constexpr size_t kSent = 100'000;    // client -> server
constexpr size_t kReceived = 5'000;  // server -> client
constexpr int kConnections = 10;
constexpr auto kDrainTimeout = std::chrono::seconds(2);

using testing::InodeOf;
using testing::Listen;
using testing::LocalPort;
using testing::LoopbackAddress;

struct Client {
  uint16_t port = 0;  // its local port
  uint64_t cookie = 0;
};

bool Transfer(int fd, size_t bytes, bool send_them) {
  std::vector<char> buffer(16384, 'x');
  while (bytes > 0) {
    size_t chunk = std::min(bytes, buffer.size());
    ssize_t n = send_them ? send(fd, buffer.data(), chunk, MSG_NOSIGNAL)
                          : recv(fd, buffer.data(), chunk, 0);
    if (n <= 0) return false;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

// The accepted side, in its own thread: reads kSent, answers kReceived, closes after EOF.
void Serve(int listener, int count) {
  for (int i = 0; i < count; ++i) {
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    char end;
    if (Transfer(fd, kSent, false) && Transfer(fd, kReceived, true)) recv(fd, &end, 1, 0);
    close(fd);
  }
}

// kConnections loopback connections of `family` from this thread; gtest failures.
void Exchange(int family, int connections, uint16_t& listen_port, std::vector<Client>& clients) {
  int listener = Listen(family, listen_port, kConnections);
  ASSERT_GE(listener, 0) << strerror(errno);
  std::thread server(Serve, listener, connections);
  for (int i = 0; i < connections; ++i) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = LoopbackAddress(family, listen_port);
    bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    Client client{LocalPort(fd), 0};
    socklen_t length = sizeof(client.cookie);
    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &client.cookie, &length);
    bool exchanged = connected && Transfer(fd, kSent, true) && Transfer(fd, kReceived, false);
    close(fd);
    EXPECT_TRUE(exchanged) << "connection " << i << ": " << strerror(errno);
    clients.push_back(client);
  }
  server.join();
  close(listener);
}

// Drains until `done` holds or kDrainTimeout has passed; everything drained.
std::vector<ConnectionEvent> DrainUntil(
    BpfEvents& events, const std::function<bool(const std::vector<ConnectionEvent>&)>& done) {
  std::vector<ConnectionEvent> drained;
  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (true) {
    events.Drain(drained);
    if (done(drained) || std::chrono::steady_clock::now() > deadline) return drained;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<ConnectionEvent> Matching(const std::vector<ConnectionEvent>& drained,
                                      const std::function<bool(const ConnectionEvent&)>& match) {
  std::vector<ConnectionEvent> found;
  for (const ConnectionEvent& event : drained) {
    if (match(event)) found.push_back(event);
  }
  return found;
}

std::string FirstLine(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

// The cgroup v2 id of this process: the inode of its directory in the unified hierarchy,
// wherever that is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
// 0 when there is none.
uint64_t OwnCgroupId() {
  std::ifstream mounts("/proc/self/mounts"), cgroups("/proc/self/cgroup");
  std::string device, mount_point, type, rest, line;
  while (mounts >> device >> mount_point >> type && type != "cgroup2") std::getline(mounts, rest);
  if (type != "cgroup2") return 0;
  while (std::getline(cgroups, line)) {
    if (line.rfind("0::", 0) == 0) return InodeOf(mount_point + line.substr(3));
  }
  return 0;
}

class BpfEventsKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!BpfEventsBuilt()) GTEST_SKIP() << "built without eBPF (CONNWATCH_BPF)";
    if (geteuid() != 0) GTEST_SKIP() << "not root: loading needs CAP_BPF and CAP_PERFMON";
    std::string error;
    events_ = BpfEvents::Open(error);
    ASSERT_NE(events_, nullptr) << error;
    EXPECT_GE(events_->fd(), 0);
  }

  std::unique_ptr<BpfEvents> events_;
};

TEST_F(BpfEventsKernelTest, OwnLoopbackConnectionsBothEnds) {
  uint16_t port = 0;
  std::vector<Client> clients;
  ASSERT_NO_FATAL_FAILURE(Exchange(AF_INET, kConnections, port, clients));
  auto outbound = [&](const ConnectionEvent& e) {
    return e.direction == EventDirection::kOutbound && e.remote_port == port;
  };
  auto inbound = [&](const ConnectionEvent& e) {
    return e.direction == EventDirection::kInbound && e.local_port == port;
  };
  std::vector<ConnectionEvent> drained = DrainUntil(*events_, [&](const auto& all) {
    return Matching(all, outbound).size() >= kConnections &&
           Matching(all, inbound).size() >= kConnections;
  });
  std::map<uint16_t, uint64_t> cookie_of_port;
  for (const Client& client : clients) cookie_of_port[client.port] = client.cookie;
  const std::string comm = FirstLine("/proc/self/comm");
  const uint64_t netns = InodeOf("/proc/self/ns/net");
  const uint64_t cgroup = OwnCgroupId();
  if (cgroup == 0) std::printf("cgroup v2 not at /sys/fs/cgroup: cgroup id not compared\n");
  const double now = BootClockSeconds();

  std::vector<ConnectionEvent> out = Matching(drained, outbound);
  ASSERT_EQ(out.size(), kConnections) << drained.size() << " records drained";
  for (const ConnectionEvent& e : out) {
    ASSERT_EQ(cookie_of_port.count(e.local_port), 1u) << "unknown local port " << e.local_port;
    EXPECT_EQ(e.cookie, cookie_of_port[e.local_port]) << "SO_COOKIE";
    EXPECT_EQ(e.pid, getpid());
    EXPECT_EQ(e.comm, comm);
    EXPECT_EQ(e.family, Family::kIpv4);
    EXPECT_EQ(FormatIpAddress(e.local), "127.0.0.1");
    EXPECT_EQ(FormatIpAddress(e.remote), "127.0.0.1");
    EXPECT_EQ(e.outcome, EventOutcome::kEstablished);
    EXPECT_EQ(e.netns_inode, netns);
    if (cgroup != 0) {
      EXPECT_EQ(e.cgroup_id, cgroup);
    }
    EXPECT_TRUE(e.has_bytes);
    EXPECT_GE(e.bytes_acked, kSent);  // the SYN and FIN count one each
    EXPECT_LE(e.bytes_acked, kSent + 2);
    EXPECT_GE(e.bytes_received, kReceived);
    EXPECT_LE(e.bytes_received, kReceived + 2);
    EXPECT_GT(e.start_boot_seconds, 0);
    EXPECT_GT(e.end_boot_seconds, e.start_boot_seconds);
    EXPECT_LE(e.end_boot_seconds, now);
  }
  std::vector<ConnectionEvent> in = Matching(drained, inbound);
  ASSERT_EQ(in.size(), kConnections);
  for (const ConnectionEvent& e : in) {
    EXPECT_EQ(cookie_of_port.count(e.remote_port), 1u) << "unknown peer port " << e.remote_port;
    EXPECT_EQ(e.pid, 0);  // accepted in softirq: the exporter takes the listener's owner
    EXPECT_EQ(e.comm, "");
    EXPECT_EQ(e.cgroup_id, 0u);
    EXPECT_EQ(e.outcome, EventOutcome::kEstablished);
    EXPECT_GE(e.bytes_received, kSent);
    EXPECT_LE(e.bytes_received, kSent + 2);
    EXPECT_GE(e.bytes_acked, kReceived);
    EXPECT_LE(e.bytes_acked, kReceived + 2);
    EXPECT_GT(e.start_boot_seconds, 0);
    EXPECT_GT(e.end_boot_seconds, e.start_boot_seconds);
  }
  for (const Client& client : clients) {
    EXPECT_FALSE(events_->open_sockets().Holds(client.cookie)) << "open record kept after close";
  }
  EXPECT_EQ(events_->lost(), 0u);
  EXPECT_EQ(events_->malformed(), 0u);
}

// From a second thread, named apart: the record names the process (tgid, not the thread's
// id) and the thread's comm, which is what the kernel keeps per task.
TEST_F(BpfEventsKernelTest, ConnectToAClosedPortFails) {
  uint16_t port = 0;
  int bound = Listen(AF_INET, port);  // a port nobody listens on once it is closed
  ASSERT_GE(bound, 0);
  close(bound);
  pid_t thread_id = 0;
  int connect_errno = 0;
  std::thread connecting([&] {
    thread_id = gettid();
    pthread_setname_np(pthread_self(), "cw-refused");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = LoopbackAddress(AF_INET, port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      connect_errno = errno;
    }
    close(fd);
  });
  connecting.join();
  EXPECT_EQ(connect_errno, ECONNREFUSED);
  ASSERT_NE(thread_id, getpid());
  auto attempt = [&](const ConnectionEvent& e) { return e.remote_port == port; };
  std::vector<ConnectionEvent> found = Matching(
      DrainUntil(*events_, [&](const auto& all) { return !Matching(all, attempt).empty(); }),
      attempt);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].direction, EventDirection::kOutbound);
  EXPECT_EQ(found[0].outcome, EventOutcome::kFailed);
  EXPECT_EQ(found[0].pid, getpid());
  EXPECT_EQ(found[0].comm, "cw-refused");
  EXPECT_GT(found[0].local_port, 0);
  EXPECT_GT(found[0].end_boot_seconds, found[0].start_boot_seconds);
}

TEST_F(BpfEventsKernelTest, Ipv6Loopback) {
  uint16_t probe_port = 0;
  int probe = Listen(AF_INET6, probe_port);
  if (probe < 0) GTEST_SKIP() << "no IPv6 loopback here: " << strerror(errno);
  close(probe);
  uint16_t port = 0;
  std::vector<Client> clients;
  ASSERT_NO_FATAL_FAILURE(Exchange(AF_INET6, 1, port, clients));
  auto ours = [&](const ConnectionEvent& e) {
    return e.remote_port == port || e.local_port == port;
  };
  std::vector<ConnectionEvent> found = Matching(
      DrainUntil(*events_, [&](const auto& all) { return Matching(all, ours).size() >= 2; }), ours);
  ASSERT_EQ(found.size(), 2u);
  for (const ConnectionEvent& e : found) {
    EXPECT_EQ(e.family, Family::kIpv6);
    EXPECT_EQ(FormatIpAddress(e.local), "::1");
    EXPECT_EQ(FormatIpAddress(e.remote), "::1");
    EXPECT_EQ(e.outcome, EventOutcome::kEstablished);
    if (e.direction == EventDirection::kOutbound) {
      EXPECT_EQ(e.cookie, clients[0].cookie);
      EXPECT_EQ(e.local_port, clients[0].port);
      EXPECT_GE(e.bytes_acked, kSent);
    } else {
      EXPECT_EQ(e.direction, EventDirection::kInbound);
      EXPECT_EQ(e.remote_port, clients[0].port);
      EXPECT_GE(e.bytes_received, kSent);
    }
  }
}

// The program submits without a wakeup (BPF_RB_NO_WAKEUP) until a quarter of the ring waits:
// a reader blocked on fd() alone would not see a single record, so it must poll on a timer.
TEST_F(BpfEventsKernelTest, ARecordWakesNoReaderYetDrainFindsIt) {
  uint16_t port = 0;
  std::vector<Client> clients;
  ASSERT_NO_FATAL_FAILURE(Exchange(AF_INET, 1, port, clients));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both ends have closed
  epoll_event ready;
  EXPECT_EQ(epoll_wait(events_->fd(), &ready, 1, 0), 0) << "woken for a single record";
  auto ours = [&](const ConnectionEvent& e) { return e.cookie == clients[0].cookie; };
  std::vector<ConnectionEvent> drained =
      DrainUntil(*events_, [&](const auto& all) { return !Matching(all, ours).empty(); });
  EXPECT_EQ(Matching(drained, ours).size(), 1u);
}

// A connection open before the program was loaded has no entry: its close still yields a
// record, with the final bytes, that says nothing it did not see (start 0, direction unknown).
TEST(BpfEventsBeforeOpenTest, AnEarlierConnectionIsReportedAtClose) {
  if (!BpfEventsBuilt()) GTEST_SKIP() << "built without eBPF (CONNWATCH_BPF)";
  if (geteuid() != 0) GTEST_SKIP() << "not root: loading needs CAP_BPF and CAP_PERFMON";
  uint16_t port = 0;
  int listener = Listen(AF_INET, port);
  ASSERT_GE(listener, 0);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage address = LoopbackAddress(AF_INET, port);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  getsockopt(client, SOL_SOCKET, SO_COOKIE, &cookie, &length);

  std::string error;
  std::unique_ptr<BpfEvents> events = BpfEvents::Open(error);
  ASSERT_NE(events, nullptr) << error;
  EXPECT_TRUE(Transfer(client, kReceived, true) && Transfer(server, kReceived, false));
  close(client);
  close(server);
  close(listener);
  auto ours = [&](const ConnectionEvent& e) {
    return e.local_port == port || e.remote_port == port;
  };
  std::vector<ConnectionEvent> found = Matching(
      DrainUntil(*events, [&](const auto& all) { return Matching(all, ours).size() >= 2; }), ours);
  ASSERT_EQ(found.size(), 2u);
  for (const ConnectionEvent& e : found) {
    EXPECT_EQ(e.direction, EventDirection::kUnknown);
    EXPECT_EQ(e.outcome, EventOutcome::kEstablished);
    EXPECT_EQ(e.start_boot_seconds, 0);
    EXPECT_GT(e.end_boot_seconds, 0);
    EXPECT_EQ(e.pid, 0);
    EXPECT_EQ(e.comm, "");
    if (e.remote_port == port) {
      EXPECT_EQ(e.cookie, cookie);
      EXPECT_GE(e.bytes_acked, kReceived);
    } else {
      EXPECT_GE(e.bytes_received, kReceived);
    }
  }
}

// Numbers from <linux/capability.h> (kernel ABI).
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

// Drops CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN from the calling thread's effective and
// permitted sets (for a forked child: it cannot be undone). "" or what failed.
std::string DropBpfCapabilities() {
  CapabilityState current;
  std::string error;
  if (!ReadCapabilities(current, error)) return "capget: " + error;
  const CapabilitySet drop =
      CapabilityBit(kCapBpf) | CapabilityBit(kCapPerfmon) | CapabilityBit(kCapSysAdmin);
  CapabilityPlan plan = PlanCapabilityDrop(current, current.permitted & ~drop);
  if (!ApplyCapabilityPlan(plan, error)) return "capset: " + error;
  if (HasEffectiveCapabilities(CapabilityBit(kCapBpf))) return "CAP_BPF still effective";
  return "";
}

TEST(BpfEventsRefusedTest, WithoutCapBpfAndCapPerfmon) {
  if (!BpfEventsBuilt()) GTEST_SKIP() << "built without eBPF (CONNWATCH_BPF)";
  if (geteuid() != 0) GTEST_SKIP() << "not root: nothing to drop";
  std::string outcome = testing::RunInChild([]() -> std::string {
    if (std::string dropped = DropBpfCapabilities(); !dropped.empty()) return dropped;
    std::string error;
    std::unique_ptr<BpfEvents> events = BpfEvents::Open(error);
    if (events != nullptr) return "Open succeeded without the capabilities";
    if (error.empty()) return "Open failed without saying why";
    std::printf("refused as expected: %s\n", error.c_str());
    std::fflush(stdout);
    return "";
  });
  EXPECT_EQ(outcome, "");
}

// Loaded, the program needs no capability any more: the attachment lives in its link fd and
// the ring and counters are memory-mapped, so an exporter can load it and then drop CAP_BPF
// and CAP_PERFMON. A failed connect is the record (it needs no server thread in the child).
TEST(BpfEventsRefusedTest, KeepsDeliveringAfterTheCapabilitiesAreDropped) {
  if (!BpfEventsBuilt()) GTEST_SKIP() << "built without eBPF (CONNWATCH_BPF)";
  if (geteuid() != 0) GTEST_SKIP() << "not root: loading needs CAP_BPF and CAP_PERFMON";
  std::string outcome = testing::RunInChild([]() -> std::string {
    std::string error;
    std::unique_ptr<BpfEvents> events = BpfEvents::Open(error);
    if (events == nullptr) return "Open: " + error;
    if (std::string dropped = DropBpfCapabilities(); !dropped.empty()) return dropped;
    uint16_t port = 0;
    int bound = Listen(AF_INET, port);
    if (bound < 0) return "no loopback listener";
    close(bound);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = LoopbackAddress(AF_INET, port);
    connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));  // refused
    close(fd);
    auto attempt = [&](const ConnectionEvent& e) { return e.remote_port == port; };
    std::vector<ConnectionEvent> drained =
        DrainUntil(*events, [&](const auto& all) { return !Matching(all, attempt).empty(); });
    if (Matching(drained, attempt).size() != 1) return "the refused connect was not reported";
    return events->lost() == 0 ? "" : "records lost";
  });
  EXPECT_EQ(outcome, "");
}

}  // namespace
}  // namespace connwatch
