// ParseBasicAuthorization never crashes on any Authorization header value.
#include <cstdint>
#include <string>
#include <string_view>

#include "http/basic_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  std::string user, password;
  (void)connwatch::ParseBasicAuthorization(header, user, password);
  return 0;
}
