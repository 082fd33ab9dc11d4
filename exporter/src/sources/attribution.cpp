#include "sources/attribution.h"

#include <unordered_map>

namespace connwatch {
namespace {

bool WaitsForAccept(const Socket& socket) {
  return socket.transport == Transport::kTcp && socket.inode == 0 &&
         (socket.state == SocketState::kEstablished || socket.state == SocketState::kCloseWait);
}

// How well a listener's address covers a local address: 0 not at all, higher is more
// specific (the order of attribution.h).
int Specificity(const IpAddress& listener, const IpAddress& local) {
  IpAddress bound = UnmapV4(listener);
  IpAddress address = UnmapV4(local);
  if (!IsUnspecified(bound)) return bound == address ? 3 : 0;
  if (bound.family == address.family) return 2;
  return bound.family == Family::kIpv6 ? 1 : 0;
}

}  // namespace

const char* AttributionName(Attribution attribution) {
  constexpr const char* kNames[] = {"owned", "none", "accept_queue", "owner_exited", "unknown"};
  return kNames[static_cast<size_t>(attribution)];
}

QueuedSockets FindAcceptQueues(const std::vector<Socket>& sockets) {
  QueuedSockets queued;
  // Most samples have no queued socket at all: the listeners are indexed only when one is.
  size_t first = 0;
  while (first < sockets.size() && !WaitsForAccept(sockets[first])) ++first;
  if (first == sockets.size()) return queued;
  std::unordered_map<uint16_t, std::vector<uint32_t>> listeners_by_port;
  for (size_t i = 0; i < sockets.size(); ++i) {
    const Socket& socket = sockets[i];
    if (socket.transport == Transport::kTcp && socket.state == SocketState::kListen) {
      listeners_by_port[socket.local_port].push_back(static_cast<uint32_t>(i));
    }
  }
  for (size_t i = first; i < sockets.size(); ++i) {
    const Socket& socket = sockets[i];
    if (!WaitsForAccept(socket)) continue;
    auto it = listeners_by_port.find(socket.local_port);
    if (it == listeners_by_port.end()) continue;
    int best = 0;
    uint32_t best_listener = 0;
    for (uint32_t listener : it->second) {
      // A listener of another namespace on the same port is another listener altogether.
      if (sockets[listener].netns != socket.netns) continue;
      int specificity = Specificity(sockets[listener].local, socket.local);
      if (specificity > best) {
        best = specificity;
        best_listener = listener;
      }
    }
    if (best > 0) queued.emplace_back(static_cast<uint32_t>(i), best_listener);
  }
  return queued;
}

Attribution AttributeHeld(size_t holders, size_t read, StillOpen still_open) {
  if (read > 0) return Attribution::kOwned;
  if (holders > 0 || still_open == StillOpen::kNo) return Attribution::kOwnerExited;
  return Attribution::kUnknown;
}

}  // namespace connwatch
