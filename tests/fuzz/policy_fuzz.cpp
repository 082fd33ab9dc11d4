// ParsePolicy never crashes: a policy is either loaded or refused with errors.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/policy_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = connwatch::ParsePolicy(text, "fuzz.yaml");
  if (result.policy.has_value() == !result.errors.empty()) abort();
  return 0;
}
