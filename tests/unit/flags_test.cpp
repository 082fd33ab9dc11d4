#include "cli/flags.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace connwatch {
namespace {

using std::chrono::milliseconds;
using Outcome = ParseResult::Outcome;

enum class Color { kRed, kGreen };

// The variables a test command's flags set, with their defaults.
struct Values {
  std::string address = ":10107", path = "/metrics", file;
  bool listening = false;
  std::string format = "text";
  Color color = Color::kGreen;
  uint32_t every = 30;
  size_t findings = 200;
  uint8_t small = 7;
  milliseconds interval{10000};
  std::string interval_text;
};

// One flag of every kind, and one required positional argument.
Command TestCommand(Values& v) {
  return {
      "connwatch test",
      "connwatch test [flags] FILE",
      "A command for the tests.",
      {
          StringFlag("web.listen-address", "Where to listen.", &v.address),
          StringFlag("config.file", "A file.", &v.file),
          CheckedStringFlag(
              "web.telemetry-path", "Metrics path.", &v.path, "start with / and not be /",
              [](std::string_view path) { return path.starts_with("/") && path != "/"; }),
          BoolFlag("listening", "Only listeners.", &v.listening),
          ChoiceFlag("format", "Output format.", &v.format, {"text", "json"}),
          TypedChoiceFlag<Color>("color", "A color.", &v.color,
                                 {{"red", Color::kRed}, {"green", Color::kGreen}}),
          IntegerFlag("every", "Positive.", &v.every, 1, 999'999'999),
          IntegerFlag("findings", "Non-negative.", &v.findings, 0, 999'999'999),
          IntegerFlag("small", "Capped by its type.", &v.small, 1, 1000),
          DurationFlag("interval", "How often.", &v.interval, milliseconds(100), &v.interval_text),
          PrintFlag("version", "Print the version and exit.", "test version 1\n"),
      },
      {"FILE"},
  };
}

constexpr const char* kTestHelp =
    "usage: connwatch test [flags] FILE\n"
    "\n"
    "A command for the tests.\n"
    "\n"
    "flags:\n"
    "  --web.listen-address=:10107\n"
    "      Where to listen.\n"
    "  --config.file=\"\"\n"
    "      A file.\n"
    "  --web.telemetry-path=/metrics\n"
    "      Metrics path. Must start with / and not be /.\n"
    "  --listening=false\n"
    "      Only listeners.\n"
    "  --format=text\n"
    "      Output format. Must be one of text, json.\n"
    "  --color=green\n"
    "      A color. Must be one of red, green.\n"
    "  --every=30\n"
    "      Positive. Must be a positive integer (at most 999999999).\n"
    "  --findings=200\n"
    "      Non-negative. Must be a non-negative integer (at most 999999999).\n"
    "  --small=7\n"
    "      Capped by its type. Must be a positive integer (at most 255).\n"
    "  --interval=10s\n"
    "      How often. Must be a duration of at least 100ms (e.g. 10s).\n"
    "  --version\n"
    "      Print the version and exit.\n"
    "  --help\n"
    "      Show this help and exit.\n";

// Parses `args` for the test command into fresh defaults.
ParseResult Parse(const std::vector<std::string>& args, Values& values) {
  return ParseArgs(TestCommand(values), args);
}

std::string ErrorOf(const std::vector<std::string>& args) {
  Values values;
  ParseResult result = Parse(args, values);
  EXPECT_EQ(result.outcome, Outcome::kError) << testing::PrintToString(args);
  return result.text;
}

TEST(FlagsTest, DefaultsStayWithoutFlags) {
  Values v;
  ParseResult result = Parse({"policy.yaml"}, v);
  ASSERT_EQ(result.outcome, Outcome::kRun) << result.text;
  EXPECT_EQ(result.arguments, std::vector<std::string>{"policy.yaml"});
  EXPECT_EQ(v.address, ":10107");
  EXPECT_EQ(v.path, "/metrics");
  EXPECT_EQ(v.file, "");
  EXPECT_FALSE(v.listening);
  EXPECT_EQ(v.format, "text");
  EXPECT_EQ(v.color, Color::kGreen);
  EXPECT_EQ(v.every, 30u);
  EXPECT_EQ(v.findings, 200u);
  EXPECT_EQ(v.small, 7);
  EXPECT_EQ(v.interval, milliseconds(10000));
  EXPECT_EQ(v.interval_text, "10s");
}

TEST(FlagsTest, ParsesEveryKindInBothForms) {
  Values v;
  ParseResult result =
      Parse({"--web.listen-address=127.0.0.1:0", "--web.telemetry-path", "/m", "--listening",
             "--format", "json", "--color=red", "--every=1", "--findings", "0", "--small=255",
             "--interval=1m30s", "--config.file", "", "policy.yaml"},
            v);
  ASSERT_EQ(result.outcome, Outcome::kRun) << result.text;
  EXPECT_EQ(result.arguments, std::vector<std::string>{"policy.yaml"});
  EXPECT_EQ(v.address, "127.0.0.1:0");
  EXPECT_EQ(v.path, "/m");
  EXPECT_TRUE(v.listening);
  EXPECT_EQ(v.format, "json");
  EXPECT_EQ(v.color, Color::kRed);
  EXPECT_EQ(v.every, 1u);
  EXPECT_EQ(v.findings, 0u);
  EXPECT_EQ(v.small, 255);
  EXPECT_EQ(v.interval, milliseconds(90000));
  EXPECT_EQ(v.interval_text, "1m30s");
  EXPECT_EQ(v.file, "");
}

TEST(FlagsTest, BooleansAreBareOrTrueOrFalse) {
  for (const auto& [arg, want] : std::vector<std::pair<std::string, bool>>{
           {"--listening", true}, {"--listening=true", true}, {"--listening=false", false}}) {
    Values v;
    v.listening = !want;
    ParseResult result = Parse({arg, "f"}, v);
    ASSERT_EQ(result.outcome, Outcome::kRun) << arg << ": " << result.text;
    EXPECT_EQ(v.listening, want) << arg;
  }
  // "--listening false" is a flag and a positional argument, not a value.
  Values v;
  ParseResult result = Parse({"--listening", "false"}, v);
  ASSERT_EQ(result.outcome, Outcome::kRun) << result.text;
  EXPECT_EQ(result.arguments, std::vector<std::string>{"false"});
  EXPECT_EQ(ErrorOf({"--listening=maybe", "f"}),
            "--listening: must be true or false; got \"maybe\"");
}

TEST(FlagsTest, TheLastSettingWins) {
  Values v;
  ASSERT_EQ(Parse({"--format=json", "--format=text", "--every", "5", "--every=6", "f"}, v).outcome,
            Outcome::kRun);
  EXPECT_EQ(v.format, "text");
  EXPECT_EQ(v.every, 6u);
}

TEST(FlagsTest, BadValuesNameTheFlagAndWhatItTakes) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--format=xml"}, "--format: must be one of text, json; got \"xml\""},
      {{"--format="}, "--format: must be one of text, json; got \"\""},
      {{"--color", "blue"}, "--color: must be one of red, green; got \"blue\""},
      {{"--every=0"}, "--every: must be a positive integer (at most 999999999); got \"0\""},
      {{"--every=1000000000"},
       "--every: must be a positive integer (at most 999999999); got \"1000000000\""},
      {{"--every=-1"}, "--every: must be a positive integer (at most 999999999); got \"-1\""},
      {{"--every=+1"}, "--every: must be a positive integer (at most 999999999); got \"+1\""},
      {{"--every= 1"}, "--every: must be a positive integer (at most 999999999); got \" 1\""},
      {{"--every=1.5"}, "--every: must be a positive integer (at most 999999999); got \"1.5\""},
      {{"--every=0x10"}, "--every: must be a positive integer (at most 999999999); got \"0x10\""},
      {{"--every="}, "--every: must be a positive integer (at most 999999999); got \"\""},
      {{"--every=99999999999999999999999"},
       "--every: must be a positive integer (at most 999999999); got \"99999999999999999999999\""},
      {{"--findings=-1"},
       "--findings: must be a non-negative integer (at most 999999999); got \"-1\""},
      {{"--small=256"}, "--small: must be a positive integer (at most 255); got \"256\""},
      {{"--interval=50ms"},
       "--interval: must be a duration of at least 100ms (e.g. 10s); got \"50ms\""},
      {{"--interval=10"},
       "--interval: must be a duration of at least 100ms (e.g. 10s); got \"10\""},
      {{"--interval=-1s"},
       "--interval: must be a duration of at least 100ms (e.g. 10s); got \"-1s\""},
      {{"--web.telemetry-path=/"},
       "--web.telemetry-path: must start with / and not be /; got \"/\""},
      {{"--web.telemetry-path", "metrics"},
       "--web.telemetry-path: must start with / and not be /; got \"metrics\""},
      {{"--format=x\"y\x1b"}, "--format: must be one of text, json; got \"x\\\"y\\x1b\""},
  };
  for (const auto& [args, want] : cases) {
    std::vector<std::string> with_file = args;
    with_file.push_back("f");
    EXPECT_EQ(ErrorOf(with_file), want);
  }
}

