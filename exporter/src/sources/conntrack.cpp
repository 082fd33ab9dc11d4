#include "sources/conntrack.h"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "sources/netlink_socket.h"

namespace connwatch {
namespace {

// What each refusal means for an operator; the sampler logs it and falls back to other ages.
std::string DescribeNetlinkError(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return ErrnoText(err) + " (reading conntrack needs CAP_NET_ADMIN)";
    case EPROTONOSUPPORT:
      return ErrnoText(err) +
             " (no NETLINK_NETFILTER: nfnetlink is not in this kernel or not loaded)";
    case ENOENT:
    case EINVAL:
    case EOPNOTSUPP:
      // nfnetlink_rcv_msg() answers a request for a subsystem that is not registered and
      // cannot be autoloaded with EINVAL; ENOENT and EOPNOTSUPP are read the same way in
      // case a kernel answers with those.
      return ErrnoText(err) + " (ctnetlink unavailable: is nf_conntrack_netlink loaded?)";
    default:
      return ErrnoText(err);
  }
}

// One netlink attribute, copied out of a buffer that need not be aligned.
struct Attribute {
  uint16_t type = 0;  // NLA_F_NESTED and NLA_F_NET_BYTEORDER stripped
  std::span<const uint8_t> payload;
};

// Walks the attributes in `data`, calling `visit` for each. Returns false when a length is
// impossible (shorter than its header or running past the end): nothing after it can be
// trusted. The padding after the last attribute may be missing.
template <typename Visit>
bool ForEachAttribute(std::span<const uint8_t> data, Visit visit) {
  size_t offset = 0;
  while (offset < data.size()) {
    nlattr header;
    if (data.size() - offset < sizeof(header)) return false;
    std::memcpy(&header, data.data() + offset, sizeof(header));
    if (header.nla_len < NLA_HDRLEN || header.nla_len > data.size() - offset) return false;
    visit(Attribute{static_cast<uint16_t>(header.nla_type & NLA_TYPE_MASK),
                    data.subspan(offset + NLA_HDRLEN, header.nla_len - NLA_HDRLEN)});
    offset += std::min(static_cast<size_t>(NLA_ALIGN(header.nla_len)), data.size() - offset);
  }
  return true;
}

// ctnetlink sends every integer attribute in network byte order (it never sets
// NLA_F_NET_BYTEORDER to say so).
std::optional<uint16_t> Be16(const Attribute& attribute) {
  uint16_t value;
  if (attribute.payload.size() != sizeof(value)) return std::nullopt;
  std::memcpy(&value, attribute.payload.data(), sizeof(value));
  return ntohs(value);
}

std::optional<uint64_t> Be64(const Attribute& attribute) {
  uint64_t value;
  if (attribute.payload.size() != sizeof(value)) return std::nullopt;
  std::memcpy(&value, attribute.payload.data(), sizeof(value));
  return be64toh(value);
}

// Addresses are in network byte order already, as IpAddress keeps them.
bool SetAddress(const Attribute& attribute, Family family, IpAddress& address) {
  size_t size = family == Family::kIpv4 ? 4 : 16;
  if (attribute.payload.size() != size) return false;
  address.family = family;
  std::memcpy(address.bytes.data(), attribute.payload.data(), size);
  return true;
}

// The parts of CTA_TUPLE_ORIG we read; `ok` is false once anything was malformed.
struct Tuple {
  bool ok = true;
  std::optional<Family> source_family, destination_family;
  IpAddress source, destination;
  std::optional<uint8_t> protocol;
  std::optional<uint16_t> source_port, destination_port;
};

// CTA_IP_V4_SRC and friends: which end and which family each address attribute holds.
void ParseTupleIp(std::span<const uint8_t> data, Tuple& tuple) {
  tuple.ok &= ForEachAttribute(data, [&](const Attribute& attribute) {
    bool v4 = attribute.type == CTA_IP_V4_SRC || attribute.type == CTA_IP_V4_DST;
    bool v6 = attribute.type == CTA_IP_V6_SRC || attribute.type == CTA_IP_V6_DST;
    if (!v4 && !v6) return;
    bool source = attribute.type == CTA_IP_V4_SRC || attribute.type == CTA_IP_V6_SRC;
    Family family = v4 ? Family::kIpv4 : Family::kIpv6;
    tuple.ok &= SetAddress(attribute, family, source ? tuple.source : tuple.destination);
    (source ? tuple.source_family : tuple.destination_family) = family;
  });
}

void ParseTupleProto(std::span<const uint8_t> data, Tuple& tuple) {
  tuple.ok &= ForEachAttribute(data, [&](const Attribute& attribute) {
    switch (attribute.type) {
      case CTA_PROTO_NUM:
        if (attribute.payload.size() != 1) {
          tuple.ok = false;
        } else {
          tuple.protocol = attribute.payload[0];
        }
        break;
      case CTA_PROTO_SRC_PORT:
        tuple.source_port = Be16(attribute);
        tuple.ok &= tuple.source_port.has_value();
        break;
      case CTA_PROTO_DST_PORT:
        tuple.destination_port = Be16(attribute);
        tuple.ok &= tuple.destination_port.has_value();
        break;
      default:  // ICMP ids and types, which we skip anyway
        break;
    }
  });
}

enum class FlowResult { kFlow, kSkipped, kMalformed };

// The payload of one ctnetlink message: struct nfgenmsg, then attributes. Flows of other
// protocols (ICMP, SCTP, GRE, ...) are skipped, not counted as malformed.
FlowResult ParseFlow(std::span<const uint8_t> payload, ConntrackFlow& flow) {
  if (payload.size() < NLMSG_ALIGN(sizeof(nfgenmsg))) return FlowResult::kMalformed;
  Tuple tuple;
  std::optional<uint64_t> start;
  bool seen_tuple = false;
  bool ok = ForEachAttribute(
      payload.subspan(NLMSG_ALIGN(sizeof(nfgenmsg))), [&](const Attribute& attribute) {
        switch (attribute.type) {
          case CTA_TUPLE_ORIG:
            seen_tuple = true;
            tuple.ok &= ForEachAttribute(attribute.payload, [&](const Attribute& inner) {
              if (inner.type == CTA_TUPLE_IP) ParseTupleIp(inner.payload, tuple);
              if (inner.type == CTA_TUPLE_PROTO) ParseTupleProto(inner.payload, tuple);
            });
            break;
          case CTA_TIMESTAMP:
            tuple.ok &= ForEachAttribute(attribute.payload, [&](const Attribute& inner) {
              if (inner.type != CTA_TIMESTAMP_START) return;
              start = Be64(inner);
              tuple.ok &= start.has_value();
            });
            break;
          default:
            break;
        }
      });
  if (!ok || !seen_tuple || !tuple.ok || !tuple.protocol) return FlowResult::kMalformed;
  if (*tuple.protocol != IPPROTO_TCP && *tuple.protocol != IPPROTO_UDP) {
    return FlowResult::kSkipped;
  }
  if (!tuple.source_family || tuple.source_family != tuple.destination_family ||
      !tuple.source_port || !tuple.destination_port) {
    return FlowResult::kMalformed;
  }
  flow = ConntrackFlow{};
  flow.transport = *tuple.protocol == IPPROTO_TCP ? Transport::kTcp : Transport::kUdp;
  flow.source = tuple.source;
  flow.destination = tuple.destination;
  flow.source_port = *tuple.source_port;
  flow.destination_port = *tuple.destination_port;
  flow.start_unix_ns = start.value_or(0);
  return FlowResult::kFlow;
}

}  // namespace

