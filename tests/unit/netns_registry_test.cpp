// NetnsRegistry against the real kernel: children that unshare a network namespace of their
// own and open sockets in it, read through sock_diag (setns) and through procfs, and the
// namespace released once its last process is gone. Needs root (unshare, setns).
#include "sources/netns_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <tuple>

namespace connwatch {
namespace {

constexpr uint16_t kListenPort = 18080;
constexpr uint16_t kUdpPort = 18053;

// What the child opens inside its namespace: a listener on 127.0.0.1:kListenPort, and
// optionally a connection to it (both ends) and a bound UDP socket.
struct Inside {
  bool connection = false;
  bool udp = false;
};

// In the child only: system calls, no allocation (the parent may have threads).
int SetUpInside(const Inside& inside) {
  if (unshare(CLONE_NEWNET) != 0) return 1;
  int control = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq request;
  std::memset(&request, 0, sizeof(request));
  std::strcpy(request.ifr_name, "lo");
  if (control < 0 || ioctl(control, SIOCGIFFLAGS, &request) != 0) return 2;
  request.ifr_flags |= IFF_UP;
  if (ioctl(control, SIOCSIFFLAGS, &request) != 0) return 3;
  sockaddr_in address;
  std::memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(kListenPort);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 8) != 0) {
    return 4;
  }
  if (inside.connection) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return 5;
    if (accept(listener, nullptr, nullptr) < 0) return 6;
  }
  if (inside.udp) {
    address.sin_port = htons(kUdpPort);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return 7;
  }
  return 0;
}

// A child in a namespace of its own, holding its sockets until destroyed.
class NamespaceChild {
 public:
  explicit NamespaceChild(Inside inside) {
    int ready[2], release[2];
    if (pipe(ready) != 0 || pipe(release) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      close(release[1]);
      char status = static_cast<char>(SetUpInside(inside));
      if (write(ready[1], &status, 1) != 1) _exit(1);
      char byte;
      while (read(release[0], &byte, 1) > 0) {
      }
      _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    release_fd_ = release[1];
    char status = 1;
    ready_ = read(ready[0], &status, 1) == 1 && status == 0;
    close(ready[0]);
    struct stat info;
    std::string path = "/proc/" + std::to_string(pid_) + "/ns/net";
    if (ready_ && stat(path.c_str(), &info) == 0) inode_ = info.st_ino;
  }
  ~NamespaceChild() { Stop(); }
  void Stop() {
    if (release_fd_ >= 0) close(release_fd_);
    release_fd_ = -1;
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  bool ready() const { return ready_ && inode_ != 0; }
  pid_t pid() const { return pid_; }
  uint64_t inode() const { return inode_; }

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
  bool ready_ = false;
  uint64_t inode_ = 0;
};

using SocketKey = std::tuple<Transport, SocketState, uint16_t, uint16_t>;

// The namespace with `inode` in `namespaces`, and the sockets the sample gave it.
const NetworkNamespace* Find(const std::vector<NetworkNamespace>& namespaces, uint64_t inode,
                             uint32_t& index) {
  for (size_t i = 0; i < namespaces.size(); ++i) {
    if (namespaces[i].inode == inode) {
      index = static_cast<uint32_t>(i);
      return &namespaces[i];
    }
  }
  return nullptr;
}

std::set<SocketKey> KeysIn(const std::vector<Socket>& sockets, uint32_t netns) {
  std::set<SocketKey> keys;
  for (const Socket& socket : sockets) {
    if (socket.netns == netns) {
      keys.insert({socket.transport, socket.state, socket.local_port, socket.remote_port});
    }
  }
  return keys;
}

struct Sampled {
  std::vector<NetworkNamespace> namespaces;
  std::vector<Socket> sockets;
};

Sampled SampleWith(NetnsRegistry& registry, bool use_setns) {
  NetnsRegistry::Options options;
  options.use_setns = use_setns;
  Sampled sampled;
  SockDiagStats diag;
  ProcNetStats proc;
  EXPECT_TRUE(registry.Sample(options, sampled.namespaces, sampled.sockets, diag, proc));
  return sampled;
}

class NetnsRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare, setns)";
  }
};