TEST(FlagsTest, ABadValueLeavesTheVariableAlone) {
  Values v;
  EXPECT_EQ(Parse({"--every=0", "f"}, v).outcome, Outcome::kError);
  EXPECT_EQ(v.every, 30u);
  EXPECT_EQ(Parse({"--interval=1ms", "f"}, v).outcome, Outcome::kError);
  EXPECT_EQ(v.interval, milliseconds(10000));
  EXPECT_EQ(v.interval_text, "10s");
  EXPECT_EQ(Parse({"--web.telemetry-path=/", "f"}, v).outcome, Outcome::kError);
  EXPECT_EQ(v.path, "/metrics");
}

TEST(FlagsTest, BoundsAreInclusive) {
  Values v;
  ParseResult result =
      Parse({"--every=999999999", "--findings=999999999", "--interval=100ms", "f"}, v);
  ASSERT_EQ(result.outcome, Outcome::kRun) << result.text;
  EXPECT_EQ(v.every, 999'999'999u);
  EXPECT_EQ(v.findings, 999'999'999u);
  EXPECT_EQ(v.interval, milliseconds(100));
  EXPECT_EQ(v.interval_text, "100ms");
}

TEST(FlagsTest, RejectsWhatItCannotRead) {
  EXPECT_EQ(ErrorOf({"--nope", "f"}), "unknown flag --nope");
  EXPECT_EQ(ErrorOf({"--nope=1", "f"}), "unknown flag --nope");
  EXPECT_EQ(ErrorOf({"-x", "f"}), "unknown flag -x");
  EXPECT_EQ(ErrorOf({"-format=json", "f"}), "unknown flag -format");
  EXPECT_EQ(ErrorOf({"--no\x1b[2J", "f"}), "unknown flag --no\\x1b[2J");
  EXPECT_EQ(ErrorOf({"f", "--format"}), "--format: needs a value");
  EXPECT_EQ(ErrorOf({"f", "g"}), "unexpected argument \"g\"");
  EXPECT_EQ(ErrorOf({}), "missing argument FILE");
  EXPECT_EQ(ErrorOf({"--format=json"}), "missing argument FILE");
}

