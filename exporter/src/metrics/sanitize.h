// Label values come from process names, which any process can set to arbitrary bytes.
// Prometheus rejects a whole scrape with one invalid UTF-8 label value, so every label
// value passes through here.
#pragma once

#include <string>
#include <string_view>

namespace connwatch {

// Replaces each byte that does not start a valid UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF included) with U+FFFD. Valid input is
// returned unchanged.
std::string SanitizeUtf8(std::string_view text);

}  // namespace connwatch
