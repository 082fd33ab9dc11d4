// SanitizeUtf8 always returns valid UTF-8 and leaves valid input unchanged; the escapes
// return printable ASCII; JsonString returns valid UTF-8 in quotes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/text.h"

namespace {

bool PrintableAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string sanitized = SanitizeUtf8(text);
  if (!IsValidUtf8(sanitized)) abort();
  if (IsValidUtf8(text) && sanitized != text) abort();
  if (!PrintableAscii(EscapeBytes(text, EscapeStyle::kBackslashEscapes))) abort();
  if (!PrintableAscii(EscapeBytes(text, EscapeStyle::kHexOnly))) abort();
  if (!PrintableAscii(QuoteBytes(text))) abort();
  std::string json = JsonString(text);
  if (!IsValidUtf8(json) || json.size() < 2 || json.front() != '"' || json.back() != '"') abort();
  return 0;
}
