#include "sources/sock_diag.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>

#include "sources/netlink_socket.h"

namespace connwatch {
namespace {

constexpr size_t kSockDiagRequestSize = NLMSG_SPACE(sizeof(inet_diag_req_v2));
constexpr size_t kCompatRequestSize = NLMSG_SPACE(sizeof(inet_diag_req));
constexpr size_t kRequestBufferSize = std::max(kSockDiagRequestSize, kCompatRequestSize);

// Writes a SOCK_DIAG_BY_FAMILY request for every state (TIME_WAIT and request sockets
// included: the bit for TCP_SYN_RECV also selects TCP_NEW_SYN_RECV in inet_diag_dump_icsk())
// into `buffer` (kSockDiagRequestSize zeroed bytes); the caller fills in the socket id for a
// lookup.
inet_diag_req_v2* PutSockDiagRequest(uint8_t* buffer, uint16_t flags, Family family,
                                     Transport transport, nlmsghdr*& nlh,
                                     uint32_t states = kAllTcpStates) {
  nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = flags;
  auto* req =
      static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
  req->sdiag_family = family == Family::kIpv4 ? AF_INET : AF_INET6;
  req->sdiag_protocol = transport == Transport::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
  req->idiag_states = states;
  return req;
}

// The pre-3.3 TCPDIAG_GETSOCK dump request, every state, into `buffer` (kCompatRequestSize
// zeroed bytes). Its one advantage: the kernel runs it with sdiag_family AF_UNSPEC
// (inet_diag_dump_compat()), so one walk of the TCP hash tables returns IPv4 and IPv6
// sockets. A SOCK_DIAG_BY_FAMILY dump names one family, and the AF_INET6 dump walks every
// IPv4 socket too only to skip it: ~23 ms of a 50k-connection sample.
void PutCompatTcpDumpRequest(uint8_t* buffer, nlmsghdr*& nlh, uint32_t states, uint8_t ext) {
  nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = TCPDIAG_GETSOCK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* req = static_cast<inet_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req)));
  req->idiag_family = AF_INET;  // ignored by the kernel for a dump
  req->idiag_states = states;
  req->idiag_ext = ext;
}

// What one dump asks for: one family (SOCK_DIAG_BY_FAMILY), or TCP of both families in one
// walk (the compat request).
struct DumpTarget {
  Transport transport;
  std::optional<Family> family;  // nullopt: both families, TCP only
  uint32_t states = kAllTcpStates;
  bool tcp_info = false;  // idiag_ext INET_DIAG_INFO (TCP only)
  // A namespace's socket (DumpSockDiagOn), read to the end of every dump; null: a fresh one.
  mnl_socket* socket = nullptr;

  const char* Name() const {
    if (!family) return "tcp";
    if (transport == Transport::kTcp) return *family == Family::kIpv4 ? "tcp4" : "tcp6";
    return *family == Family::kIpv4 ? "udp4" : "udp6";
  }
};

// NLM_F_DUMP_INTR means the table changed under the dump; on a busy host a second or
// third attempt usually sees a quiet moment, and a scrape must not loop forever.
constexpr int kMaxDumpRetries = 3;
// Kernel state numbers (include/net/tcp_states.h). Request sockets live in the kernel as
// TCP_NEW_SYN_RECV (12), which /proc/net/tcp prints as 03 (and current kernels also
// report as TCP_SYN_RECV over sock_diag); fold 12 into 3 so both sources agree.
SocketState StateFromKernel(uint8_t value) {
  if (value == static_cast<uint8_t>(SocketState::kNewSynRecv)) return SocketState::kSynRecv;
  if (value == 0 || value > kMaxSocketState) return SocketState::kUnknown;
  return static_cast<SocketState>(value);
}

// inet_diag_msg carries addresses as __be32[4], i.e. already in network byte order in
// memory; IPv4 uses only the first word. Ports are __be16 and converted to host order.
// `socket` is a default one; every field the message has is set.
}  // namespace

