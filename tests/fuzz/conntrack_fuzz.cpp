// ParseConntrackReply never crashes on any recv() buffer.
#include <cstdint>
#include <span>
#include <vector>

#include "sources/conntrack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::vector<ConntrackFlow> out;
  ConntrackStats stats;
  int error = 0;
  bool done = false;
  (void)ParseConntrackReply(std::span<const uint8_t>(data, size), out, stats, error, done);
  return 0;
}
