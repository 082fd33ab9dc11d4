// The one-shot commands' text output: Printable cells that no process name can break out of,
// and FormatTable's columns.
#include "cli/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace connwatch {
namespace {

TEST(PrintableTest, OnlyPrintableAsciiOtherThanBackslashStays) {
  struct Case {
    const char* name;
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"plain", "nginx: worker process", "nginx: worker process"},
      {"empty", "", ""},
      {"quote stays", "say \"hi\"", "say \"hi\""},
      {"backslash", "back\\slash", "back\\x5cslash"},
      {"an escape the process wrote itself", "fake\\x0aline", "fake\\x5cx0aline"},
      {"newline", "row\nforged row", "row\\x0aforged row"},
      {"carriage return", "row\rover", "row\\x0dover"},
      {"tab", "a\tb", "a\\x09b"},
      {"NUL", std::string("a\0b", 3), "a\\x00b"},
      {"terminal escape", "\x1b[2J", "\\x1b[2J"},
      {"DEL", "\x7f", "\\x7f"},
      {"C1 byte", "\x9b", "\\x9b"},
      {"C1 control as UTF-8", "\xc2\x85", "\\xc2\\x85"},
      {"invalid UTF-8", "\xff\xfe", "\\xff\\xfe"},
      {"valid multibyte", "caf\xc3\xa9", "caf\\xc3\\xa9"},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(Printable(test.text), test.expected) << test.name;
  }
}

TEST(FormatUtcTimeTest, Rfc3339InUtcToTheSecond) {
  EXPECT_EQ(FormatUtcTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtcTime(1764645531.999), "2025-12-02T03:18:51Z");
  EXPECT_EQ(FormatUtcTime(253402300799), "9999-12-31T23:59:59Z");
  for (double bad : {-1.0, 253402300800.0, std::nan(""), HUGE_VAL}) {
    EXPECT_EQ(FormatUtcTime(bad), "") << bad;
  }
}

TEST(FormatTableTest, NothingForNoRows) { EXPECT_EQ(FormatTable({}), ""); }

TEST(FormatTableTest, AHeaderAloneIsOneLine) {
  EXPECT_EQ(FormatTable({{"PROTO", "STATE", "LOCAL"}}), "PROTO  STATE  LOCAL\n");
  EXPECT_EQ(FormatTable({{"ONLY"}}), "ONLY\n");
}

TEST(FormatTableTest, ColumnsAreLeftAlignedTwoSpacesApart) {
  EXPECT_EQ(FormatTable({
                {"PROTO", "LOCAL", "PROCESS"},
                {"tcp", "127.0.0.1:22", "1/sshd"},
                {"udp6", "[::]:5353", "700/avahi-daemon"},
            }),
            "PROTO  LOCAL         PROCESS\n"
            "tcp    127.0.0.1:22  1/sshd\n"
            "udp6   [::]:5353     700/avahi-daemon\n");
}

TEST(FormatTableTest, TheWidestCellOfAnyRowSetsTheColumn) {
  // Here the header is the widest in one column and the narrowest in another; the last
  // column is never padded.
  EXPECT_EQ(FormatTable({
                {"A_LONG_HEADER", "B", "C"},
                {"x", "a much wider cell", "end"},
            }),
            "A_LONG_HEADER  B                  C\n"
            "x              a much wider cell  end\n");
}

TEST(FormatTableTest, EmptyCellsKeepTheirColumn) {
  EXPECT_EQ(FormatTable({
                {"A", "B", "C"},
                {"", "x", ""},
                {"", "", "z"},
                {"", "", ""},
            }),
            "A  B  C\n"
            "   x  \n"
            "      z\n"
            "      \n");
}

TEST(FormatTableTest, RowsLongerThanTheHeaderKeepTheirCells) {
  EXPECT_EQ(FormatTable({{"A"}, {"x", "yy"}, {"zzz", "w", "v"}}), "A\nx    yy\nzzz  w   v\n");
}

TEST(FormatTableTest, PrintableCellsCannotAddRows) {
  std::string table = FormatTable({
      {"PROCESS", "USER"},
      {Printable("evil\n1/sshd  root"), "nobody"},
  });
  EXPECT_EQ(table,
            "PROCESS               USER\n"
            "evil\\x0a1/sshd  root  nobody\n");
}

}  // namespace
}  // namespace connwatch
