// Tab-separated fields of hostile text (base/tab_fields.h).
#include "base/tab_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace connwatch {
namespace {

std::string Line(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += '\t';
    AppendTabField(fields[i], out);
  }
  return out;
}

TEST(TabFields, EscapesOnlyBackslashTabAndNewline) {
  std::string out;
  AppendTabField("a\\b\tc\nd\r\"e", out);
  EXPECT_EQ(out, "a\\\\b\\tc\\nd\r\"e");
}

TEST(TabFields, EveryByteComesBack) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::vector<std::string> fields = {"", all, "\xff\xfe not UTF-8", "\\t", "", "x\\"};
  std::string line = Line(fields);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = SplitTabFields(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, fields);
  EXPECT_EQ(SplitTabFields("")->size(), 1u);
  EXPECT_EQ(SplitTabFields("\t")->size(), 2u);
}

TEST(TabFields, RefusesWhatIsNeverWritten) {
  EXPECT_FALSE(SplitTabFields("a\\"));     // backslash at the end
  EXPECT_FALSE(SplitTabFields("a\\x41"));  // unknown escape
  EXPECT_FALSE(SplitTabFields("a\nb"));    // raw newline
  EXPECT_TRUE(SplitTabFields("a\\\\"));
}

}  // namespace
}  // namespace connwatch
