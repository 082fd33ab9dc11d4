#include "support/netlink_builder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace connwatch::testing {
namespace {

void AppendBytes(std::vector<uint8_t>& out, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

void PadTo(std::vector<uint8_t>& out, size_t alignment) {
  while (out.size() % alignment != 0) out.push_back(0);
}

// inet_pton into the __be32[4] of inet_diag_sockid (network order, IPv4 in word 0).
void PutAddress(uint8_t family, const std::string& text, __be32 (&words)[4]) {
  std::memset(words, 0, sizeof(words));
  int ok = inet_pton(family, text.c_str(), words);
  EXPECT_EQ(ok, 1) << "bad address in DiagMsgSpec: " << text;
}

}  // namespace

NetlinkBuilder& NetlinkBuilder::DiagMsg(const DiagMsgSpec& spec,
                                        const std::vector<NetlinkAttribute>& attributes,
                                        uint16_t extra_flags) {
  inet_diag_msg msg;
  std::memset(&msg, 0, sizeof(msg));
  msg.idiag_family = spec.family;
  msg.idiag_state = spec.state;
  msg.id.idiag_sport = htons(spec.local_port);
  msg.id.idiag_dport = htons(spec.remote_port);
  PutAddress(spec.family, spec.local, msg.id.idiag_src);
  PutAddress(spec.family, spec.remote, msg.id.idiag_dst);
  msg.id.idiag_cookie[0] = static_cast<uint32_t>(spec.cookie);
  msg.id.idiag_cookie[1] = static_cast<uint32_t>(spec.cookie >> 32);
  msg.idiag_uid = spec.uid;
  msg.idiag_inode = spec.inode;

  std::vector<uint8_t> payload;
  AppendBytes(payload, &msg, sizeof(msg));
  for (const NetlinkAttribute& attribute : attributes) {
    PadTo(payload, NLA_ALIGNTO);
    nlattr header;
    header.nla_len = static_cast<uint16_t>(NLA_HDRLEN + attribute.payload.size());
    header.nla_type = attribute.type;
    AppendBytes(payload, &header, sizeof(header));
    AppendBytes(payload, attribute.payload.data(), attribute.payload.size());
  }
  return Message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI | extra_flags, payload);
}

NetlinkBuilder& NetlinkBuilder::Done(int32_t dump_errno, uint16_t extra_flags) {
  uint8_t payload[sizeof(dump_errno)];
  std::memcpy(payload, &dump_errno, sizeof(dump_errno));
  return Message(NLMSG_DONE, NLM_F_MULTI | extra_flags, payload);
}

NetlinkBuilder& NetlinkBuilder::Error(int errno_value) {
  nlmsgerr err;
  std::memset(&err, 0, sizeof(err));
  err.error = -errno_value;
  err.msg.nlmsg_len = NLMSG_LENGTH(sizeof(inet_diag_req_v2));
  err.msg.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  err.msg.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  err.msg.nlmsg_seq = seq_;
  err.msg.nlmsg_pid = portid_;
  uint8_t payload[sizeof(err)];
  std::memcpy(payload, &err, sizeof(err));
  return Message(NLMSG_ERROR, 0, payload);
}

NetlinkBuilder& NetlinkBuilder::Message(uint16_t type, uint16_t flags,
                                        std::span<const uint8_t> payload) {
  PadTo(bytes_, NLMSG_ALIGNTO);
  nlmsghdr header;
  std::memset(&header, 0, sizeof(header));
  header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(payload.size()));
  header.nlmsg_type = type;
  header.nlmsg_flags = flags;
  header.nlmsg_seq = seq_;
  header.nlmsg_pid = portid_;
  AppendBytes(bytes_, &header, sizeof(header));
  AppendBytes(bytes_, payload.data(), payload.size());
  PadTo(bytes_, NLMSG_ALIGNTO);
  return *this;
}

NetlinkBuilder& NetlinkBuilder::Raw(std::span<const uint8_t> bytes) {
  AppendBytes(bytes_, bytes.data(), bytes.size());
  return *this;
}

NetlinkBuilder& NetlinkBuilder::Truncate(size_t count) {
  bytes_.resize(count < bytes_.size() ? bytes_.size() - count : 0);
  return *this;
}

std::vector<std::vector<uint8_t>> ReadFramedBuffers(const std::string& path) {
  std::vector<std::vector<uint8_t>> buffers;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t offset = 0;
  while (offset < data.size()) {
    if (data.size() - offset < 4) {
      ADD_FAILURE() << path << ": truncated length at offset " << offset;
      return {};
    }
    uint32_t length = static_cast<uint32_t>(data[offset]) |
                      static_cast<uint32_t>(data[offset + 1]) << 8 |
                      static_cast<uint32_t>(data[offset + 2]) << 16 |
                      static_cast<uint32_t>(data[offset + 3]) << 24;
    offset += 4;
    if (data.size() - offset < length) {
      ADD_FAILURE() << path << ": record of " << length << " bytes runs past the end";
      return {};
    }
    buffers.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(offset),
                         data.begin() + static_cast<std::ptrdiff_t>(offset + length));
    offset += length;
  }
  return buffers;
}

std::string DescribeSocket(const Socket& socket) {
  static constexpr const char* kStateNames[] = {
      "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  auto endpoint = [](const IpAddress& address, uint16_t port) {
    char text[INET6_ADDRSTRLEN] = {};
    bool v4 = address.family == Family::kIpv4;
    inet_ntop(v4 ? AF_INET : AF_INET6, address.bytes.data(), text, sizeof(text));
    return (v4 ? std::string(text) : "[" + std::string(text) + "]") + ":" + std::to_string(port);
  };
  auto state = static_cast<size_t>(socket.state);
  std::string out = socket.transport == Transport::kTcp ? "tcp" : "udp";
  out += socket.family == Family::kIpv4 ? "4 " : "6 ";
  out += state < std::size(kStateNames) ? kStateNames[state] : std::to_string(state);
  out += " " + endpoint(socket.local, socket.local_port) + " " +
         endpoint(socket.remote, socket.remote_port);
  out += " inode=" + std::to_string(socket.inode) + " uid=" + std::to_string(socket.uid);
  if (socket.cookie != 0) out += " cookie=" + std::to_string(socket.cookie);
  return out;
}

std::vector<std::string> DescribeSockets(const std::vector<Socket>& sockets) {
  std::vector<std::string> out;
  for (const Socket& socket : sockets) out.push_back(DescribeSocket(socket));
  return out;
}

}  // namespace connwatch::testing
