// ParseBeaconState never crashes; a state it accepts formats and parses back to the same
// text, and scoring and expiring it stay within the tracker's bounds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tracking/beacon_tracker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto tracker = ParseBeaconState(text, 64, error);
  if (!tracker) return 0;
  if (tracker->pairs() > 64) abort();
  std::string written = FormatBeaconState(*tracker);
  auto again = ParseBeaconState(written, 64, error);
  if (!again || FormatBeaconState(*again) != written) abort();
  for (const BeaconResult& result : tracker->Score(1e12, 4, 2e9))
    if (!(result.score >= 0 && result.score <= 1)) abort();
  tracker->Expire(3600, 2e9);
  return 0;
}
