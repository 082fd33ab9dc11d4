// The UTF-8 rules and every escaper, each as a table of hostile bytes.
#include "base/text.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connwatch {
namespace {

TEST(SanitizeTest, KeepsValidUtf8) {
  EXPECT_EQ(SanitizeUtf8("nginx"), "nginx");
  EXPECT_EQ(SanitizeUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(SanitizeUtf8("\xe2\x82\xac"), "\xe2\x82\xac");
  EXPECT_EQ(SanitizeUtf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(SanitizeUtf8("a b\n\"q\"\\"), "a b\n\"q\"\\");
  EXPECT_EQ(SanitizeUtf8(""), "");
}

TEST(SanitizeTest, ReplacesEachInvalidByte) {
  EXPECT_EQ(SanitizeUtf8("\xff\xfe"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("a\x80z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(SanitizeUtf8("\xc3"), "\xEF\xBF\xBD") << "truncated sequence";
  EXPECT_EQ(SanitizeUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "overlong";
  EXPECT_EQ(SanitizeUtf8("\xe0\x80\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "surrogate";
  EXPECT_EQ(SanitizeUtf8("\xf4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD")
      << "past U+10FFFF";
}

// --- UTF-8 sequences -------------------------------------------------------------------

struct SequenceCase {
  const char* name;
  std::string text;
  size_t at;
  size_t length;            // 0: no valid sequence there
  uint32_t code_point = 0;  // when length > 0
};

const std::vector<SequenceCase>& SequenceCases() {
  static const std::vector<SequenceCase> cases = {
      {"ASCII", "A", 0, 1, 0x41},
      {"NUL", std::string("\0", 1), 0, 1, 0},
      {"DEL", "\x7f", 0, 1, 0x7f},
      {"lone continuation byte", "\x80", 0, 0},
      {"last continuation byte", "\xbf", 0, 0},
      {"overlong NUL", "\xc0\x80", 0, 0},
      {"overlong 2-byte", "\xc1\xbf", 0, 0},
      {"smallest 2-byte", "\xc2\x80", 0, 2, 0x80},
      {"C1 control NEL", "\xc2\x85", 0, 2, 0x85},
      {"largest 2-byte", "\xdf\xbf", 0, 2, 0x7ff},
      {"truncated 2-byte", "\xc3", 0, 0},
      {"2-byte with ASCII after the lead", "\xc3\x41", 0, 0},
      {"2-byte with a lead after the lead", "\xc3\xc3", 0, 0},
      {"overlong 3-byte", "\xe0\x9f\xbf", 0, 0},
      {"smallest 3-byte", "\xe0\xa0\x80", 0, 3, 0x800},
      {"euro sign", "\xe2\x82\xac", 0, 3, 0x20ac},
      {"line separator", "\xe2\x80\xa8", 0, 3, 0x2028},
      {"last before the surrogates", "\xed\x9f\xbf", 0, 3, 0xd7ff},
      {"first surrogate", "\xed\xa0\x80", 0, 0},
      {"last surrogate", "\xed\xbf\xbf", 0, 0},
      {"first after the surrogates", "\xee\x80\x80", 0, 3, 0xe000},
      {"byte order mark", "\xef\xbb\xbf", 0, 3, 0xfeff},
      {"largest 3-byte", "\xef\xbf\xbf", 0, 3, 0xffff},
      {"truncated 3-byte", "\xe2\x82", 0, 0},
      {"3-byte with a bad last byte", "\xe2\x82\x41", 0, 0},
      {"overlong 4-byte", "\xf0\x8f\xbf\xbf", 0, 0},
      {"smallest 4-byte", "\xf0\x90\x80\x80", 0, 4, 0x10000},
      {"emoji", "\xf0\x9f\x98\x80", 0, 4, 0x1f600},
      {"U+10FFFF, the largest code point", "\xf4\x8f\xbf\xbf", 0, 4, 0x10ffff},
      {"U+110000", "\xf4\x90\x80\x80", 0, 0},
      {"lead F5", "\xf5\x80\x80\x80", 0, 0},
      {"5-byte form", "\xf8\x88\x80\x80\x80", 0, 0},
      {"truncated 4-byte", "\xf0\x9f\x98", 0, 0},
      {"4-byte with a bad last byte", "\xf0\x9f\x98\x41", 0, 0},
      {"FE", "\xfe", 0, 0},
      {"FF", "\xff", 0, 0},
      {"a sequence after ASCII", "a\xc3\xa9", 1, 2, 0xe9},
      {"truncated by the end of the text, not of the sequence", "ab\xe2\x82", 2, 0},
      {"a sequence cut by the view", std::string("\xe2\x82\xac", 2), 0, 0},
  };
  return cases;
}

TEST(Utf8SequenceTest, LengthIsStrict) {
  for (const SequenceCase& test : SequenceCases()) {
    EXPECT_EQ(Utf8SequenceLength(test.text, test.at), test.length) << test.name;
  }
}

TEST(Utf8SequenceTest, DecodesValidSequences) {
  for (const SequenceCase& test : SequenceCases()) {
    if (test.length == 0) continue;
    EXPECT_EQ(DecodeUtf8(test.text, test.at, test.length), test.code_point) << test.name;
  }
}

TEST(Utf8SequenceTest, TextIsValidWhenEverySequenceIs) {
  for (const SequenceCase& test : SequenceCases()) {
    if (test.at != 0) continue;
    EXPECT_EQ(IsValidUtf8(test.text), test.length == test.text.size()) << test.name;
  }
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii \t\n"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("ok so far\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3\xa9\xc3")) << "truncated at the end";
  EXPECT_FALSE(IsValidUtf8("\xe9t\xe9")) << "Latin-1";
}

// --- escapers --------------------------------------------------------------------------

struct EscapeCase {
  const char* name;
  std::string text;
  std::string backslash_escapes;
  std::string hex_only;
};

TEST(EscapeBytesTest, EveryByteThatIsNotPrintableAsciiIsHex) {
  const std::vector<EscapeCase> cases = {
      {"plain", "nginx -g", "nginx -g", "nginx -g"},
      {"empty", "", "", ""},
      {"printable range ends", " ~", " ~", " ~"},
      {"quote", "a\"b", "a\\\"b", "a\"b"},
      {"backslash", "a\\b", "a\\\\b", "a\\x5cb"},
      {"an escape written by the process", "a\\x0ab", "a\\\\x0ab", "a\\x5cx0ab"},
      {"newline", "a\nb", "a\\x0ab", "a\\x0ab"},
      {"carriage return", "\r", "\\x0d", "\\x0d"},
      {"tab", "\t", "\\x09", "\\x09"},
      {"NUL", std::string("a\0b", 3), "a\\x00b", "a\\x00b"},
      {"unit separator", "\x1f", "\\x1f", "\\x1f"},
      {"escape", "\x1b[31m", "\\x1b[31m", "\\x1b[31m"},
      {"DEL", "\x7f", "\\x7f", "\\x7f"},
      {"C1 byte", "\x80\x9b", "\\x80\\x9b", "\\x80\\x9b"},
      {"C1 control as UTF-8", "\xc2\x85", "\\xc2\\x85", "\\xc2\\x85"},
      {"invalid UTF-8", "\xff\xfe", "\\xff\\xfe", "\\xff\\xfe"},
      {"valid multibyte", "caf\xc3\xa9", "caf\\xc3\\xa9", "caf\\xc3\\xa9"},
      {"lower-case hex", "\xab\xcd", "\\xab\\xcd", "\\xab\\xcd"},
  };
  for (const EscapeCase& test : cases) {
    EXPECT_EQ(EscapeBytes(test.text, EscapeStyle::kBackslashEscapes), test.backslash_escapes)
        << test.name;
    EXPECT_EQ(EscapeBytes(test.text, EscapeStyle::kHexOnly), test.hex_only) << test.name;
  }
}

TEST(EscapeBytesTest, TheOutputIsPrintableAsciiWhateverTheInput) {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  for (EscapeStyle style : {EscapeStyle::kBackslashEscapes, EscapeStyle::kHexOnly}) {
    std::string out = EscapeBytes(every_byte, style);
    for (unsigned char c : out) {
      ASSERT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
    }
    // 95 printable bytes stay (two of them as two characters in one style, one as four in
    // the other); the other 161 are four characters each.
    EXPECT_EQ(out.size(),
              style == EscapeStyle::kBackslashEscapes ? 95 + 2 + 161 * 4 : 95 + 3 + 161 * 4);
  }
}

TEST(QuoteBytesTest, QuotesAndCutsAfterTheLimit) {
  struct Case {
    const char* name;
    std::string text;
    size_t max_bytes;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"plain", "sshd", 64, "\"sshd\""},
      {"empty", "", 64, "\"\""},
      {"hostile", std::string("q\"\\\n\0\xff", 6), 64, "\"q\\\"\\\\\\x0a\\x00\\xff\""},
      {"exactly the limit", std::string(64, 'a'), 64, "\"" + std::string(64, 'a') + "\""},
      {"one over", std::string(64, 'a') + "b", 64, "\"" + std::string(64, 'a') + "...\""},
      {"the limit counts input bytes, not escapes", std::string(64, '\n'), 64,
       "\"" +
           [] {
             std::string s;
             for (int i = 0; i < 64; ++i) s += "\\x0a";
             return s;
           }() +
           "\""},
      {"cut inside a multibyte sequence", "ab\xc3\xa9", 3, "\"ab\\xc3...\""},
      {"a smaller limit", "abcdef", 3, "\"abc...\""},
      {"no room", "x", 0, "\"...\""},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(QuoteBytes(test.text, test.max_bytes), test.expected) << test.name;
  }
  EXPECT_EQ(QuoteBytes(std::string(65, 'z')), "\"" + std::string(64, 'z') + "...\"")
      << "64 bytes by default";
  EXPECT_EQ(QuoteBytes(std::string(64, 'z')), "\"" + std::string(64, 'z') + "\"");
}

TEST(JsonStringTest, EscapesControlsAndReplacesInvalidUtf8) {
  const std::string kReplacement = "\xef\xbf\xbd";
  struct Case {
    const char* name;
    std::string raw;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"plain", "nginx", "\"nginx\""},
      {"empty", "", "\"\""},
      {"quote", "a\"b", "\"a\\\"b\""},
      {"backslash", "a\\b", "\"a\\\\b\""},
      {"newline", "a\nb", "\"a\\nb\""},
      {"tab", "\t", "\"\\t\""},
      {"carriage return", "\r", "\"\\r\""},
      {"NUL", std::string("a\0b", 3), "\"a\\u0000b\""},
      {"other C0 controls", "\x01\x08\x0c\x1b\x1f", "\"\\u0001\\u0008\\u000c\\u001b\\u001f\""},
      // RFC 8259 section 7 requires escapes for U+0000-U+001F only; DEL and C1 controls
      // are valid as they are.
      {"DEL", "\x7f", "\"\x7f\""},
      {"C1 control as UTF-8", "\xc2\x85", "\"\xc2\x85\""},
      {"valid multibyte", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
      {"line separator", "\xe2\x80\xa8", "\"\xe2\x80\xa8\""},
      {"invalid UTF-8", "\xff\xfe", "\"" + kReplacement + kReplacement + "\""},
      {"Latin-1", "caf\xe9", "\"caf" + kReplacement + "\""},
      {"lone C1 byte", "\x85", "\"" + kReplacement + "\""},
      {"surrogate", "\xed\xa0\x80", "\"" + kReplacement + kReplacement + kReplacement + "\""},
      {"truncated then a quote", "\xc3\"", "\"" + kReplacement + "\\\"\""},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(JsonString(test.raw), test.expected) << test.name;
  }
}

TEST(DecodeBase64Test, DecodesPaddedTextAndIgnoresWhitespace) {
  EXPECT_EQ(DecodeBase64(""), std::string());
  EXPECT_EQ(DecodeBase64("Y2Fm6Q=="), std::string("caf\xe9"));
  EXPECT_EQ(DecodeBase64("Y2Fm6Q\n =="), std::string("caf\xe9"));
  EXPECT_EQ(DecodeBase64("YWI="), std::string("ab"));
  EXPECT_EQ(DecodeBase64("YWJj"), std::string("abc"));
  EXPECT_EQ(DecodeBase64("//79"), std::string("\xff\xfe\xfd"));
  EXPECT_EQ(DecodeBase64("AA=="), std::string(1, '\0'));
}

TEST(DecodeBase64Test, RefusesWhatIsNotBase64) {
  // Bytes >= 0x80 crashed yaml-cpp's decoder: found by tests/fuzz/policy_fuzz.cpp.
  for (std::string_view bad : {"#", "Y2Fm6Q", "Y", "Y2F", "YW=I", "YWI==", "=YWI",
                               "YWI=YWI=", "Y\xff==", "\x80\x80\x80\x80", "YWJj="}) {
    EXPECT_EQ(DecodeBase64(bad), std::nullopt) << QuoteBytes(bad);
  }
}

}  // namespace
}  // namespace connwatch
