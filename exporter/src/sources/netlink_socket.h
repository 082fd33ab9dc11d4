// What every netlink dump of connwatch shares (sock_diag, conntrack): a libmnl socket
// opened for one dump, and the check that a reply answers our request.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>

namespace connwatch {

struct MnlSocketCloser {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocketPtr = std::unique_ptr<mnl_socket, MnlSocketCloser>;

std::string ErrnoText(int err);

// Opens and binds (kernel-chosen port id) a `bus` socket whose receives time out after
// `recv_timeout_seconds`, so a dump that never ends cannot hang a sample. nullptr with
// `error` ("netlink socket: …") and errno kept on failure.
MnlSocketPtr OpenNetlinkSocket(int bus, time_t recv_timeout_seconds, std::string& error);

// A sequence number no other request of this process uses.
uint32_t NextNetlinkSequence();

// Every message of a reply must answer our request: our sequence number, our port id.
// Walks headers only; the parsers judge the rest.
bool RepliesMatch(std::span<const uint8_t> buffer, uint32_t seq, uint32_t portid);

// Steps to the next message of a recv() buffer: its header and payload, and `offset` past
// it. Returns false at the end of the buffer, or when the rest cannot be trusted (a short
// tail or a bad length, counted in `malformed`). Headers are copied out, not cast:
// captured or synthetic buffers need not be aligned.
bool NextNetlinkMessage(std::span<const uint8_t> buffer, size_t& offset, nlmsghdr& header,
                        std::span<const uint8_t>& payload, uint64_t& malformed);

// NLMSG_DONE's payload: since Linux 4.x an error inside the dump callback arrives there as a
// negative errno instead of an NLMSG_ERROR. 0 when the dump ended cleanly.
int32_t DoneErrno(std::span<const uint8_t> payload);

}  // namespace connwatch
