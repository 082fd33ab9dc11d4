// ParseTrackerState never crashes; a state it accepts serializes and parses back to the
// same text (write -> read -> write is stable).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tracking/state_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto state = ParseTrackerState(text, error);
  if (!state) return 0;
  std::string written = SerializeTrackerState(*state);
  auto again = ParseTrackerState(written, error);
  if (!again || SerializeTrackerState(*again) != written) abort();
  return 0;
}