TEST_F(NetnsRegistryTest, ReadsAnUnnamedNamespaceThroughSockDiagAndThroughProcfs) {
  NamespaceChild child({.connection = true, .udp = true});
  ASSERT_TRUE(child.ready());
  for (bool use_setns : {true, false}) {
    SCOPED_TRACE(use_setns ? "sock_diag" : "procfs");
    NetnsRegistry registry;
    Sampled sampled = SampleWith(registry, use_setns);
    ASSERT_FALSE(sampled.namespaces.empty());
    EXPECT_EQ(sampled.namespaces[0].mode, NetnsMode::kOwn);
    EXPECT_NE(sampled.namespaces[0].inode, child.inode());
    uint32_t index = 0;
    const NetworkNamespace* netns = Find(sampled.namespaces, child.inode(), index);
    ASSERT_NE(netns, nullptr) << "the child's namespace was not found";
    EXPECT_EQ(netns->mode, use_setns ? NetnsMode::kSockDiag : NetnsMode::kProcfs);
    EXPECT_EQ(netns->name, "inode:" + std::to_string(child.inode()));
    std::set<SocketKey> keys = KeysIn(sampled.sockets, index);
    EXPECT_TRUE(keys.count({Transport::kTcp, SocketState::kListen, kListenPort, 0}))
        << "the listener";
    EXPECT_TRUE(keys.count({Transport::kUdp, SocketState::kClose, kUdpPort, 0}))
        << "the UDP socket";
    // Both ends of the connection: the server end on the listened port, the client end
    // towards it.
    auto server_end = std::count_if(sampled.sockets.begin(), sampled.sockets.end(), [&](auto& s) {
      return s.netns == index && s.state == SocketState::kEstablished &&
             s.local_port == kListenPort;
    });
    auto client_end = std::count_if(sampled.sockets.begin(), sampled.sockets.end(), [&](auto& s) {
      return s.netns == index && s.state == SocketState::kEstablished &&
             s.remote_port == kListenPort;
    });
    EXPECT_EQ(server_end, 1);
    EXPECT_EQ(client_end, 1);
    for (const Socket& socket : sampled.sockets) {
      if (socket.netns == index) {
        EXPECT_NE(socket.inode, 0u) << "held sockets have inodes";
      }
    }
    EXPECT_EQ(registry.errors()[static_cast<size_t>(NetnsError::kDump)], 0u);
  }
}

TEST_F(NetnsRegistryTest, ANamespaceOfListenersAloneIsReadOnItsListeners) {
  NamespaceChild child({});
  ASSERT_TRUE(child.ready());
  NetnsRegistry registry;
  for (int sample = 0; sample < 2; ++sample) {  // the second reuses the socket made inside
    Sampled sampled = SampleWith(registry, true);
    uint32_t index = 0;
    ASSERT_NE(Find(sampled.namespaces, child.inode(), index), nullptr);
    EXPECT_EQ(KeysIn(sampled.sockets, index),
              (std::set<SocketKey>{{Transport::kTcp, SocketState::kListen, kListenPort, 0}}));
  }
}

// Connects to the child's listener from inside its namespace, on a thread that enters it
// and comes back; the client socket stays open until `fd` is closed.
int ConnectInside(uint64_t inode, pid_t pid) {
  int fd = -1;
  std::thread([&] {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (home < 0 || target < 0 || fstat(target, &info) != 0 || info.st_ino != inode ||
        setns(target, CLONE_NEWNET) != 0) {
      return;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(kListenPort);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      fd = -1;
    }
    if (setns(home, CLONE_NEWNET) != 0) std::abort();  // never leave a thread elsewhere
    close(home);
    close(target);
  }).join();
  return fd;
}