TEST(FlagsTest, DoubleDashEndsTheFlags) {
  Values v;
  ParseResult result = Parse({"--format=json", "--", "--format=xml"}, v);
  ASSERT_EQ(result.outcome, Outcome::kRun) << result.text;
  EXPECT_EQ(result.arguments, std::vector<std::string>{"--format=xml"});
  EXPECT_EQ(v.format, "json");
  result = Parse({"-"}, v);
  ASSERT_EQ(result.outcome, Outcome::kRun) << result.text;
  EXPECT_EQ(result.arguments, std::vector<std::string>{"-"});
}

TEST(FlagsTest, HelpShowsEveryFlagWithItsDeclaredDefault) {
  Values v;
  EXPECT_EQ(HelpText(TestCommand(v)), kTestHelp);
  // Parsed values do not change the defaults --help shows.
  ParseResult result = Parse({"--format=json", "--every=5", "--help"}, v);
  ASSERT_EQ(result.outcome, Outcome::kPrint);
  EXPECT_EQ(result.text, kTestHelp);
}

TEST(FlagsTest, HelpWinsOverBadValuesAndMissingArguments) {
  Values v;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"--help=true"},
                                             {"--every=0", "--help"},
                                             {"--help", "--every=0"},
                                             {"a", "b", "c", "--help"}}) {
    ParseResult result = Parse(args, v);
    EXPECT_EQ(result.outcome, Outcome::kPrint) << testing::PrintToString(args);
    EXPECT_EQ(result.text, kTestHelp);
  }
  // Not over what the parser cannot read before it: that is the error to fix.
  EXPECT_EQ(ErrorOf({"--nope", "--help"}), "unknown flag --nope");
  EXPECT_EQ(Parse({"--help=false", "f"}, v).outcome, Outcome::kRun);
  EXPECT_EQ(ErrorOf({"--help=maybe", "f"}), "--help: must be true or false; got \"maybe\"");
}