bool ParseConntrackReply(std::span<const uint8_t> buffer, std::vector<ConntrackFlow>& out,
                         ConntrackStats& stats, int& error, bool& done) {
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  while (NextNetlinkMessage(buffer, offset, header, payload, stats.malformed_messages)) {
    switch (ReadControlMessage(header, payload, error, stats.malformed_messages)) {
      case ControlMessage::kNoop:
        continue;
      case ControlMessage::kDone:
        done = true;
        return true;
      case ControlMessage::kError:
        done = header.nlmsg_type == NLMSG_DONE;
        return false;
      case ControlMessage::kData:
        break;
    }
    // Dump replies are IPCTNL_MSG_CT_NEW (as in tests/fixtures/conntrack); a flow echoed
    // with the request's own type, IPCTNL_MSG_CT_GET, is read the same way.
    uint16_t message = NFNL_MSG_TYPE(header.nlmsg_type);
    if (NFNL_SUBSYS_ID(header.nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
        (message != IPCTNL_MSG_CT_GET && message != IPCTNL_MSG_CT_NEW)) {
      ++stats.malformed_messages;
      continue;
    }
    ConntrackFlow flow;
    switch (ParseFlow(payload, flow)) {
      case FlowResult::kFlow:
        out.push_back(flow);
        break;
      case FlowResult::kSkipped:
        break;
      case FlowResult::kMalformed:
        ++stats.malformed_messages;
        break;
    }
  }
  return true;
}

// One AF_UNSPEC request dumps every family (ctnetlink filters by nfgen_family only when it
// is set). The dump walks the hash table in chunks without a consistency check, so a flow
// that is created or moved meanwhile can be missed or seen twice; neither matters for ages.
bool DumpConntrack(std::vector<ConntrackFlow>& out, ConntrackStats& stats, std::string& error) {
  alignas(nlmsghdr) uint8_t request[NLMSG_SPACE(sizeof(nfgenmsg))] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(request);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;

  std::vector<ConntrackFlow> flows;
  int dump_errno = 0, open_errno = 0;
  bool parsed = true;
  bool exchanged = ExchangeNetlink(
      NETLINK_NETFILTER, *nlh, kNetlinkDumpBufferBytes,
      [&](std::span<const uint8_t> reply) {
        bool done = false;
        parsed = ParseConntrackReply(reply, flows, stats, dump_errno, done);
        return !parsed || done ? ReplyAction::kFinished : ReplyAction::kReadMore;
      },
      error, &open_errno);
  if (!exchanged) {
    error = "conntrack: " + (open_errno != 0 && error.starts_with("netlink socket:")
                                 ? "netlink socket: " + DescribeNetlinkError(open_errno)
                                 : error);
    return false;
  }
  if (!parsed) {
    error = "conntrack dump: " + DescribeNetlinkError(dump_errno);
    return false;
  }
  out.insert(out.end(), flows.begin(), flows.end());
  return true;
}

}  // namespace connwatch