TEST_F(NetnsRegistryTest, AQuietNamespaceIsNotWalkedAgainUntilItsCountersMove) {
  NamespaceChild child({.connection = true});
  ASSERT_TRUE(child.ready());
  NetnsRegistry registry;
  uint32_t index = 0;
  Sampled first = SampleWith(registry, true);
  ASSERT_NE(Find(first.namespaces, child.inode(), index), nullptr);
  std::set<SocketKey> before = KeysIn(first.sockets, index);
  EXPECT_EQ(registry.reused_dumps(), 0u) << "the first read walks everything";
  Sampled second = SampleWith(registry, true);
  ASSERT_NE(Find(second.namespaces, child.inode(), index), nullptr);
  EXPECT_EQ(KeysIn(second.sockets, index), before) << "the same sockets, reused";
  EXPECT_GE(registry.reused_dumps(), 1u);
  const uint64_t reused = registry.reused_dumps();

  int client = ConnectInside(child.inode(), child.pid());
  ASSERT_GE(client, 0);
  Sampled third = SampleWith(registry, true);
  ASSERT_NE(Find(third.namespaces, child.inode(), index), nullptr);
  // reused_dumps() counts every quiet namespace of the host, and other namespaces may come
  // and go meanwhile: the new client in the child's sockets is what says it was walked again.
  EXPECT_GE(registry.reused_dumps(), reused);
  auto clients = std::count_if(third.sockets.begin(), third.sockets.end(), [&](const Socket& s) {
    return s.netns == index && s.state == SocketState::kEstablished && s.remote_port == kListenPort;
  });
  EXPECT_EQ(clients, 2) << "a connect moves ActiveOpens: walked again, the new client in it";
  close(client);
}

TEST_F(NetnsRegistryTest, LooksUpASocketInItsOwnNamespace) {
  NamespaceChild child({});
  ASSERT_TRUE(child.ready());
  NetnsRegistry registry;
  Sampled sampled = SampleWith(registry, true);
  uint32_t index = 0;
  ASSERT_NE(Find(sampled.namespaces, child.inode(), index), nullptr);
  auto listener = std::find_if(sampled.sockets.begin(), sampled.sockets.end(),
                               [&](const Socket& s) { return s.netns == index; });
  ASSERT_NE(listener, sampled.sockets.end());
  uint64_t inode = 0;
  EXPECT_EQ(registry.LookUp(*listener, inode), SocketLookup::kOpen);
  EXPECT_EQ(inode, listener->inode);
  Socket elsewhere = *listener;
  elsewhere.netns = 0;
  EXPECT_EQ(registry.LookUp(elsewhere, inode), SocketLookup::kUnknown)
      << "connwatch's own namespace is not the registry's to answer for";
}

TEST_F(NetnsRegistryTest, ReleasesANamespaceTwoSamplesAfterItsLastProcessExits) {
  NamespaceChild child({});
  ASSERT_TRUE(child.ready());
  const uint64_t inode = child.inode();
  NetnsRegistry registry;
  uint32_t index = 0;
  ASSERT_NE(Find(SampleWith(registry, true).namespaces, inode, index), nullptr);
  const size_t held = registry.held();
  child.Stop();
  // The socket connwatch holds inside keeps the namespace alive, but no process is in it.
  EXPECT_EQ(Find(SampleWith(registry, true).namespaces, inode, index), nullptr);
  EXPECT_EQ(registry.held(), held) << "still held one sample after";
  SampleWith(registry, true);
  EXPECT_EQ(registry.held(), held - 1) << "released after the second";
}

TEST(NetnsRegistryPinsTest, AFileUnderAPinDirectoryThatIsNoNamespaceIsCounted) {
  std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / "netns_pins";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "run/netns");
  std::ofstream(root / "run/netns/bogus") << "not a namespace\n";
  std::ofstream(root / "run/netns/a b") << "";
  NetnsRegistry registry;
  NetnsRegistry::Options options;
  options.rootfs = root.string();
  options.use_setns = false;
  std::vector<NetworkNamespace> namespaces;
  std::vector<Socket> sockets;
  SockDiagStats diag;
  ProcNetStats proc;
  ASSERT_TRUE(registry.Sample(options, namespaces, sockets, diag, proc));
  EXPECT_EQ(registry.errors()[static_cast<size_t>(NetnsError::kNotANamespace)], 2u);
  for (const NetworkNamespace& netns : namespaces) EXPECT_NE(netns.name, "bogus");
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace connwatch