bool ParseInetDiagMsg(std::span<const uint8_t> payload, Transport transport, Socket& socket) {
  inet_diag_msg msg;
  if (payload.size() < sizeof(msg)) return false;
  // memcpy: the payload of a captured or synthetic buffer need not be aligned.
  std::memcpy(&msg, payload.data(), sizeof(msg));
  socket.transport = transport;
  size_t address_bytes = 0;
  switch (msg.idiag_family) {
    case AF_INET:
      socket.family = Family::kIpv4;
      address_bytes = 4;
      break;
    case AF_INET6:
      socket.family = Family::kIpv6;
      address_bytes = 16;
      break;
    default:
      return false;
  }
  socket.local.family = socket.family;
  socket.remote.family = socket.family;
  std::memcpy(socket.local.bytes.data(), msg.id.idiag_src, address_bytes);
  std::memcpy(socket.remote.bytes.data(), msg.id.idiag_dst, address_bytes);
  socket.local_port = ntohs(msg.id.idiag_sport);
  socket.remote_port = ntohs(msg.id.idiag_dport);
  socket.state = StateFromKernel(msg.idiag_state);
  // idiag_inode is 32 bits; sockfs inode numbers come from get_next_ino(), also 32 bits,
  // so nothing is lost against the %lu in /proc/net/tcp.
  socket.inode = msg.idiag_inode;
  socket.uid = msg.idiag_uid;
  // sock_diag_save_cookie() stores the low word first.
  socket.cookie = static_cast<uint64_t>(msg.id.idiag_cookie[0]) |
                  static_cast<uint64_t>(msg.id.idiag_cookie[1]) << 32;
  return true;
}

namespace {

enum class AttemptResult { kOk, kInterrupted, kFailed };

// One dump request (netlink_socket.h: on a fresh socket, so an interrupted attempt leaves
// nothing behind). `kernel_errno` is the errno the kernel answered with, when it refused.
AttemptResult DumpOnce(const DumpTarget& target, std::vector<Socket>& out, SockDiagStats& stats,
                       std::string& error, int& kernel_errno,
                       std::vector<std::vector<uint8_t>>* raw_buffers) {
  alignas(nlmsghdr) uint8_t request[kRequestBufferSize] = {};
  nlmsghdr* nlh = nullptr;
  // INET_DIAG_INFO is attribute 2, asked for by bit 1 of idiag_ext.
  uint8_t ext =
      target.tcp_info && target.transport == Transport::kTcp ? 1u << (INET_DIAG_INFO - 1) : 0;
  if (target.family) {
    PutSockDiagRequest(request, NLM_F_REQUEST | NLM_F_DUMP, *target.family, target.transport, nlh,
                       target.states)
        ->idiag_ext = ext;
  } else {
    PutCompatTcpDumpRequest(request, nlh, target.states, ext);
  }
  DumpStatus status = DumpStatus::kMore;
  bool interrupted = false;
  int err = 0;
  auto on_reply = [&](std::span<const uint8_t> reply) {
    if (raw_buffers != nullptr) raw_buffers->emplace_back(reply.begin(), reply.end());
    status = ParseSockDiagReply(reply, target.transport, out, stats, err);
    if (status == DumpStatus::kInterrupted) interrupted = true;
    // A fresh socket is dropped with whatever is left of an interrupted dump; a namespace's
    // socket is read to the end so that its next dump is not refused (EBUSY).
    bool more = status == DumpStatus::kMore ||
                (status == DumpStatus::kInterrupted && target.socket && !EndsDump(reply));
    return more ? ReplyAction::kReadMore : ReplyAction::kFinished;
  };
  bool exchanged =
      target.socket
          ? ExchangeNetlinkOn(*target.socket, *nlh, kNetlinkDumpBufferBytes, on_reply, error)
          : ExchangeNetlink(NETLINK_SOCK_DIAG, *nlh, kNetlinkDumpBufferBytes, on_reply, error);
  if (interrupted && status != DumpStatus::kError) status = DumpStatus::kInterrupted;
  if (!exchanged) return AttemptResult::kFailed;
  if (status == DumpStatus::kInterrupted) return AttemptResult::kInterrupted;
  if (status == DumpStatus::kError) {
    kernel_errno = err;
    error = "sock_diag: " + ErrnoText(err);
    return AttemptResult::kFailed;
  }
  return AttemptResult::kOk;
}

bool DumpTable(const DumpTarget& target, std::vector<Socket>& out, SockDiagStats& stats,
               std::string& error, int& kernel_errno,
               std::vector<std::vector<uint8_t>>* raw_buffers) {
  const size_t start = out.size();
  kernel_errno = 0;
  for (int attempt = 0; attempt <= kMaxDumpRetries; ++attempt) {
    if (attempt > 0) ++stats.dump_retries;
    // An interrupted attempt's sockets are cut off again.
    out.resize(start);
    std::vector<std::vector<uint8_t>> buffers;
    std::string attempt_error;
    switch (DumpOnce(target, out, stats, attempt_error, kernel_errno,
                     raw_buffers != nullptr ? &buffers : nullptr)) {
      case AttemptResult::kOk:
        if (raw_buffers != nullptr) *raw_buffers = std::move(buffers);
        return true;
      case AttemptResult::kInterrupted:
        continue;
      case AttemptResult::kFailed:
        out.resize(start);
        error = std::string(target.Name()) + " dump: " + attempt_error;
        return false;
    }
  }
  out.resize(start);
  error = std::string(target.Name()) + " dump: interrupted " + std::to_string(kMaxDumpRetries + 1) +
          " times (NLM_F_DUMP_INTR)";
  return false;
}

}  // namespace

