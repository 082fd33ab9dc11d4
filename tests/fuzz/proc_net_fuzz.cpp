// ParseProcNet never crashes and every line either yields a socket or is counted.
#include <cstdint>
#include <string_view>
#include <vector>

#include "sources/proc_net.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto family : {Family::kIpv4, Family::kIpv6}) {
    for (auto transport : {Transport::kTcp, Transport::kUdp}) {
      std::vector<Socket> out;
      ProcNetStats stats;
      ParseProcNet(text, transport, family, out, stats);
    }
  }
  return 0;
}
