#include "sources/netlink_socket.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <vector>

namespace connwatch {
namespace {

// Any number will do: each request has a socket, and so a port id, of its own, or (on a
// namespace's socket, ExchangeNetlinkOn) is read to its end before the next is sent.
constexpr uint32_t kRequestSequence = 1;

// A positive errno from the kernel's negative one; INT_MIN (which has no negation) and
// other nonsense become EINVAL.
int PositiveErrno(int32_t kernel_value) {
  if (kernel_value == INT32_MIN) return EINVAL;
  int error = kernel_value < 0 ? -kernel_value : kernel_value;
  return error == 0 ? EINVAL : error;
}

// A message's length padded to NLMSG_ALIGNTO, at most what is left of the buffer. In size_t:
// NLMSG_ALIGN's 32-bit mask would wrap a length near UINT32_MAX and the walk would loop.
size_t AlignedLength(size_t length, size_t left) {
  size_t aligned = (length + NLMSG_ALIGNTO - 1) & ~static_cast<size_t>(NLMSG_ALIGNTO - 1);
  return std::min(aligned, left);
}

int32_t LeadingInt32(std::span<const uint8_t> payload) {
  int32_t value = 0;
  std::memcpy(&value, payload.data(), sizeof(value));
  return value;
}

}  // namespace

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

MnlSocketPtr OpenNetlinkSocket(int bus, time_t recv_timeout_seconds, std::string& error) {
  auto fail = [&error](const char* step) {
    int saved = errno;
    error = std::string(step) + ErrnoText(saved);
    errno = saved;
    return MnlSocketPtr();
  };
  MnlSocketPtr nl(mnl_socket_open2(bus, SOCK_CLOEXEC));
  if (!nl) return fail("netlink socket: ");
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return fail("netlink bind: ");
  timeval timeout{recv_timeout_seconds, 0};
  if (setsockopt(mnl_socket_get_fd(nl.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) <
      0) {
    return fail("netlink SO_RCVTIMEO: ");
  }
  return nl;
}

bool ExchangeNetlink(int bus, nlmsghdr& request, size_t buffer_bytes,
                     const std::function<ReplyAction(std::span<const uint8_t>)>& on_reply,
                     std::string& error, int* open_errno) {
  MnlSocketPtr nl = OpenNetlinkSocket(bus, kNetlinkReceiveTimeoutSeconds, error);
  if (!nl) {
    if (open_errno != nullptr) *open_errno = errno;
    return false;
  }
  return ExchangeNetlinkOn(*nl, request, buffer_bytes, on_reply, error);
}

bool ExchangeNetlinkOn(mnl_socket& nl, nlmsghdr& request, size_t buffer_bytes,
                       const std::function<ReplyAction(std::span<const uint8_t>)>& on_reply,
                       std::string& error) {
  const uint32_t portid = mnl_socket_get_portid(&nl);
  request.nlmsg_seq = kRequestSequence;
  if (mnl_socket_sendto(&nl, &request, request.nlmsg_len) < 0) {
    error = "netlink send: " + ErrnoText(errno);
    return false;
  }
  std::vector<uint8_t> buffer(buffer_bytes);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(&nl, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? "netlink recv: " + ErrnoText(errno)
                    : "netlink recv: connection closed before the reply ended";
      return false;
    }
    std::span<const uint8_t> reply(buffer.data(), static_cast<size_t>(n));
    if (!RepliesMatch(reply, kRequestSequence, portid)) {
      error = "netlink reply with an unexpected sequence number or port id";
      return false;
    }
    if (on_reply(reply) == ReplyAction::kFinished) return true;
  }
}

bool EndsDump(std::span<const uint8_t> buffer) {
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  uint64_t malformed = 0;
  while (NextNetlinkMessage(buffer, offset, header, payload, malformed)) {
    if (header.nlmsg_type == NLMSG_DONE || header.nlmsg_type == NLMSG_ERROR) return true;
  }
  return false;
}

bool RepliesMatch(std::span<const uint8_t> buffer, uint32_t seq, uint32_t portid) {
  // Headers only, on every reply buffer: a plain walk, stopping where a length cannot be
  // trusted (the parsers count that).
  size_t offset = 0;
  while (buffer.size() - offset >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, buffer.data() + offset, sizeof(header));
    size_t length = header.nlmsg_len;
    // A header whose length cannot be is not a message: nothing of it is believed.
    if (length < NLMSG_HDRLEN || length > buffer.size() - offset) break;
    if (header.nlmsg_seq != seq || header.nlmsg_pid != portid) return false;
    offset += AlignedLength(length, buffer.size() - offset);
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
  size_t length = header.nlmsg_len;
  if (length < NLMSG_HDRLEN || length > buffer.size() - offset) {
    // The length cannot be trusted, so neither can anything after it in this buffer.
    ++malformed;
    return false;
  }
  payload = buffer.subspan(offset + NLMSG_HDRLEN, length - NLMSG_HDRLEN);
  offset += AlignedLength(length, buffer.size() - offset);
  return true;
}

ControlMessage ReadControlMessage(const nlmsghdr& header, std::span<const uint8_t> payload,
                                  int& error, uint64_t& malformed) {
  switch (header.nlmsg_type) {
    case NLMSG_NOOP:
      return ControlMessage::kNoop;
    case NLMSG_DONE: {
      int32_t done_errno = payload.size() >= sizeof(int32_t) ? LeadingInt32(payload) : 0;
      if (done_errno >= 0) return ControlMessage::kDone;
      error = PositiveErrno(done_errno);
      return ControlMessage::kError;
    }
    case NLMSG_ERROR: {
      // struct nlmsgerr: the errno, then the echoed request (not needed).
      if (payload.size() < sizeof(int32_t)) {
        ++malformed;  // we cannot tell what went wrong, only that the request ended
        error = EBADMSG;
        return ControlMessage::kError;
      }
      int32_t err = LeadingInt32(payload);
      if (err == 0) return ControlMessage::kDone;
      error = PositiveErrno(err);
      return ControlMessage::kError;
    }
    case NLMSG_OVERRUN:
      error = ENOBUFS;
      return ControlMessage::kError;
    default:
      return ControlMessage::kData;
  }
}

}  // namespace connwatch
