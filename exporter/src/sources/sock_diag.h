// NETLINK_SOCK_DIAG (inet_diag, linux/inet_diag.h): the primary socket source. One dump
// request for TCP of both families (the compat request) and one per family for UDP;
// replies are parsed by pure functions so tests can feed synthetic or captured messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model.h"

struct mnl_socket;

namespace connwatch {

// The TCP states a dump asks for (idiag_states: bit N is kernel state N). Every state, or
// listeners alone: the kernel then never walks its established hash, which costs ~1.6 ms
// even in an empty namespace (the hash is global, filtered by namespace).
inline constexpr uint32_t kAllTcpStates = ~0u;
inline constexpr uint32_t kListenTcpState = 1u << 10;  // TCPF_LISTEN

enum class DumpStatus {
  kMore,         // buffer parsed, the dump continues
  kDone,         // NLMSG_DONE seen
  kError,        // NLMSG_ERROR with a non-zero errno (in `error`), or a malformed message
  kInterrupted,  // NLM_F_DUMP_INTR: the socket table changed during the dump; retry
};

struct SockDiagStats {
  uint64_t malformed_messages = 0;
  uint64_t dump_retries = 0;  // dumps restarted after NLM_F_DUMP_INTR
};

// One inet_diag_msg (the payload of a SOCK_DIAG_BY_FAMILY message): sets every field the
// message has (addresses, ports, state, inode, uid, cookie). False when it is too short or
// of another family.
bool ParseInetDiagMsg(std::span<const uint8_t> payload, Transport transport, Socket& socket);

// Pure parser over one recv() buffer of netlink messages answering an inet_diag dump for
// `transport`. Appends sockets; sets `error` (an errno) on kError.
DumpStatus ParseSockDiagReply(std::span<const uint8_t> buffer, Transport transport,
                              std::vector<Socket>& out, SockDiagStats& stats, int& error);

// Dumps TCP (all states) and UDP for IPv4 and IPv6 from the caller's network namespace.
// Returns false with `error` set when netlink is unusable or a dump fails after retries.
// TCP comes from one compat dump of both families (DumpTcpBothFamilies) unless the kernel
// refuses that request; then, as for UDP, from one dump per family.
bool DumpSockDiag(std::vector<Socket>& out, SockDiagStats& stats, std::string& error);

// The same from the namespace `socket` was created in (sources/netns_registry.h), with TCP
// limited to `tcp_states` (0: no TCP dump at all). Every dump is read to its end, so the
// socket serves the next sample; the caller closes it after a failure.
// `tcp_info` asks the kernel for every TCP socket's tcp_info (INET_DIAG_INFO) and fills
// Socket::bytes_*: about three times the bytes per socket.
bool DumpSockDiagOn(mnl_socket& socket, uint32_t tcp_states, std::vector<Socket>& out,
                    SockDiagStats& stats, std::string& error, bool tcp_info = false);

// DumpSockDiag with every TCP socket's tcp_info (the bytes of live connections).
bool DumpSockDiagWithBytes(std::vector<Socket>& out, SockDiagStats& stats, std::string& error);

// The byte counters of a tcp_info attribute as the kernel sent it: its length varies with
// the kernel (Debian 12's headers know 232 bytes, 6.18 sends 280); what is missing is 0.
// False when it is too short to hold them.
bool ParseTcpInfoBytes(std::span<const uint8_t> attribute, uint64_t& bytes_acked,
                       uint64_t& bytes_received);
// tcp_info's delivered (Linux 4.18): segments the peer acknowledged, the handshake's SYN
// or SYN-ACK included. False when the attribute is too short to hold it (older kernels).
bool ParseTcpInfoDelivered(std::span<const uint8_t> attribute, uint32_t& delivered);
// The first attribute of type `wanted` after the inet_diag_msg in `payload` (its value,
// without the header); empty when there is none or the attributes are malformed before it.
std::span<const uint8_t> DiagAttribute(std::span<const uint8_t> payload, uint16_t wanted);
// The attributes that follow an inet_diag_msg in `payload`: fills the socket's bytes from
// INET_DIAG_INFO and its cgroup_id from INET_DIAG_CGROUP_ID when present.
void ParseDiagAttributes(std::span<const uint8_t> payload, Socket& socket);

// How DumpSockDiagWith dumps TCP: kAuto as DumpSockDiag does; the other two force one way
// (tests compare them; kCompatTcp fails instead of falling back).
enum class DumpMethod { kAuto, kCompatTcp, kPerFamily };
bool DumpSockDiagWith(DumpMethod method, std::vector<Socket>& out, SockDiagStats& stats,
                      std::string& error);

// TCP sockets of both families in one walk of the kernel's TCP tables: the TCPDIAG_GETSOCK
// request, which the kernel runs for AF_UNSPEC. `kernel_errno` is set when the kernel
// refused the request (see CompatDumpRefused).
bool DumpTcpBothFamilies(std::vector<Socket>& out, SockDiagStats& stats, std::string& error,
                         int& kernel_errno,
                         std::vector<std::vector<uint8_t>>* raw_buffers = nullptr);

// Whether an errno answering the compat request means "this kernel does not do it" (then
// the per-family requests are used), rather than a failure of the dump.
bool CompatDumpRefused(int kernel_errno);

// One of DumpSockDiag's four dumps (one request on a fresh netlink socket, restarted on
// NLM_F_DUMP_INTR). When `raw_buffers` is set it receives the recv() buffers of the attempt
// that succeeded, as received: tests/fixtures/capture_sock_diag.cpp records them.
bool DumpSockDiagTable(Family family, Transport transport, std::vector<Socket>& out,
                       SockDiagStats& stats, std::string& error,
                       std::vector<std::vector<uint8_t>>* raw_buffers = nullptr);

// Asks the kernel about one socket of an earlier dump (an exact lookup by addresses, ports
// and cookie, not a dump). kOpen: it still exists and `inode` is its inode now (0 once its
// last fd was closed); kGone: no such socket any more (ENOENT, or ESTALE when the tuple now
// belongs to another socket); kUnknown: the question could not be answered.
enum class SocketLookup { kOpen, kGone, kUnknown };
SocketLookup LookUpSockDiag(const Socket& socket, uint64_t& inode);
// The same in the namespace `socket` was created in.
SocketLookup LookUpSockDiagOn(mnl_socket& socket, const Socket& lookup, uint64_t& inode);
// LookUpSockDiag, or what a test puts in its place.
using SockDiagLookup = std::function<SocketLookup(const Socket&, uint64_t&)>;

}  // namespace connwatch