DumpStatus ParseSockDiagReply(std::span<const uint8_t> buffer, Transport transport,
                              std::vector<Socket>& out, SockDiagStats& stats, int& error) {
  bool interrupted = false;
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  while (NextNetlinkMessage(buffer, offset, header, payload, stats.malformed_messages)) {
    if ((header.nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;

    if (header.nlmsg_type < NLMSG_MIN_TYPE) {  // a sample's 200k data messages skip this
      switch (ReadControlMessage(header, payload, error, stats.malformed_messages)) {
        case ControlMessage::kNoop:
          continue;
        case ControlMessage::kDone:
          // NLMSG_DONE carries NLM_F_DUMP_INTR too when the dump was inconsistent.
          return interrupted ? DumpStatus::kInterrupted : DumpStatus::kDone;
        case ControlMessage::kError:
          return DumpStatus::kError;
        case ControlMessage::kData:
          break;
      }
    }
    switch (header.nlmsg_type) {
      case SOCK_DIAG_BY_FAMILY:
      case TCPDIAG_GETSOCK: {  // the compat dump answers with its request's type
        // Parsed in place: 200k sockets a sample are not worth a copy each.
        Socket& socket = out.emplace_back();
        if (!ParseInetDiagMsg(payload, transport, socket)) {
          out.pop_back();
          ++stats.malformed_messages;
          continue;
        }
        if (transport == Transport::kTcp) ParseDiagAttributes(payload, socket);
        continue;
      }
      default:
        ++stats.malformed_messages;
        continue;
    }
  }
  return interrupted ? DumpStatus::kInterrupted : DumpStatus::kMore;
}

bool DumpSockDiagTable(Family family, Transport transport, std::vector<Socket>& out,
                       SockDiagStats& stats, std::string& error,
                       std::vector<std::vector<uint8_t>>* raw_buffers) {
  int kernel_errno = 0;
  return DumpTable({transport, family}, out, stats, error, kernel_errno, raw_buffers);
}

bool DumpTcpBothFamilies(std::vector<Socket>& out, SockDiagStats& stats, std::string& error,
                         int& kernel_errno, std::vector<std::vector<uint8_t>>* raw_buffers) {
  return DumpTable({Transport::kTcp, std::nullopt}, out, stats, error, kernel_errno, raw_buffers);
}

bool CompatDumpRefused(int kernel_errno) {
  // sock_diag_rcv_msg(): EINVAL for a message type it does not know (a kernel without the
  // compat request), EOPNOTSUPP when no compat handler is registered.
  return kernel_errno == EINVAL || kernel_errno == EOPNOTSUPP;
}

namespace {

// Every dump of one sample, on `socket` (a namespace's) or on fresh sockets.
bool DumpAll(DumpMethod method, mnl_socket* socket, uint32_t tcp_states, std::vector<Socket>& out,
             SockDiagStats& stats, std::string& error, bool tcp_info = false) {
  // Straight into `out` (no per-table copies: at 200k sockets each copy is ~14 MB), cut
  // back to what it held should any dump fail.
  const size_t start = out.size();
  std::vector<DumpTarget> targets;
  bool per_family_tcp = method == DumpMethod::kPerFamily;
  if (!per_family_tcp && tcp_states != 0) {
    // A kernel without the compat request refuses it at once: asked every sample, it costs
    // one short round trip there, and no state has to outlive the dump.
    int kernel_errno = 0;
    if (!DumpTable({Transport::kTcp, std::nullopt, tcp_states, tcp_info, socket}, out, stats, error,
                   kernel_errno, nullptr)) {
      if (method == DumpMethod::kCompatTcp || !CompatDumpRefused(kernel_errno)) {
        out.resize(start);
        return false;
      }
      per_family_tcp = true;
    }
  }
  if (per_family_tcp && tcp_states != 0) {
    targets.push_back({Transport::kTcp, Family::kIpv4, tcp_states, tcp_info, socket});
    targets.push_back({Transport::kTcp, Family::kIpv6, tcp_states, tcp_info, socket});
  }
  targets.push_back({Transport::kUdp, Family::kIpv4, kAllTcpStates, false, socket});
  targets.push_back({Transport::kUdp, Family::kIpv6, kAllTcpStates, false, socket});
  for (const DumpTarget& target : targets) {
    int kernel_errno = 0;
    if (!DumpTable(target, out, stats, error, kernel_errno, nullptr)) {
      out.resize(start);
      return false;
    }
  }
  return true;
}

}  // namespace

bool DumpSockDiag(std::vector<Socket>& out, SockDiagStats& stats, std::string& error) {
  return DumpSockDiagWith(DumpMethod::kAuto, out, stats, error);
}

bool DumpSockDiagWith(DumpMethod method, std::vector<Socket>& out, SockDiagStats& stats,
                      std::string& error) {
  return DumpAll(method, nullptr, kAllTcpStates, out, stats, error);
}

bool DumpSockDiagOn(mnl_socket& socket, uint32_t tcp_states, std::vector<Socket>& out,
                    SockDiagStats& stats, std::string& error, bool tcp_info) {
  return DumpAll(DumpMethod::kAuto, &socket, tcp_states, out, stats, error, tcp_info);
}

bool DumpSockDiagWithBytes(std::vector<Socket>& out, SockDiagStats& stats, std::string& error) {
  return DumpAll(DumpMethod::kAuto, nullptr, kAllTcpStates, out, stats, error, true);
}

bool ParseTcpInfoBytes(std::span<const uint8_t> attribute, uint64_t& bytes_acked,
                       uint64_t& bytes_received) {
  constexpr size_t kNeeded = offsetof(tcp_info, tcpi_bytes_received) + sizeof(uint64_t);
  if (attribute.size() < kNeeded) return false;
  tcp_info info{};
  std::memcpy(&info, attribute.data(), std::min(attribute.size(), sizeof(info)));
  bytes_acked = info.tcpi_bytes_acked;
  bytes_received = info.tcpi_bytes_received;
  return true;
}

std::span<const uint8_t> DiagAttribute(std::span<const uint8_t> payload, uint16_t wanted) {
  // Netlink attributes (struct nlattr: u16 length including its 4-byte header, u16 type),
  // each padded to 4 bytes, after the aligned inet_diag_msg.
  size_t offset = NLMSG_ALIGN(sizeof(inet_diag_msg));
  while (offset + NLA_HDRLEN <= payload.size()) {
    uint16_t length, type;
    std::memcpy(&length, payload.data() + offset, sizeof(length));
    std::memcpy(&type, payload.data() + offset + 2, sizeof(type));
    if (length < NLA_HDRLEN || length > payload.size() - offset) return {};
    if ((type & NLA_TYPE_MASK) == wanted) {
      return payload.subspan(offset + NLA_HDRLEN, length - NLA_HDRLEN);
    }
    offset += NLA_ALIGN(length);
  }
  return {};
}

void ParseDiagAttributes(std::span<const uint8_t> payload, Socket& socket) {
  // One walk for both (a dump's every socket comes through here).
  size_t offset = NLMSG_ALIGN(sizeof(inet_diag_msg));
  while (offset + NLA_HDRLEN <= payload.size()) {
    uint16_t length, type;
    std::memcpy(&length, payload.data() + offset, sizeof(length));
    std::memcpy(&type, payload.data() + offset + 2, sizeof(type));
    if (length < NLA_HDRLEN || length > payload.size() - offset) return;
    std::span<const uint8_t> value = payload.subspan(offset + NLA_HDRLEN, length - NLA_HDRLEN);
    if ((type & NLA_TYPE_MASK) == INET_DIAG_INFO) {
      socket.has_bytes = ParseTcpInfoBytes(value, socket.bytes_acked, socket.bytes_received);
    } else if ((type & NLA_TYPE_MASK) == INET_DIAG_CGROUP_ID &&
               value.size() >= sizeof(socket.cgroup_id)) {
      // The cgroup of the socket's creator, sent unasked in dumps since Linux 5.9 (the
      // destroy notifications of 6.18 carry none).
      std::memcpy(&socket.cgroup_id, value.data(), sizeof(socket.cgroup_id));
    }
    offset += NLA_ALIGN(length);
  }
}

bool ParseTcpInfoDelivered(std::span<const uint8_t> attribute, uint32_t& delivered) {
  constexpr size_t kNeeded = offsetof(tcp_info, tcpi_delivered) + sizeof(uint32_t);
  if (attribute.size() < kNeeded) return false;
  std::memcpy(&delivered, attribute.data() + offsetof(tcp_info, tcpi_delivered), sizeof(delivered));
  return true;
}

namespace {

SocketLookup LookUp(mnl_socket* on, const Socket& socket, uint64_t& inode) {
  alignas(nlmsghdr) uint8_t request[kSockDiagRequestSize] = {};
  nlmsghdr* nlh = nullptr;
  // No NLM_F_DUMP: the kernel answers with inet_diag_find_one_icsk / udp_dump_one.
  inet_diag_req_v2* req =
      PutSockDiagRequest(request, NLM_F_REQUEST, socket.family, socket.transport, nlh);
  req->id.idiag_sport = htons(socket.local_port);
  req->id.idiag_dport = htons(socket.remote_port);
  std::memcpy(req->id.idiag_src, socket.local.bytes.data(), sizeof(req->id.idiag_src));
  std::memcpy(req->id.idiag_dst, socket.remote.bytes.data(), sizeof(req->id.idiag_dst));
  // sock_diag_check_cookie(): a cookie that does not match answers ESTALE; none (all ones)
  // matches whatever socket holds the tuple now.
  req->id.idiag_cookie[0] =
      socket.cookie == 0 ? INET_DIAG_NOCOOKIE : static_cast<uint32_t>(socket.cookie);
  req->id.idiag_cookie[1] =
      socket.cookie == 0 ? INET_DIAG_NOCOOKIE : static_cast<uint32_t>(socket.cookie >> 32);
  std::vector<Socket> found;
  DumpStatus status = DumpStatus::kMore;
  int err = 0;
  std::string error;
  constexpr size_t kOneSocketReplyBytes = 8192;  // one inet_diag_msg and its attributes
  auto on_reply = [&](std::span<const uint8_t> reply) {
    SockDiagStats stats;
    status = ParseSockDiagReply(reply, socket.transport, found, stats, err);
    return ReplyAction::kFinished;  // the answer is one message, without NLMSG_DONE
  };
  bool answered =
      on ? ExchangeNetlinkOn(*on, *nlh, kOneSocketReplyBytes, on_reply, error)
         : ExchangeNetlink(NETLINK_SOCK_DIAG, *nlh, kOneSocketReplyBytes, on_reply, error);
  if (!answered) return SocketLookup::kUnknown;
  if (status == DumpStatus::kError) {
    return err == ENOENT || err == ESTALE ? SocketLookup::kGone : SocketLookup::kUnknown;
  }
  if (found.size() != 1) return SocketLookup::kUnknown;
  inode = found[0].inode;
  return SocketLookup::kOpen;
}

}  // namespace

SocketLookup LookUpSockDiag(const Socket& socket, uint64_t& inode) {
  return LookUp(nullptr, socket, inode);
}

SocketLookup LookUpSockDiagOn(mnl_socket& on, const Socket& socket, uint64_t& inode) {
  return LookUp(&on, socket, inode);
}

}  // namespace connwatch
