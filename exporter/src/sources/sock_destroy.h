// sock_diag destroy notifications (NETLINK_SOCK_DIAG multicast groups
// SKNLGRP_INET_TCP_DESTROY and SKNLGRP_INET6_TCP_DESTROY, Linux 4.2): the kernel sends one
// SOCK_DIAG_BY_FAMILY message when a TCP socket of the subscriber's network namespace is
// freed, with its tuple, its cookie and its final tcp_info. Subscribing needs no privilege.
//
// What the message lacks, and what that costs: no pid, uid, inode or cgroup (the consumer
// attributes by a cookie seen in an earlier sample, else by the listener of the local
// port); after a reset or a refused connect the source address is 0.0.0.0 and the peer port
// 0; no start time. Whether the connection was established is told by tcp_info: delivered
// counts the handshake's SYN or SYN-ACK once acknowledged, so it is at least 1 on both ends
// of an established connection and 0 for a connect that never got an answer (kernels
// before 4.18 lack it: then bytes_acked, which counts the connecting end's SYN only).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sources/connection_event.h"
#include "sources/netlink_socket.h"

namespace connwatch {

struct DestroyStats {
  uint64_t malformed_messages = 0;
  // recv() said ENOBUFS: the socket's receive buffer overflowed and the kernel dropped
  // notifications (how many, it does not say).
  uint64_t overruns = 0;
};

// Pure: the TCP connections of one datagram of destroy notifications. Listeners and sockets
// that never had a peer are skipped. Each event gets `netns_inode` and `end_boot_seconds`.
void ParseDestroyNotifications(std::span<const uint8_t> buffer, uint64_t netns_inode,
                               double end_boot_seconds, std::vector<ConnectionEvent>& out,
                               DestroyStats& stats);

// A non-blocking subscriber to the TCP destroy groups of the calling thread's network
// namespace, with a large receive buffer (SO_RCVBUFFORCE, which needs CAP_NET_ADMIN, else
// the largest SO_RCVBUF allows). nullptr with `error` when netlink refuses.
MnlSocketPtr OpenDestroySubscriber(std::string& error);

// Reads every notification queued on `subscriber` without blocking.
void ReadDestroyNotifications(mnl_socket& subscriber, uint64_t netns_inode, double now_boot_seconds,
                              std::vector<ConnectionEvent>& out, DestroyStats& stats);

}  // namespace connwatch
