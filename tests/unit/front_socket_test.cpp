#include "http/front_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

namespace connwatch {
namespace {

ListenAddress Address(const std::string& text) {
  ListenAddress address;
  std::string error;
  EXPECT_TRUE(ParseListenAddress(text, address, error)) << error;
  return address;
}

int Option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof(value);
  getsockopt(fd, level, name, &value, &length);
  return value;
}

uint16_t PortOf(const std::string& bound) {
  return static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
}

// Connects a blocking client to host:port; the fd, or -1.
int Connect(int family, const char* host, uint16_t port) {
  sockaddr_storage storage{};
  socklen_t length;
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    inet_pton(AF_INET, host, &v4->sin_addr);
    length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    inet_pton(AF_INET6, host, &v6->sin6_addr);
    length = sizeof(sockaddr_in6);
  }
  int fd = socket(family, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string AcceptedPeer(int listener) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  for (int i = 0; i < 200; ++i) {
    int fd = accept(listener, reinterpret_cast<sockaddr*>(&peer), &length);
    if (fd >= 0) {
      close(fd);
      return PeerAddress(peer);
    }
    usleep(5000);
  }
  return "none";
}

TEST(FrontSocketTest, ListenersReuseTheAddress) {
  std::string bound, error;
  int fd = OpenListener(Address("127.0.0.1:0"), bound, error);
  ASSERT_GE(fd, 0) << error;
  EXPECT_EQ(Option(fd, SOL_SOCKET, SO_REUSEADDR), 1);
  EXPECT_TRUE(bound.starts_with("127.0.0.1:")) << bound;
  EXPECT_NE(PortOf(bound), 0);
  int client = Connect(AF_INET, "127.0.0.1", PortOf(bound));
  ASSERT_GE(client, 0);
  EXPECT_EQ(AcceptedPeer(fd), "127.0.0.1");
  close(client);
  close(fd);
}

TEST(FrontSocketTest, Ipv6LoopbackIsV6OnlyAndTheWildcardDualStack) {
  std::string bound, error;
  int v6 = OpenListener(Address("[::1]:0"), bound, error);
  if (v6 < 0) GTEST_SKIP() << "no IPv6 here: " << error;
  EXPECT_EQ(Option(v6, IPPROTO_IPV6, IPV6_V6ONLY), 1);
  EXPECT_TRUE(bound.starts_with("[::1]:")) << bound;
  int client = Connect(AF_INET6, "::1", PortOf(bound));
  ASSERT_GE(client, 0);
  EXPECT_EQ(AcceptedPeer(v6), "::1");
  close(client);
  close(v6);
  int dual = OpenListener(Address("[::]:0"), bound, error);
  ASSERT_GE(dual, 0) << error;
  EXPECT_EQ(Option(dual, IPPROTO_IPV6, IPV6_V6ONLY), 0);
  EXPECT_TRUE(bound.starts_with("[::]:")) << bound;
  client = Connect(AF_INET, "127.0.0.1", PortOf(bound));
  ASSERT_GE(client, 0);
  EXPECT_EQ(AcceptedPeer(dual), "127.0.0.1");  // not ::ffff:127.0.0.1
  close(client);
  close(dual);
}

TEST(FrontSocketTest, ABusyPortIsAnError) {
  std::string bound, error;
  int first = OpenListener(Address("127.0.0.1:0"), bound, error);
  ASSERT_GE(first, 0);
  std::string again;
  EXPECT_LT(OpenListener(Address(bound), again, error), 0);
  EXPECT_NE(error.find("bind"), std::string::npos) << error;
  close(first);
}

TEST(FrontSocketTest, LoopbackConnectionsKnowTheirSourcePort) {
  std::string bound, error;
  int listener = OpenListener(Address("127.0.0.1:0"), bound, error);
  ASSERT_GE(listener, 0);
  uint16_t local_port = 0;
  int fd = ConnectLoopback(PortOf(bound), local_port);
  ASSERT_GE(fd, 0);
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  EXPECT_EQ(ntohs(local.sin_port), local_port);
  EXPECT_NE(local_port, 0);
  EXPECT_EQ(AcceptedPeer(listener), "127.0.0.1");
  CloseWithReset(fd);
  close(listener);
}

}  // namespace
}  // namespace connwatch
