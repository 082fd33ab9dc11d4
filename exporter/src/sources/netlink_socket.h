// What every netlink request of connwatch shares (sock_diag dumps and lookups, the conntrack
// dump): one request on a fresh libmnl socket, its replies received into one buffer and
// checked to answer it, and the control messages that end or break a dump.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace connwatch {

// The kernel caps a dump skb at 32 KiB (netlink_dump(), max_recvmsg_len); twice that leaves
// margin for kernels that change the cap, and a short buffer is still detected (MSG_TRUNC ->
// ENOSPC from mnl_socket_recvfrom) rather than silently losing messages.
inline constexpr size_t kNetlinkDumpBufferBytes = 64u << 10;
// A dump always ends with NLMSG_DONE; the timeout only keeps a sample from hanging if that
// ever fails to arrive.
inline constexpr time_t kNetlinkReceiveTimeoutSeconds = 10;

struct MnlSocketCloser {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocketPtr = std::unique_ptr<mnl_socket, MnlSocketCloser>;

std::string ErrnoText(int err);

// Opens and binds (kernel-chosen port id) a `bus` socket whose receives time out after
// `recv_timeout_seconds`. nullptr with `error` ("netlink socket: …") and errno kept on failure.
MnlSocketPtr OpenNetlinkSocket(int bus, time_t recv_timeout_seconds, std::string& error);

enum class ReplyAction { kReadMore, kFinished };

// Sends `request` (its nlmsg_seq is set here) on a fresh `bus` socket and hands each recv()
// buffer of the answer to `on_reply` until it returns kFinished. A fresh socket per request:
// an interrupted dump never has to be drained (the kernel refuses a new dump with EBUSY while
// one runs) and no reply to an earlier request can be taken for this one, so one fixed
// sequence number serves every request. False with `error` ("netlink socket: …", "netlink
// send: …", "netlink recv: …") when the socket cannot be opened (`open_errno` says why),
// sending or receiving fails, the kernel closes the socket first, or a reply answers
// another request.
bool ExchangeNetlink(int bus, nlmsghdr& request, size_t buffer_bytes,
                     const std::function<ReplyAction(std::span<const uint8_t>)>& on_reply,
                     std::string& error, int* open_errno = nullptr);

// The same on a socket that outlives the request: one created inside another network
// namespace (sources/netns_registry.h), whose requests answer for that namespace. The
// caller reads every reply to its end (a dump to NLMSG_DONE) before the next request, and
// closes the socket after any failure, so no reply is ever taken for another request's.
bool ExchangeNetlinkOn(mnl_socket& socket, nlmsghdr& request, size_t buffer_bytes,
                       const std::function<ReplyAction(std::span<const uint8_t>)>& on_reply,
                       std::string& error);

// Whether a reply buffer holds the message that ends a dump (NLMSG_DONE, or an NLMSG_ERROR).
bool EndsDump(std::span<const uint8_t> buffer);

// Every message of a reply must answer our request: our sequence number, our port id.
// Walks headers only; the parsers judge the rest.
bool RepliesMatch(std::span<const uint8_t> buffer, uint32_t seq, uint32_t portid);

// Steps to the next message of a recv() buffer: its header and payload, and `offset` past
// it. Returns false at the end of the buffer, or when the rest cannot be trusted (a short
// tail or a bad length, counted in `malformed`). Headers are copied out, not cast:
// captured or synthetic buffers need not be aligned.
bool NextNetlinkMessage(std::span<const uint8_t> buffer, size_t& offset, nlmsghdr& header,
                        std::span<const uint8_t>& payload, uint64_t& malformed);

// The control messages of a dump, as every parser reads them. Their types are the ones below
// NLMSG_MIN_TYPE: a parser can tell its data messages without asking.
enum class ControlMessage {
  kData,   // not a control message: the parser's own
  kNoop,   // NLMSG_NOOP: skip
  kDone,   // NLMSG_DONE, or NLMSG_ERROR 0 (an acknowledgement): the request is complete
  kError,  // an errno (in `error`) ended the request
};
// NLMSG_DONE carries an errno since Linux 4.x when the dump callback failed; NLMSG_ERROR
// starts with one (a negative errno, or 0 for an acknowledgement); NLMSG_OVERRUN means
// ENOBUFS; an NLMSG_ERROR too short for its errno is EBADMSG (and counted in `malformed`).
// `error` is always a positive errno.
ControlMessage ReadControlMessage(const nlmsghdr& header, std::span<const uint8_t> payload,
                                  int& error, uint64_t& malformed);

}  // namespace connwatch
