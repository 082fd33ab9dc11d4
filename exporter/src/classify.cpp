#include "classify.h"

#include <cstring>
#include <unordered_set>

namespace connwatch {
namespace {

bool IsUdpListener(const Socket& socket, size_t index, const ClassifyOptions& options) {
  if (socket.local_port == 0) return false;  // created but never bound
  if (!options.ephemeral.range.Contains(socket.local_port)) return true;
  return options.ephemeral.reserved.test(socket.local_port) ||
         options.udp_service_ports.test(socket.local_port) ||
         (index < options.udp_held.size() && options.udp_held[index]);
}

SocketRole RoleOf(const Socket& socket, size_t index, const ClassifyOptions& options) {
  if (socket.transport == Transport::kTcp) {
    if (socket.state == SocketState::kListen) return SocketRole::kListener;
    if (socket.state == SocketState::kEstablished) return SocketRole::kConnection;
    return SocketRole::kOther;
  }
  if (socket.remote_port != 0) return SocketRole::kConnection;
  return IsUdpListener(socket, index, options) ? SocketRole::kListener : SocketRole::kOther;
}

uint32_t ListenKey(Transport transport, uint16_t port) {
  return (static_cast<uint32_t>(transport) << 16) | port;
}

// One listener's (transport, port, unmapped address).
struct ListenerAddress {
  uint32_t listen_key = 0;
  IpAddress address;
  bool operator==(const ListenerAddress&) const = default;
};

struct ListenerAddressHash {
  size_t operator()(const ListenerAddress& listener) const {
    uint64_t halves[2];
    static_assert(sizeof(halves) == sizeof(listener.address.bytes));
    std::memcpy(halves, listener.address.bytes.data(), sizeof(halves));
    uint64_t seed = (static_cast<uint64_t>(listener.listen_key) << 8) |
                    static_cast<uint64_t>(listener.address.family);
    seed = (seed ^ halves[0]) * 0x9e3779b97f4a7c15ULL;
    seed = (seed ^ halves[1]) * 0xc4ceb9fe1a85ec53ULL;
    return static_cast<size_t>(seed ^ (seed >> 29));
  }
};

// Which local addresses the listeners of each (transport, port) receive connections for.
// A listener bound to a wildcard covers a whole family: a v6 wildcard also takes IPv4 (dual
// stack, unless IPV6_V6ONLY, which sock_diag does not report; accepting is the conservative
// reading for "inbound"), a v4 wildcard IPv4 only; any other covers its own address. Kept as
// sets, not per-port lists: many listeners share one port on different addresses (one per
// container or worker), and a list would be scanned once per connection.
class ListenerIndex {
 public:
  void Add(Transport transport, uint16_t port, const IpAddress& address) {
    uint32_t key = ListenKey(transport, port);
    IpAddress unmapped = UnmapV4(address);
    if (IsUnspecified(unmapped)) {
      (unmapped.family == Family::kIpv6 ? v6_wildcard_ : v4_wildcard_).insert(key);
    } else {
      addresses_.insert({key, unmapped});
    }
  }
  bool Covers(Transport transport, uint16_t port, const IpAddress& local) const {
    uint32_t key = ListenKey(transport, port);
    if (v6_wildcard_.contains(key)) return true;
    IpAddress unmapped = UnmapV4(local);
    if (unmapped.family == Family::kIpv4 && v4_wildcard_.contains(key)) return true;
    return !addresses_.empty() && addresses_.contains({key, unmapped});
  }

 private:
  std::unordered_set<uint32_t> v4_wildcard_, v6_wildcard_;
  std::unordered_set<ListenerAddress, ListenerAddressHash> addresses_;
};

}  // namespace

std::vector<SocketClass> ClassifySockets(const std::vector<Socket>& sockets,
                                         const ClassifyOptions& options,
                                         const ZoneClassifier& zones) {
  std::vector<SocketClass> classes(sockets.size());
  ListenerIndex listeners;
  for (size_t i = 0; i < sockets.size(); ++i) {
    classes[i].role = RoleOf(sockets[i], i, options);
    if (classes[i].role == SocketRole::kListener) {
      listeners.Add(sockets[i].transport, sockets[i].local_port, sockets[i].local);
    }
  }
  for (size_t i = 0; i < sockets.size(); ++i) {
    const Socket& socket = sockets[i];
    if (classes[i].role == SocketRole::kListener || socket.remote_port == 0) continue;
    classes[i].remote_zone = &zones.Classify(socket.remote);
    classes[i].direction = listeners.Covers(socket.transport, socket.local_port, socket.local)
                               ? Direction::kInbound
                               : Direction::kOutbound;
  }
  return classes;
}

const char* RoleName(SocketRole role) {
  constexpr const char* kNames[] = {"listener", "connection", "other"};
  return kNames[static_cast<size_t>(role)];
}

const char* DirectionName(Direction direction) {
  constexpr const char* kNames[] = {"", "inbound", "outbound"};
  return kNames[static_cast<size_t>(direction)];
}

const char* StateName(Transport transport, SocketState state) {
  if (transport == Transport::kUdp) {
    return state == SocketState::kEstablished ? "established" : "unconnected";
  }
  // By kernel state number; request sockets (12) read as syn_recv, as /proc/net/tcp shows them.
  constexpr const char* kTcpNames[] = {
      "unknown", "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
      "close",   "close_wait",  "last_ack", "listen",   "closing",   "syn_recv"};
  static_assert(std::size(kTcpNames) == kMaxSocketState + 1);
  size_t index = static_cast<size_t>(state);
  return index < std::size(kTcpNames) ? kTcpNames[index] : "unknown";
}

}  // namespace connwatch
