// Text from the host is attacker-controlled bytes: process names, command lines, paths.
// What turns it into valid UTF-8 (Prometheus rejects a whole scrape over one invalid label
// value) and into escaped text that cannot forge a log line, a table row, a JSON document or
// a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace connwatch {

// Length of the valid UTF-8 sequence at text[i], or 0 if there is none. Strict (RFC 3629,
// table 3-7 of the Unicode standard): overlong forms, surrogates and code points past
// U+10FFFF are invalid.
size_t Utf8SequenceLength(std::string_view text, size_t i);
// The code point of the valid sequence of `length` bytes at text[i].
uint32_t DecodeUtf8(std::string_view text, size_t i, size_t length);
bool IsValidUtf8(std::string_view text);
// Replaces each byte that does not start a valid sequence with U+FFFD; valid input is
// returned unchanged.
std::string SanitizeUtf8(std::string_view text);

// Every byte that is not printable ASCII becomes \xNN. kBackslashEscapes writes '"' and '\'
// as \" and \\ (text inside double quotes); kHexOnly writes '\' as \x5c and leaves '"' (a
// column or field without quotes).
enum class EscapeStyle { kBackslashEscapes, kHexOnly };
std::string EscapeBytes(std::string_view text, EscapeStyle style);
// EscapeBytes(kBackslashEscapes) in double quotes, cut after `max_bytes` with "...": a value
// quoted in a message.
std::string QuoteBytes(std::string_view text, size_t max_bytes = 64);

// A JSON string literal; invalid UTF-8 becomes U+FFFD, '"', '\\' and the C0 control
// characters are escaped (what JSON requires; DEL and C1 controls are valid as they are).
std::string JsonString(std::string_view raw);
// The same, appended to `out` (no temporary for the common case of printable ASCII).
void AppendJsonString(std::string& out, std::string_view raw);

// The bytes of base64 text (RFC 4648 alphabet, '=' padding only at the end, whitespace
// ignored as in YAML's !!binary), or nullopt if it is not base64. Our own because yaml-cpp
// 0.7's DecodeBase64 indexes its table with a signed char and reads out of bounds on any
// byte >= 0x80 (a fuzzed policy crashed it).
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace connwatch