TEST(FlagsTest, PrintFlagsPrintTheirTextBeforeHelp) {
  Values v;
  ParseResult result = Parse({"--version"}, v);
  ASSERT_EQ(result.outcome, Outcome::kPrint);
  EXPECT_EQ(result.text, "test version 1\n");
  EXPECT_EQ(Parse({"--help", "--version"}, v).text, "test version 1\n");
  EXPECT_EQ(Parse({"--version=false", "f"}, v).outcome, Outcome::kRun);
}

TEST(FlagsTest, DurationDefaultsAreShownInPrometheusSyntax) {
  for (const auto& [ms, want] : std::vector<std::pair<int64_t, std::string>>{
           {250, "250ms"}, {1500, "1s500ms"}, {120000, "2m"}, {0, "0s"}}) {
    milliseconds value(ms);
    std::string text;
    Flag flag = DurationFlag("d", "", &value, milliseconds(0), &text);
    EXPECT_EQ(flag.default_text, want);
    EXPECT_EQ(text, want);
  }
}

TEST(FlagsTest, LongHelpIsWrappedAtTheCodeWidth) {
  std::string help, value = "x";
  for (int i = 0; i < 40; ++i) help += (i ? " word" : "word") + std::to_string(i);
  Command command{"connwatch test", "connwatch test", "", {StringFlag("long", help, &value)}, {}};
  std::string text = HelpText(command);
  size_t begin = text.find("  --long=x\n") + std::string("  --long=x\n").size();
  size_t end = text.find("  --help\n");
  ASSERT_LT(begin, end) << text;
  std::string joined;
  int lines = 0;
  for (size_t at = begin; at < end; ++lines) {
    size_t newline = text.find('\n', at);
    std::string line = text.substr(at, newline - at);
    EXPECT_LE(line.size(), 100u) << line;
    ASSERT_TRUE(line.starts_with("      ") && line[6] != ' ') << line;
    joined += (joined.empty() ? "" : " ") + line.substr(6);
    at = newline + 1;
  }
  EXPECT_GE(lines, 3);
  EXPECT_EQ(joined, help);
}

