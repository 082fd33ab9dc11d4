// ParseSockDiagReply never crashes on any recv() buffer, for TCP and UDP, and the header walk
// that checks a reply (RepliesMatch) always ends.
#include <cstdint>
#include <span>
#include <vector>

#include "sources/netlink_socket.h"
#include "sources/sock_diag.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  (void)RepliesMatch(std::span<const uint8_t>(data, size), 1, 0);
  for (auto transport : {Transport::kTcp, Transport::kUdp}) {
    std::vector<Socket> out;
    SockDiagStats stats;
    int error = 0;
    (void)ParseSockDiagReply(std::span<const uint8_t>(data, size), transport, out, stats, error);
  }
  return 0;
}
