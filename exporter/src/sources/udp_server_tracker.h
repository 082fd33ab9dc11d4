// Which unconnected UDP sockets inside the ephemeral range have been held long enough to be
// servers. A port inside ip_local_port_range may be a server's (socat UDP4-RECVFROM:40000,
// WireGuard on 51820) or one the kernel handed a client (autobind, bind(0)); the socket table
// cannot tell bind() from autobind (sock_diag and /proc/net/udp do not export sk_userlocks).
// What tells them apart is time: a client's socket lives for one query, a server's for as
// long as it serves. This object remembers, across samples, how many consecutive samples each
// such socket has been seen in. Pure: fed the socket table of each sample, no I/O; its owner
// (the sampler, a one-shot command) keeps it between samples.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "model.h"
#include "net/ports.h"

namespace connwatch {

// limits.udp_server_after's default: a socket seen in more than 3 consecutive samples.
inline constexpr uint32_t kDefaultUdpServerAfter = 3;

// Whether the UDP rule needs the tracker's verdict for this socket: unconnected, bound to a
// port, and the port inside the ephemeral range without being reserved. Sockets outside the
// range are listeners at once (classify.h); connected ones are connections.
bool IsUdpServerCandidate(const Socket& socket, const EphemeralPorts& ephemeral);

class UdpServerTracker {
 public:
  // Counts this sample's candidates and returns, parallel to `sockets`, whether each has now
  // been seen in more than `after` consecutive samples (so with `after` 0, at once). A socket
  // is known by its cookie, or its inode when the source has no cookies (/proc/net), and its
  // port; one without either (inode 0: no file refers to it) is never held. A candidate
  // missing from one sample is forgotten, so the table holds at most the last sample's
  // candidates.
  std::vector<bool> Update(const std::vector<Socket>& sockets, const EphemeralPorts& ephemeral,
                           uint32_t after);

  size_t tracked() const { return seen_.size(); }

 private:
  struct Key {
    uint64_t id = 0;  // cookie, else inode
    uint16_t port = 0;
    bool by_cookie = false;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  // Consecutive samples each candidate of the last sample was seen in.
  std::unordered_map<Key, uint32_t, KeyHash> seen_;
};

}  // namespace connwatch
