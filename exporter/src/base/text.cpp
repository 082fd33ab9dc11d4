#include "base/text.h"

#include <algorithm>
#include <cstdio>

namespace connwatch {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

void AppendHex(std::string& out, const char* format, unsigned value) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), format, value);
  out += buffer;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint8_t low = 0x80, high = 0xBF;  // bounds for the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

uint32_t DecodeUtf8(std::string_view text, size_t i, size_t length) {
  static constexpr uint8_t kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t code_point = static_cast<uint8_t>(text[i]) & kLeadMask[length];
  for (size_t k = 1; k < length; ++k) {
    code_point = (code_point << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3Fu);
  }
  return code_point;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

std::string EscapeBytes(std::string_view text, EscapeStyle style) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool quote_or_backslash = c == '"' || c == '\\';
    if (quote_or_backslash && style == EscapeStyle::kBackslashEscapes) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f || (c == '\\' && style == EscapeStyle::kHexOnly)) {
      AppendHex(out, "\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string QuoteBytes(std::string_view text, size_t max_bytes) {
  std::string out = "\"" + EscapeBytes(text.substr(0, max_bytes), EscapeStyle::kBackslashEscapes);
  if (text.size() > max_bytes) out += "...";
  return out + "\"";
}

void AppendJsonString(std::string& out, std::string_view raw) {
  // Most values (addresses, names, paths) are printable ASCII with nothing to escape: copied
  // whole, without the UTF-8 pass.
  bool plain = std::all_of(raw.begin(), raw.end(),
                           [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  out += '"';
  if (plain) {
    out += raw;
    out += '"';
    return;
  }
  for (unsigned char c : SanitizeUtf8(raw)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          AppendHex(out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string JsonString(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 2);
  AppendJsonString(out, raw);
  return out;
}

namespace {

// The 6-bit value of a base64 digit, or -1.
int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool IsBase64Space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string bytes;
  uint32_t bits = 0;
  size_t digits = 0;   // digits of the current group of four
  size_t padding = 0;  // '=' seen; only more '=' and whitespace may follow
  for (char c : text) {
    if (IsBase64Space(c)) continue;
    if (c == '=') {
      if (digits < 2 || digits + padding >= 4) return std::nullopt;
      ++padding;
      continue;
    }
    int digit = Base64Digit(c);
    if (digit < 0 || padding > 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(digit);
    if (++digits == 4) {
      bytes.push_back(static_cast<char>((bits >> 16) & 0xff));
      bytes.push_back(static_cast<char>((bits >> 8) & 0xff));
      bytes.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      digits = 0;
    }
  }
  if (digits == 0) return bytes;
  if (digits == 1 || digits + padding != 4) return std::nullopt;
  if (digits == 2) {
    bytes.push_back(static_cast<char>((bits >> 4) & 0xff));
  } else {
    bytes.push_back(static_cast<char>((bits >> 10) & 0xff));
    bytes.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return bytes;
}

}  // namespace connwatch
