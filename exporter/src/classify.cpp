#include "classify.h"

#include <unordered_map>

namespace connwatch {
namespace {

bool IsUdpListener(const Socket& socket, const ClassifyOptions& options) {
  if (socket.local_port == 0) return false;  // created but never bound
  if (!options.ephemeral.range.Contains(socket.local_port)) return true;
  return options.ephemeral.reserved.test(socket.local_port) ||
         options.udp_service_ports.test(socket.local_port);
}

SocketRole RoleOf(const Socket& socket, const ClassifyOptions& options) {
  if (socket.transport == Transport::kTcp) {
    if (socket.state == SocketState::kListen) return SocketRole::kListener;
    if (socket.state == SocketState::kEstablished) return SocketRole::kConnection;
    return SocketRole::kOther;
  }
  if (socket.remote_port != 0) return SocketRole::kConnection;
  return IsUdpListener(socket, options) ? SocketRole::kListener : SocketRole::kOther;
}

uint32_t ListenKey(Transport transport, uint16_t port) {
  return (static_cast<uint32_t>(transport) << 16) | port;
}

// Does a listener bound to `listen_address` receive connections addressed to `local`?
// Both are unmapped. A v6 wildcard also takes IPv4 (dual stack, unless IPV6_V6ONLY, which
// sock_diag does not report; accepting is the conservative reading for "inbound").
bool ListenerCovers(const IpAddress& listen_address, const IpAddress& local) {
  if (IsUnspecified(listen_address)) {
    return listen_address.family == Family::kIpv6 || local.family == Family::kIpv4;
  }
  return listen_address == local;
}

}  // namespace

std::vector<SocketClass> ClassifySockets(const std::vector<Socket>& sockets,
                                         const ClassifyOptions& options,
                                         const ZoneClassifier& zones) {
  std::vector<SocketClass> classes(sockets.size());
  std::unordered_map<uint32_t, std::vector<IpAddress>> listeners;
  for (size_t i = 0; i < sockets.size(); ++i) {
    classes[i].role = RoleOf(sockets[i], options);
    if (classes[i].role == SocketRole::kListener) {
      listeners[ListenKey(sockets[i].transport, sockets[i].local_port)].push_back(
          UnmapV4(sockets[i].local));
    }
  }
  for (size_t i = 0; i < sockets.size(); ++i) {
    const Socket& socket = sockets[i];
    if (classes[i].role == SocketRole::kListener || socket.remote_port == 0) continue;
    classes[i].remote_zone = &zones.Classify(socket.remote);
    classes[i].direction = Direction::kOutbound;
    auto it = listeners.find(ListenKey(socket.transport, socket.local_port));
    if (it == listeners.end()) continue;
    IpAddress local = UnmapV4(socket.local);
    for (const IpAddress& listen_address : it->second) {
      if (ListenerCovers(listen_address, local)) {
        classes[i].direction = Direction::kInbound;
        break;
      }
    }
  }
  return classes;
}

const char* RoleName(SocketRole role) {
  switch (role) {
    case SocketRole::kListener:
      return "listener";
    case SocketRole::kConnection:
      return "connection";
    case SocketRole::kOther:
      return "other";
  }
  return "other";
}

const char* DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kInbound:
      return "inbound";
    case Direction::kOutbound:
      return "outbound";
    case Direction::kNone:
      return "";
  }
  return "";
}

const char* StateName(Transport transport, SocketState state) {
  if (transport == Transport::kUdp) {
    return state == SocketState::kEstablished ? "established" : "unconnected";
  }
  switch (state) {
    case SocketState::kEstablished:
      return "established";
    case SocketState::kSynSent:
      return "syn_sent";
    case SocketState::kSynRecv:
    case SocketState::kNewSynRecv:
      return "syn_recv";
    case SocketState::kFinWait1:
      return "fin_wait1";
    case SocketState::kFinWait2:
      return "fin_wait2";
    case SocketState::kTimeWait:
      return "time_wait";
    case SocketState::kClose:
      return "close";
    case SocketState::kCloseWait:
      return "close_wait";
    case SocketState::kLastAck:
      return "last_ack";
    case SocketState::kListen:
      return "listen";
    case SocketState::kClosing:
      return "closing";
    case SocketState::kUnknown:
      break;
  }
  return "unknown";
}

const char* TransportName(Transport transport) {
  return transport == Transport::kTcp ? "tcp" : "udp";
}

const char* FamilyName(Family family) { return family == Family::kIpv4 ? "ipv4" : "ipv6"; }

}  // namespace connwatch
