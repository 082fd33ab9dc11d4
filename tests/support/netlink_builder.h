// Netlink replies as the kernel sends them for an inet_diag dump (NLM_F_MULTI messages of
// SOCK_DIAG_BY_FAMILY, NLMSG_DONE, NLMSG_ERROR), built byte by byte for tests of the pure
// sock_diag parser; and the reader for the captured buffers in tests/fixtures/*/sock_diag_*.bin.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model.h"

namespace connwatch::testing {

// The fields of an inet_diag_msg the parser reads. Addresses are inet_pton text in the
// family; ports are host order (the builder stores them as the kernel does, big-endian).
struct DiagMsgSpec {
  uint8_t family = AF_INET;
  uint8_t state = 1;  // kernel number, include/net/tcp_states.h
  std::string local = "127.0.0.1";
  uint16_t local_port = 0;
  std::string remote = "0.0.0.0";
  uint16_t remote_port = 0;
  uint32_t inode = 0;
  uint32_t uid = 0;
  uint64_t cookie = 0;
};

// A netlink attribute (struct nlattr / rtattr) after the inet_diag_msg, e.g. INET_DIAG_INFO.
struct NetlinkAttribute {
  uint16_t type = 0;
  std::vector<uint8_t> payload;
};

class NetlinkBuilder {
 public:
  explicit NetlinkBuilder(uint32_t seq = 1, uint32_t portid = 4242) : seq_(seq), portid_(portid) {}

  // SOCK_DIAG_BY_FAMILY with NLM_F_MULTI | `extra_flags` (e.g. NLM_F_DUMP_INTR).
  NetlinkBuilder& DiagMsg(const DiagMsgSpec& spec,
                          const std::vector<NetlinkAttribute>& attributes = {},
                          uint16_t extra_flags = 0);
  // NLMSG_DONE; `dump_errno` is its int payload (negative when the dump callback failed).
  NetlinkBuilder& Done(int32_t dump_errno = 0, uint16_t extra_flags = 0);
  // NLMSG_ERROR carrying -`errno_value` and the echoed request header, as netlink_ack() does.
  NetlinkBuilder& Error(int errno_value);
  // Any message: header with nlmsg_len covering `payload`, payload padded to NLMSG_ALIGNTO.
  NetlinkBuilder& Message(uint16_t type, uint16_t flags, std::span<const uint8_t> payload);
  // Arbitrary bytes, e.g. a header whose nlmsg_len runs past the end of the buffer.
  NetlinkBuilder& Raw(std::span<const uint8_t> bytes);
  // Cuts `count` bytes off the end (a message cut short).
  NetlinkBuilder& Truncate(size_t count);

  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  uint32_t seq_;
  uint32_t portid_;
  std::vector<uint8_t> bytes_;
};

// The .bin fixtures hold one dump's recv() buffers in order, each framed as a 4-byte
// little-endian length followed by that many bytes. Aborts the test on a bad file.
std::vector<std::vector<uint8_t>> ReadFramedBuffers(const std::string& path);

// "tcp6 LISTEN [::1]:8443 [::]:0 inode=11983 uid=1000" (plus " cookie=N" when non-zero):
// socket lists compared as strings give readable test failures.
std::string DescribeSocket(const Socket& socket);
std::vector<std::string> DescribeSockets(const std::vector<Socket>& sockets);

}  // namespace connwatch::testing
