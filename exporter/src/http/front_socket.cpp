#include "http/front_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace connwatch {
namespace {

// Enough for a burst of scrapes and an attack's reconnects while the front accepts them.
constexpr int kBacklog = 1024;

int Fail(int fd, std::string& error, const std::string& what) {
  error = what + ": " + std::strerror(errno);
  if (fd >= 0) close(fd);
  return -1;
}

int OpenOne(const ListenAddress& address, std::string& bound, std::string& error) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (address.ipv6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr);
    length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr);
    length = sizeof(sockaddr_in);
  }
  int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(fd, error, "socket");
  int on = 1, v6only = address.dual_stack ? 0 : 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    return Fail(fd, error, "SO_REUSEADDR");
  }
  if (address.ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
    return Fail(fd, error, "IPV6_V6ONLY");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) return Fail(fd, error, "bind");
  if (listen(fd, kBacklog) != 0) return Fail(fd, error, "listen");
  length = sizeof(storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
  uint16_t port = ntohs(address.ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  bound = FormatHostPort(address.host, port);
  return fd;
}

}  // namespace

int OpenListener(const ListenAddress& address, std::string& bound, std::string& error) {
  int fd = OpenOne(address, bound, error);
  if (fd < 0 && address.any_address && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
    // ":port" on a host without IPv6: every IPv4 address, as before.
    ListenAddress v4 = address;
    v4.ipv6 = false;
    v4.dual_stack = false;
    v4.host = "0.0.0.0";
    fd = OpenOne(v4, bound, error);
  }
  return fd;
}

std::string PeerAddress(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr, text, sizeof(text));
    return text;
  }
  const in6_addr& address = reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&address)) {
    inet_ntop(AF_INET, &address.s6_addr[12], text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, &address, text, sizeof(text));
  }
  return text;
}

int ConnectLoopback(uint16_t port, uint16_t& local_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return -1;
  }
  local_port = ntohs(address.sin_port);
  address.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  return fd;
}

void CloseWithReset(int fd) {
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(fd);
}

}  // namespace connwatch
