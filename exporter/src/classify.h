// What each socket is for the analysis: a listener, a connection (with its direction and
// the zone of its peer), or neither. Pure: the inputs are the socket table and the port
// facts; no I/O.
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "net/ports.h"
#include "net/zones.h"

namespace connwatch {

enum class SocketRole : uint8_t {
  kListener,    // TCP LISTEN, or an unconnected UDP socket serving a port (see below)
  kConnection,  // TCP ESTABLISHED, or a connected UDP socket
  kOther,       // every other TCP state, unbound or client-side unconnected UDP sockets
};

enum class Direction : uint8_t { kNone, kInbound, kOutbound };

struct SocketClass {
  SocketRole role = SocketRole::kOther;
  // For sockets with a peer (remote port != 0), listeners excluded.
  Direction direction = Direction::kNone;
  const std::string* remote_zone = nullptr;  // owned by the ZoneClassifier; null without a peer
};

struct ClassifyOptions {
  EphemeralPorts ephemeral;
  // UDP ports declared as services (by the policy); such a socket is a listener even
  // inside the ephemeral range.
  PortSet udp_service_ports;
  // Parallel to the sockets (empty: none): the unconnected sockets inside the ephemeral
  // range that have been held long enough to be servers (sources/udp_server_tracker.h).
  std::vector<bool> udp_held;
};

// The UDP rule: an unconnected UDP socket bound to port P is a listener unless P lies in
// the ephemeral range and is neither reserved (ip_local_reserved_ports), nor a declared
// service port, nor held (udp_held). Inside the range, the kernel's autobind or a client's
// bind(0) may have chosen the port for a client waiting for replies (DNS resolvers, NTP
// clients); a socket that stays bound across samples is serving it.
//
// Direction: a socket with a peer is inbound when its local port is a listening port of
// the same transport on the same local address or a wildcard address (0.0.0.0 for IPv4
// locals, :: for any), otherwise outbound. The snapshot is one network namespace.
std::vector<SocketClass> ClassifySockets(const std::vector<Socket>& sockets,
                                         const ClassifyOptions& options,
                                         const ZoneClassifier& zones);

const char* RoleName(SocketRole role);
const char* DirectionName(Direction direction);  // "" for kNone
const char* StateName(Transport transport, SocketState state);

}  // namespace connwatch
