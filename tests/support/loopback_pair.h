// A TCP connection on 127.0.0.1 that the test itself makes, both ends held open: for the
// tests that watch the kernel report connections (destroy notifications, the event queue).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace connwatch::testing {

struct LoopbackPair {
  int listener = -1, client = -1, server = -1;
  sockaddr_in address{};  // the listener's, on a port the kernel chose
  uint64_t client_cookie = 0, server_cookie = 0;
  uint16_t client_port = 0;
};

inline uint64_t CookieOf(int fd) {
  uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  return getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) == 0 ? cookie : 0;
}

// A listener, then one connection to it, connected and accepted; false when a step failed.
inline bool OpenLoopbackPair(LoopbackPair& pair) {
  pair.listener = socket(AF_INET, SOCK_STREAM, 0);
  pair.address.sin_family = AF_INET;
  pair.address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(pair.address);
  auto* address = reinterpret_cast<sockaddr*>(&pair.address);
  if (pair.listener < 0 || bind(pair.listener, address, sizeof(pair.address)) != 0 ||
      listen(pair.listener, 64) != 0 || getsockname(pair.listener, address, &length) != 0) {
    return false;
  }
  pair.client = socket(AF_INET, SOCK_STREAM, 0);
  if (pair.client < 0 || connect(pair.client, address, sizeof(pair.address)) != 0) return false;
  pair.server = accept(pair.listener, nullptr, nullptr);
  sockaddr_in local{};
  length = sizeof(local);
  getsockname(pair.client, reinterpret_cast<sockaddr*>(&local), &length);
  pair.client_port = ntohs(local.sin_port);
  pair.client_cookie = CookieOf(pair.client);
  pair.server_cookie = CookieOf(pair.server);
  return pair.server >= 0;
}

// Closes what is open: the client end first, then the accepted end, then the listener.
inline void CloseLoopbackPair(LoopbackPair& pair) {
  for (int* fd : {&pair.client, &pair.server, &pair.listener}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

}  // namespace connwatch::testing
