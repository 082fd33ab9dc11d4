#include "sources/netlink_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace connwatch {

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

MnlSocketPtr OpenNetlinkSocket(int bus, time_t recv_timeout_seconds, std::string& error) {
  MnlSocketPtr nl(mnl_socket_open2(bus, SOCK_CLOEXEC));
  if (!nl) {
    int saved = errno;
    error = "netlink socket: " + ErrnoText(saved);
    errno = saved;
    return nullptr;
  }
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    int saved = errno;
    error = "netlink bind: " + ErrnoText(saved);
    errno = saved;
    return nullptr;
  }
  timeval timeout{recv_timeout_seconds, 0};
  if (setsockopt(mnl_socket_get_fd(nl.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) <
      0) {
    int saved = errno;
    error = "netlink SO_RCVTIMEO: " + ErrnoText(saved);
    errno = saved;
    return nullptr;
  }
  return nl;
}

uint32_t NextNetlinkSequence() {
  static std::atomic<uint32_t> next{1};
  return next.fetch_add(1);
}

bool RepliesMatch(std::span<const uint8_t> buffer, uint32_t seq, uint32_t portid) {
  size_t offset = 0;
  while (buffer.size() - offset >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, buffer.data() + offset, sizeof(header));
    if (header.nlmsg_seq != seq || header.nlmsg_pid != portid) return false;
    if (header.nlmsg_len < sizeof(nlmsghdr)) break;
    offset += NLMSG_ALIGN(static_cast<size_t>(header.nlmsg_len));
    if (offset > buffer.size()) break;
  }
  return true;
}

bool NextNetlinkMessage(std::span<const uint8_t> buffer, size_t& offset, nlmsghdr& header,
                        std::span<const uint8_t>& payload, uint64_t& malformed) {
  if (offset >= buffer.size()) return false;
  if (buffer.size() - offset < sizeof(header)) {
    ++malformed;  // trailing bytes too short for a header
    return false;
  }
  std::memcpy(&header, buffer.data() + offset, sizeof(header));
  if (header.nlmsg_len < NLMSG_HDRLEN || header.nlmsg_len > buffer.size() - offset) {
    // The length cannot be trusted, so neither can anything after it in this buffer.
    ++malformed;
    return false;
  }
  payload = buffer.subspan(offset + NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
  offset += std::min(NLMSG_ALIGN(static_cast<size_t>(header.nlmsg_len)), buffer.size() - offset);
  return true;
}

int32_t DoneErrno(std::span<const uint8_t> payload) {
  int32_t done_errno = 0;
  if (payload.size() >= sizeof(done_errno)) {
    std::memcpy(&done_errno, payload.data(), sizeof(done_errno));
  }
  return done_errno;
}

}  // namespace connwatch
