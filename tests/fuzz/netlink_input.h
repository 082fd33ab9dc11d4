#pragma once
// Shared by the netlink harnesses. Excludes, for now, two input classes with known bugs fixed
// on another branch (issue 17): an nlmsg_len past the end of the buffer (RepliesMatch hangs
// on nlmsg_len >= 0xFFFFFFFD) and an NLMSG_ERROR carrying INT_MIN (negated as an int).
// Remove this filter once those fixes are merged.
#include <linux/netlink.h>

#include <climits>
#include <cstdint>
#include <cstring>

inline bool KnownBadNetlink(const uint8_t* data, size_t size) {
  size_t offset = 0;
  while (size - offset >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    memcpy(&header, data + offset, sizeof(header));
    if (header.nlmsg_len > size - offset) return true;
    if (header.nlmsg_type == NLMSG_ERROR && header.nlmsg_len >= sizeof(header) + sizeof(int)) {
      int error;
      memcpy(&error, data + offset + sizeof(header), sizeof(error));
      if (error == INT_MIN) return true;
    }
    if (header.nlmsg_len < sizeof(header)) return false;  // malformed: the parser stops here
    offset += NLMSG_ALIGN(header.nlmsg_len);
    if (offset > size) return false;
  }
  return false;
}
