#include "sources/udp_server_tracker.h"

#include <algorithm>

#include "base/hash_combine.h"

namespace connwatch {

bool IsUdpServerCandidate(const Socket& socket, const EphemeralPorts& ephemeral) {
  return socket.transport == Transport::kUdp && socket.remote_port == 0 && socket.local_port != 0 &&
         ephemeral.range.Contains(socket.local_port) && !ephemeral.reserved.test(socket.local_port);
}

size_t UdpServerTracker::KeyHash::operator()(const Key& key) const {
  size_t seed = 0;
  HashCombine(seed, key.id);
  HashCombine(seed, (static_cast<uint64_t>(key.port) << 1) | (key.by_cookie ? 1 : 0));
  return seed;
}

std::vector<bool> UdpServerTracker::Update(const std::vector<Socket>& sockets,
                                           const EphemeralPorts& ephemeral, uint32_t after) {
  std::vector<bool> held(sockets.size(), false);
  std::unordered_map<Key, uint32_t, KeyHash> seen;
  for (size_t i = 0; i < sockets.size(); ++i) {
    const Socket& socket = sockets[i];
    if (!IsUdpServerCandidate(socket, ephemeral)) continue;
    // Cookies are unique per boot; inodes are reused once freed, but a reused inode on the
    // same port in the very next sample is as good as the same socket for this purpose.
    Key key{socket.cookie != 0 ? socket.cookie : socket.inode, socket.local_port,
            socket.cookie != 0};
    if (key.id == 0) continue;
    auto previous = seen_.find(key);
    // Saturates: past `after` the exact count no longer matters.
    uint32_t count = previous == seen_.end() ? 1 : std::max(previous->second, previous->second + 1);
    // A /proc/net table may list one socket twice (a race with a rehash): counted once.
    held[i] = seen.emplace(key, count).first->second > after;
  }
  seen_ = std::move(seen);
  return held;
}

}  // namespace connwatch
