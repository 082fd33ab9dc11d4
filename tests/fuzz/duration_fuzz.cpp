// ParseDuration never crashes; what FormatDuration writes for a positive duration parses
// back to the same seconds.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = connwatch::ParseDuration(text);
  if (!parsed) return 0;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  // FormatDuration writes "0" (no unit, for people) for zero, which ParseDuration refuses.
  if (seconds.count() <= 0) return 0;
  auto again = connwatch::ParseDuration(connwatch::FormatDuration(seconds));
  if (!again || *again != seconds) abort();
  return 0;
}
