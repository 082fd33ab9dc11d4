// The sockets of the HTTP front (http/front.h): its listeners, the address of an accepted
// peer, and the loopback connections to civetweb.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "http/listen_address.h"

namespace connwatch {

// A non-blocking listening socket with SO_REUSEADDR (as civetweb and Go set it: a restart
// while a connection of the last run is in TIME_WAIT must not fail with EADDRINUSE),
// IPV6_V6ONLY on unless `address` is dual-stack. `bound` is what it listens on ("[::1]:9").
// -1 with `error` set when it cannot.
int OpenListener(const ListenAddress& address, std::string& bound, std::string& error);

// The numeric address of an accepted peer; an IPv4 peer of a dual-stack socket
// (::ffff:127.0.0.1) is written as IPv4, as civetweb and Go write it.
std::string PeerAddress(const sockaddr_storage& peer);

// A non-blocking connection from 127.0.0.1 to 127.0.0.1:`port`, in progress. `local_port`:
// its source port, bound before the connect, so civetweb's handler can be told whose
// request arrives from it before the first byte does. -1 on failure.
int ConnectLoopback(uint16_t port, uint16_t& local_port);

// Closes with a reset instead of a FIN: no TIME_WAIT left behind (the refused connections,
// and the loopback connection of each request, which connwatch closes first).
void CloseWithReset(int fd);

}  // namespace connwatch
