// What every netlink dump of connwatch shares (sock_diag, conntrack): a libmnl socket
// opened for one dump, and the check that a reply answers our request.
#pragma once

#include <libmnl/libmnl.h>

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

}  // namespace connwatch
