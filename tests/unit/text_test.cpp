#include "base/text.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace connwatch
