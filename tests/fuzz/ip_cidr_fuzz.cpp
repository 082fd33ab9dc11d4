// ParseIpAddress and ParseCidr never crash; a parsed address or CIDR formats to text that
// parses back to the same value, and a CIDR contains its own network address.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/cidr.h"
#include "net/ip_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto address = ParseIpAddress(text)) {
    auto again = ParseIpAddress(FormatIpAddress(*address));
    if (!again || !(*again == *address)) abort();
  }
  if (auto cidr = ParseCidr(text)) {
    auto again = ParseCidr(FormatCidr(*cidr));
    if (!again || !(*again == *cidr)) abort();
  } else {
    (void)CidrProblem(text);
  }
  return 0;
}
