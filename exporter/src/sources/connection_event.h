// One TCP connection that ended: what an event source (sources/bpf_events.h for eBPF,
// sources/sock_destroy.h for sock_diag destroy notifications) saw when its socket closed.
// Connections that open and close between two samples are only ever seen this way.
// And InboundProbe, a connection attempt that found no socket at all.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "net/ip_address.h"

namespace connwatch {

enum class EventOutcome : uint8_t {
  kEstablished,  // reached ESTABLISHED at some point
  kFailed,       // closed from SYN_SENT (refused, reset, timed out) or SYN_RECV
};

enum class EventDirection : uint8_t {
  kUnknown,   // the source cannot tell (sock_diag: the consumer looks for a listener)
  kOutbound,  // connect()ed
  kInbound,   // accepted by a listener
};

struct ConnectionEvent {
  Family family = Family::kIpv4;
  IpAddress local;
  uint16_t local_port = 0;
  IpAddress remote;
  // 0 when the kernel had already forgotten it (sock_diag: a reset or refused connect).
  uint16_t remote_port = 0;
  uint64_t cookie = 0;       // the socket cookie (SO_COOKIE, sock_diag's idiag_cookie)
  uint64_t netns_inode = 0;  // the socket's network namespace (ns/net inode); 0 unknown
  // cgroup v2 id of the process that connect()ed (eBPF) or that made the socket (sock_diag;
  // an accepted socket's is its listener's); 0 unknown.
  uint64_t cgroup_id = 0;
  // The process that connect()ed (tgid) and its comm; 0 and "" when unknown. Never set for
  // passive opens: the kernel accepts in softirq context, where the current task is
  // arbitrary; the consumer attributes them to the listener's owner.
  pid_t pid = 0;
  std::string comm;  // attacker-controlled bytes, up to 15
  EventDirection direction = EventDirection::kUnknown;
  EventOutcome outcome = EventOutcome::kEstablished;
  // CLOCK_BOOTTIME seconds at connect() (outbound) or at ESTABLISHED (inbound); 0 when the
  // source did not see the start (the connection predates it, or sock_diag).
  double start_boot_seconds = 0;
  double end_boot_seconds = 0;  // CLOCK_BOOTTIME seconds at close; 0 when unknown
  // tcp_info's bytes_acked and bytes_received at close (each counts the SYN or FIN as 1).
  bool has_bytes = false;
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;
};

// A SYN to a port nobody listens on, which the kernel answered with a reset: no socket ever
// existed, so only the eBPF source sees it (its tcp_send_reset program); sock_diag has no
// notification for a segment that found no socket. Local is the SYN's destination, remote
// its source (spoofable: a SYN needs no handshake).
struct InboundProbe {
  Family family = Family::kIpv4;
  IpAddress local;
  uint16_t local_port = 0;
  IpAddress remote;
  uint16_t remote_port = 0;
  uint64_t netns_inode = 0;  // the namespace of the device that received it; 0 unknown
  double boot_seconds = 0;   // CLOCK_BOOTTIME seconds when the reset was sent
};

// The fields a socket (model.h) and its close record share, copied from one to the other:
// Socket to ConnectionEvent for a destroy notification (sock_destroy), back to a Socket for
// a closed connection judged like a live one (tracking/closed_connections). One list, so
// the two directions cannot drift apart.
template <typename From, typename To>
void CopySharedConnectionFields(const From& from, To& to) {
  to.family = from.family;
  to.local = from.local;
  to.local_port = from.local_port;
  to.remote = from.remote;
  to.remote_port = from.remote_port;
  to.cookie = from.cookie;
  to.cgroup_id = from.cgroup_id;  // the connecting process's or the socket creator's
  to.has_bytes = from.has_bytes;
  to.bytes_acked = from.bytes_acked;
  to.bytes_received = from.bytes_received;
}

}  // namespace connwatch
