// The logger: level names, logfmt values that hostile bytes cannot break out of, and the
// lines Log writes to stderr (captured at the fd).
#include "base/log.h"

#include <gtest/gtest.h>
#include <time.h>

#include <regex>
#include <string>
#include <vector>

#include "support/captured_output.h"

namespace connwatch {
namespace {

using testing::CapturedRun;
using testing::RunCaptured;

TEST(LogLevelTest, ParsesEveryLevelName) {
  const std::vector<std::pair<std::string, LogLevel>> cases = {
      {"debug", LogLevel::kDebug},
      {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},
      {"error", LogLevel::kError},
  };
  for (const auto& [text, expected] : cases) {
    // Start from a level other than the expected one, so that a parse that leaves it alone
    // fails.
    LogLevel level = expected == LogLevel::kError ? LogLevel::kDebug : LogLevel::kError;
    EXPECT_TRUE(ParseLogLevel(text, level)) << text;
    EXPECT_EQ(level, expected) << text;
  }
}

TEST(LogLevelTest, RejectsOtherWordsAndCaseVariants) {
  for (const std::string& text :
       {std::string(""), std::string("INFO"), std::string("Info"), std::string("DEBUG"),
        std::string("Warn"), std::string("ERROR"), std::string("warning"), std::string("err"),
        std::string("inf"), std::string("fatal"), std::string("trace"), std::string(" info"),
        std::string("info "), std::string("info\n"), std::string("info\0", 5), std::string("0"),
        std::string("debugx")}) {
    LogLevel level = LogLevel::kInfo;
    EXPECT_FALSE(ParseLogLevel(text, level)) << "\"" << text << "\"";
  }
}

struct ValueCase {
  const char* name;
  std::string value;
  std::string expected;
};

TEST(LogfmtValueTest, QuotesAndEscapesWhatCouldBreakTheLine) {
  const std::vector<ValueCase> cases = {
      {"plain word", "nginx", "nginx"},
      {"plain with punctuation", "127.0.0.1:10107", "127.0.0.1:10107"},
      {"empty", "", "\"\""},
      {"space", "two words", "\"two words\""},
      {"leading space", " x", "\" x\""},
      {"equals sign", "a=b", "\"a=b\""},
      {"quote", "say\"hi", "\"say\\\"hi\""},
      {"backslash", "back\\slash", "\"back\\\\slash\""},
      {"newline", "new\nline", "\"new\\x0aline\""},
      {"carriage return", "cr\r", "\"cr\\x0d\""},
      {"tab", "tab\tname", "\"tab\\x09name\""},
      {"NUL", std::string("a\0b", 3), "\"a\\x00b\""},
      {"DEL", "del\x7f", "\"del\\x7f\""},
      {"invalid UTF-8", "\xff\xfe", "\"\\xff\\xfe\""},
      {"valid UTF-8, escaped byte-wise", "caf\xc3\xa9", "\"caf\\xc3\\xa9\""},
      {"4-byte UTF-8", "\xf0\x9f\x98\x80", "\"\\xf0\\x9f\\x98\\x80\""},
      {"a forged field", "x level=error msg=\"forged\"", "\"x level=error msg=\\\"forged\\\"\""},
      {"a forged line", "x\nts=2026-01-01T00:00:00.000Z level=error",
       "\"x\\x0ats=2026-01-01T00:00:00.000Z level=error\""},
  };
  for (const ValueCase& test : cases) {
    EXPECT_EQ(LogfmtValue(test.value), test.expected) << test.name;
  }
}

// Each test starts at info (other suites' commands set their own level and leave it) and
// the fixture puts info, the default, back after tests that set another.
class LogOutputTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogLevel(LogLevel::kInfo); }
  void TearDown() override { SetLogLevel(LogLevel::kInfo); }

  static std::string Capture(LogLevel level, std::string_view msg,
                             std::initializer_list<LogField> fields = {}) {
    CapturedRun run;
    RunCaptured(
        [&] {
          Log(level, msg, fields);
          return 0;
        },
        run);
    EXPECT_EQ(run.out, "") << "the log goes to stderr only";
    return run.err;
  }
};

