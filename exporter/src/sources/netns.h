// Network namespaces other than connwatch's own: the pure parts of reading them. Which
// sockets a namespace holds is known from its sockstat files before any dump, and that
// decides how much of the kernel's TCP tables a dump has to walk (sources/netns_registry.h
// does the reading).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model.h"

namespace connwatch {

// The TCP lines of /proc/<pid>/net/sockstat ("TCP: inuse 3 orphan 0 tw 1 alloc 4 mem 1")
// and sockstat6 ("TCP6: inuse 2"), which count per namespace: sockets in the TCP hashes
// (listeners, connections in every state but TIME_WAIT; IPv4 and IPv6 apart) and TIME_WAIT
// entries.
struct SockstatCounts {
  uint64_t tcp_inuse = 0;
  uint64_t tcp6_inuse = 0;
  uint64_t time_wait = 0;

  bool operator==(const SockstatCounts&) const = default;
};

// nullopt when sockstat has no well-formed "TCP:" line with inuse and tw; a sockstat6 text
// without a "TCP6:" line (IPv6 disabled, or "" when unreadable) counts 0 IPv6 sockets.
std::optional<SockstatCounts> ParseSockstat(std::string_view sockstat, std::string_view sockstat6);

// How much TCP a namespace's dump asks for. A dump of every state walks the kernel's whole
// established hash, global to the host and filtered by namespace (~1.6 ms for an empty
// namespace at 262,144 buckets); a dump of listeners walks only the listening hash.
enum class TcpDumpPlan {
  kNone,            // sockstat counts no TCP socket: UDP only
  kListenersFirst,  // dump listeners; all states only when they are not all it holds
  kAll,             // the counts are unknown: every state
};
TcpDumpPlan PlanTcpDump(const std::optional<SockstatCounts>& counts);

// Whether `listeners` TCP listeners (what a listeners-only dump found) are every TCP socket
// the counts know of, so that an all-states dump would find nothing more. Request sockets
// (SYN_RECV) are not counted by sockstat: a namespace of listeners alone does not show its
// half-open connections, which no owner holds anyway.
bool ListenersAreAll(const SockstatCounts& counts, size_t listeners);

// TCP listeners among sockets[from...].
size_t CountTcpListeners(const std::vector<Socket>& sockets, size_t from);

// The TCP counters of /proc/<pid>/net/snmp that move whenever a namespace's set of TCP
// connections does: a connect (ActiveOpens), an accept (PassiveOpens), a failed or reset
// connection, and CurrEstab, which counts ESTABLISHED and CLOSE_WAIT sockets and so moves
// when one closes. Traffic counters (segments) are left out: they move all the time.
struct TcpCounters {
  uint64_t active_opens = 0;
  uint64_t passive_opens = 0;
  uint64_t attempt_fails = 0;
  uint64_t estab_resets = 0;
  uint64_t curr_estab = 0;

  bool operator==(const TcpCounters&) const = default;
};
// nullopt when the "Tcp:" header and value lines are missing or do not parse.
std::optional<TcpCounters> ParseSnmpTcp(std::string_view snmp);

// What says a namespace's TCP connections are the ones of the last dump: no connection was
// opened, failed, reset or closed, and no TIME_WAIT entry came or went (sockstat's counts).
// Listeners are dumped every sample anyway (a listeners-only dump is cheap), since a listener
// closed and another opened would leave every count as it was.
struct TcpSignature {
  SockstatCounts sockstat;
  TcpCounters snmp;

  bool operator==(const TcpSignature&) const = default;
};

// Whether the last dump's connections can stand for this sample's: both signatures known and
// equal, and fewer than `full_every` samples since a dump of every state (which still
// corrects what the counters do not see: an ESTABLISHED socket turned CLOSE_WAIT keeps
// CurrEstab as it was).
bool CanReuseConnections(const std::optional<TcpSignature>& last,
                         const std::optional<TcpSignature>& now, uint32_t samples_since_full,
                         uint32_t full_every);

// The `netns` label of a namespace other than connwatch's own: the pinned name (`ip netns add
// NAME`), else the first 12 characters of the container id of its first process, else
// "inode:<N>".
std::string NetnsLabel(std::string_view pinned_name, std::string_view container_id, uint64_t inode);

// Whether a file name under a pin directory (/run/netns) may name a namespace: what `ip
// netns` accepts (no '/', not "." or "..", at most 255 bytes) and printable ASCII, since it
// becomes a label value as it is.
bool IsPinName(std::string_view name);

}  // namespace connwatch