// Reads back what was written to a temporary FILE*.
std::string Contents(FILE* file) {
  std::string text;
  rewind(file);
  for (int c; (c = fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  return text;
}

struct Streams {
  Streams() : out(tmpfile()), err(tmpfile()) {}
  ~Streams() {
    fclose(out);
    fclose(err);
  }
  FILE* out;
  FILE* err;
};

TEST(FlagsTest, CommandLineRunsWithTheArguments) {
  Values v;
  Streams s;
  std::vector<std::string> arguments;
  EXPECT_EQ(ParseCommandLine(TestCommand(v), {"--every=3", "f"}, &arguments, s.out, s.err),
            std::nullopt);
  EXPECT_EQ(arguments, std::vector<std::string>{"f"});
  EXPECT_EQ(v.every, 3u);
  EXPECT_EQ(Contents(s.out), "");
  EXPECT_EQ(Contents(s.err), "");
}

TEST(FlagsTest, CommandLineHelpGoesToStdoutWithExitCode0) {
  Values v;
  Streams s;
  EXPECT_EQ(ParseCommandLine(TestCommand(v), {"--help"}, nullptr, s.out, s.err), 0);
  EXPECT_EQ(Contents(s.out), kTestHelp);
  EXPECT_EQ(Contents(s.err), "");
}

TEST(FlagsTest, CommandLineErrorsGoToStderrWithTheHintAndExitCode2) {
  Values v;
  Streams s;
  EXPECT_EQ(ParseCommandLine(TestCommand(v), {"--format=xml", "f"}, nullptr, s.out, s.err), 2);
  EXPECT_EQ(Contents(s.out), "");
  EXPECT_EQ(Contents(s.err),
            "connwatch test: --format: must be one of text, json; got \"xml\"\n"
            "(see connwatch test --help)\n");
}

TEST(FlagsTest, UsageErrorPrintsTheHint) {
  Values v;
  Streams s;
  EXPECT_EQ(UsageError(TestCommand(v), "--default is required", s.err), kUsageErrorExitCode);
  EXPECT_EQ(kUsageErrorExitCode, 2);
  EXPECT_EQ(Contents(s.err),
            "connwatch test: --default is required\n(see connwatch test --help)\n");
}

// --web.listen-address as exporter-toolkit's: each use adds an address, the first replaces
// the default; every value is checked.
TEST(FlagsTest, ARepeatedFlagCollectsItsValues) {
  std::vector<std::string> addresses = {":10107"};
  Command command{
      "connwatch test",
      "connwatch test [flags]",
      "",
      {RepeatedStringFlag(
          "web.listen-address", "Where to listen.", &addresses, "contain a colon",
          [](std::string_view text) { return text.find(':') != std::string_view::npos; })},
      {}};
  EXPECT_NE(HelpText(command).find("--web.listen-address=:10107"), std::string::npos)
      << HelpText(command);
  ParseResult none = ParseArgs(command, {});
  EXPECT_EQ(none.outcome, Outcome::kRun);
  EXPECT_EQ(addresses, (std::vector<std::string>{":10107"}));
  ParseResult two =
      ParseArgs(command, {"--web.listen-address=127.0.0.1:1", "--web.listen-address", "[::1]:2"});
  EXPECT_EQ(two.outcome, Outcome::kRun) << two.text;
  EXPECT_EQ(addresses, (std::vector<std::string>{"127.0.0.1:1", "[::1]:2"}));
  std::vector<std::string> fresh = {":10107"};
  Command again = command;
  again.flags = {RepeatedStringFlag(
      "web.listen-address", "", &fresh, "contain a colon",
      [](std::string_view text) { return text.find(':') != std::string_view::npos; })};
  ParseResult bad = ParseArgs(again, {"--web.listen-address=10107"});
  EXPECT_EQ(bad.outcome, Outcome::kError);
  EXPECT_NE(bad.text.find("--web.listen-address"), std::string::npos) << bad.text;
  EXPECT_EQ(fresh, (std::vector<std::string>{":10107"}));
}

}  // namespace
}  // namespace connwatch