const char* const kTimestamp = "ts=\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z";

TEST_F(LogOutputTest, ALineIsTimestampLevelMessageAndFields) {
  std::string line;
  ASSERT_NO_FATAL_FAILURE(line = Capture(LogLevel::kInfo, "listening",
                                         {{"address", "127.0.0.1:10107"}, {"tls", "false"}}));
  EXPECT_TRUE(std::regex_match(
      line, std::regex(std::string(kTimestamp) +
                       " level=info msg=\"listening\" address=127\\.0\\.0\\.1:10107 tls=false\n")))
      << line;
}

TEST_F(LogOutputTest, TheTimestampIsNowInUtc) {
  time_t before = time(nullptr);
  std::string line;
  ASSERT_NO_FATAL_FAILURE(line = Capture(LogLevel::kWarn, "m"));
  time_t after = time(nullptr);
  ASSERT_GT(line.size(), 27u) << line;
  ASSERT_EQ(line.substr(0, 3), "ts=");
  tm parsed{};
  const char* end = strptime(line.c_str() + 3, "%Y-%m-%dT%H:%M:%S", &parsed);
  ASSERT_NE(end, nullptr) << line;
  EXPECT_EQ(*end, '.') << "milliseconds follow: " << line;
  time_t stamped = timegm(&parsed);
  EXPECT_GE(stamped, before - 1) << line;
  EXPECT_LE(stamped, after + 1) << line;
}

TEST_F(LogOutputTest, EachLevelIsNamed) {
  SetLogLevel(LogLevel::kDebug);
  const std::vector<std::pair<LogLevel, std::string>> cases = {
      {LogLevel::kDebug, "debug"},
      {LogLevel::kInfo, "info"},
      {LogLevel::kWarn, "warn"},
      {LogLevel::kError, "error"},
  };
  for (const auto& [level, name] : cases) {
    std::string line;
    ASSERT_NO_FATAL_FAILURE(line = Capture(level, "m"));
    EXPECT_TRUE(std::regex_match(
        line, std::regex(std::string(kTimestamp) + " level=" + name + " msg=\"m\"\n")))
        << line;
  }
}

TEST_F(LogOutputTest, FieldValuesAreEscaped) {
  std::string line;
  ASSERT_NO_FATAL_FAILURE(line = Capture(LogLevel::kInfo, "process",
                                         {{"name", "evil\nts=x level=error msg=\"forged\""},
                                          {"empty", ""},
                                          {"nul", std::string("a\0b", 3)}}));
  size_t fields = line.find(" msg=\"process\" ");
  ASSERT_NE(fields, std::string::npos) << line;
  EXPECT_EQ(line.substr(fields),
            " msg=\"process\" name=\"evil\\x0ats=x level=error msg=\\\"forged\\\"\" empty=\"\" "
            "nul=\"a\\x00b\"\n");
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
}

TEST_F(LogOutputTest, TheMessageIsEscapedToo) {
  std::string line;
  ASSERT_NO_FATAL_FAILURE(line = Capture(LogLevel::kInfo, "a \"quoted\"\nmessage\\"));
  size_t msg = line.find(" msg=");
  ASSERT_NE(msg, std::string::npos) << line;
  EXPECT_EQ(line.substr(msg), " msg=\"a \\\"quoted\\\"\\x0amessage\\\\\"\n");
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
}

TEST_F(LogOutputTest, TheLevelFiltersLowerLevels) {
  const std::vector<LogLevel> all = {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                                     LogLevel::kError};
  for (LogLevel threshold : all) {
    SetLogLevel(threshold);
    for (LogLevel level : all) {
      std::string line;
      ASSERT_NO_FATAL_FAILURE(line = Capture(level, "filtered?"));
      if (level < threshold) {
        EXPECT_EQ(line, "") << static_cast<int>(level) << " below " << static_cast<int>(threshold);
      } else {
        EXPECT_NE(line.find("msg=\"filtered?\""), std::string::npos)
            << static_cast<int>(level) << " at or above " << static_cast<int>(threshold);
      }
    }
  }
}

}  // namespace
}  // namespace connwatch
