#include "sources/sock_destroy.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include "model.h"
#include "sources/sock_diag.h"

namespace connwatch {
namespace {

// 8 MiB holds ~8,000 notifications (each skb's truesize is about 1 KiB): 0.4 s at 20,000
// closes a second, far more than the event thread's 100 ms between reads.
constexpr int kReceiveBufferBytes = 8 << 20;

// Whether the handshake completed. tcp_info's delivered counts the SYN (connecting end) or
// the SYN-ACK (accepted end) once the peer acknowledged it; bytes_acked counts only the
// SYN, so an accepted connection that sent nothing has 0 there and was taken for a failed
// connect, and never counted. Before Linux 4.18 (no delivered) the bytes are all there is.
bool Established(const Socket& socket, std::span<const uint8_t> payload) {
  if (!socket.has_bytes) return true;  // nothing says it failed
  uint32_t delivered = 0;
  if (ParseTcpInfoDelivered(DiagAttribute(payload, INET_DIAG_INFO), delivered) && delivered > 0) {
    return true;
  }
  return socket.bytes_acked > 0 || socket.bytes_received > 0;
}

bool ToEvent(const Socket& socket, bool established, ConnectionEvent& event) {
  if (socket.state == SocketState::kListen || IsUnspecified(socket.remote)) return false;
  CopySharedConnectionFields(socket, event);
  event.outcome = established ? EventOutcome::kEstablished : EventOutcome::kFailed;
  return true;
}

}  // namespace

void ParseDestroyNotifications(std::span<const uint8_t> buffer, uint64_t netns_inode,
                               double end_boot_seconds, std::vector<ConnectionEvent>& out,
                               DestroyStats& stats) {
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  while (NextNetlinkMessage(buffer, offset, header, payload, stats.malformed_messages)) {
    if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY) {
      if (header.nlmsg_type >= NLMSG_MIN_TYPE) ++stats.malformed_messages;
      continue;
    }
    Socket socket;
    if (!ParseInetDiagMsg(payload, Transport::kTcp, socket)) {
      ++stats.malformed_messages;
      continue;
    }
    ParseDiagAttributes(payload, socket);
    ConnectionEvent event;
    if (!ToEvent(socket, Established(socket, payload), event)) continue;
    event.netns_inode = netns_inode;
    event.end_boot_seconds = end_boot_seconds;
    out.push_back(std::move(event));
  }
}

MnlSocketPtr OpenDestroySubscriber(std::string& error) {
  MnlSocketPtr socket(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!socket) {
    error = "netlink socket: " + ErrnoText(errno);
    return nullptr;
  }
  // Group N is bit N-1 of the bind mask.
  unsigned groups =
      (1u << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1u << (SKNLGRP_INET6_TCP_DESTROY - 1));
  if (mnl_socket_bind(socket.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
    error = "netlink bind to the destroy groups: " + ErrnoText(errno);
    return nullptr;
  }
  int fd = mnl_socket_get_fd(socket.get());
  int bytes = kReceiveBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));  // capped by rmem_max
  }
  return socket;
}

void ReadDestroyNotifications(mnl_socket& subscriber, uint64_t netns_inode, double now_boot_seconds,
                              std::vector<ConnectionEvent>& out, DestroyStats& stats) {
  // Each notification is one message of ~400 bytes; a datagram holds one skb.
  std::vector<uint8_t> buffer(kNetlinkDumpBufferBytes);
  // Bounded: a flood is read in later rounds rather than holding the event thread here.
  for (int round = 0; round < 100000; ++round) {
    ssize_t got = recv(mnl_socket_get_fd(&subscriber), buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == ENOBUFS) {
        ++stats.overruns;
        continue;
      }
      return;  // EAGAIN: all read
    }
    ParseDestroyNotifications(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(got)),
                              netns_inode, now_boot_seconds, out, stats);
  }
}

}  // namespace connwatch
