// The shared flags through the real parser (cli/flags.h ParseCommandLine): every name means
// what the owning layer's parser says it means, bad values are refused with the list of
// names, and the defaults are the variables' values at declaration.
#include "cli/common_flags.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace connwatch {
namespace {

// The variables a test command's shared flags set.
struct Values {
  SourceMode source = SourceMode::kAuto;
  LogLevel level = LogLevel::kInfo;
  std::string procfs = "/proc";
  std::string storage = kDefaultStoragePath;
};

Command TestCommand(Values& v) {
  return {"connwatch test",
          "connwatch test [flags]",
          "",
          {SourceModeFlag(&v.source, "Where sockets come from."), LogLevelFlag(&v.level),
           ProcfsFlag(&v.procfs), StoragePathFlag(&v.storage, "Where state is kept.")},
          {}};
}

// Reads back what was written to a temporary FILE*.
std::string Contents(FILE* file) {
  std::string text;
  rewind(file);
  for (int c; (c = fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  return text;
}

struct Parsed {
  std::optional<int> exit_code;
  std::string out, err;
};

Parsed Parse(Values& v, const std::vector<std::string>& args) {
  FILE* out = tmpfile();
  FILE* err = tmpfile();
  Parsed parsed;
  if (out == nullptr || err == nullptr) {
    ADD_FAILURE() << "tmpfile";
  } else {
    parsed.exit_code = ParseCommandLine(TestCommand(v), args, nullptr, out, err);
    parsed.out = Contents(out);
    parsed.err = Contents(err);
  }
  if (out != nullptr) fclose(out);
  if (err != nullptr) fclose(err);
  return parsed;
}

TEST(CommonFlagsTest, EverySourceNameMeansWhatParseSourceModeSays) {
  const std::vector<std::string> names = {"auto", "netlink", "procfs"};
  std::vector<SourceMode> seen;
  for (const std::string& name : names) {
    SourceMode expected{};
    ASSERT_TRUE(ParseSourceMode(name, expected)) << name;
    for (SourceMode start : {SourceMode::kAuto, SourceMode::kNetlink, SourceMode::kProcfs}) {
      Values v;
      v.source = start;
      Parsed parsed = Parse(v, {"--collector.source=" + name});
      ASSERT_EQ(parsed.exit_code, std::nullopt) << name << ": " << parsed.err;
      EXPECT_EQ(v.source, expected) << name;
    }
    Values v;
    ASSERT_EQ(Parse(v, {"--collector.source", name}).exit_code, std::nullopt) << name;
    EXPECT_EQ(v.source, expected) << name;
    seen.push_back(expected);
  }
  EXPECT_EQ(seen, (std::vector<SourceMode>{SourceMode::kAuto, SourceMode::kNetlink,
                                           SourceMode::kProcfs}));
}

TEST(CommonFlagsTest, SourceModeNameIsTheFlagsSpelling) {
  for (const char* name : {"auto", "netlink", "procfs"}) {
    SourceMode mode{};
    ASSERT_TRUE(ParseSourceMode(name, mode));
    EXPECT_EQ(SourceModeName(mode), name);
  }
  EXPECT_EQ(SourceModeName(static_cast<SourceMode>(42)), "unknown");
}

TEST(CommonFlagsTest, EveryLogLevelNameMeansWhatParseLogLevelSays) {
  const std::vector<std::pair<std::string, LogLevel>> names = {{"debug", LogLevel::kDebug},
                                                               {"info", LogLevel::kInfo},
                                                               {"warn", LogLevel::kWarn},
                                                               {"error", LogLevel::kError}};
  for (const auto& [name, want] : names) {
    LogLevel parsed_level{};
    ASSERT_TRUE(ParseLogLevel(name, parsed_level)) << name;
    EXPECT_EQ(parsed_level, want) << name;
    for (LogLevel start : {LogLevel::kDebug, LogLevel::kError}) {
      Values v;
      v.level = start;
      Parsed parsed = Parse(v, {"--log.level=" + name});
      ASSERT_EQ(parsed.exit_code, std::nullopt) << name << ": " << parsed.err;
      EXPECT_EQ(v.level, want) << name;
    }
  }
}

TEST(CommonFlagsTest, BadValuesAreRefusedWithTheNamesAndLeaveTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--collector.source=sock_diag",
       "--collector.source: must be one of auto, netlink, procfs; got \"sock_diag\""},
      {"--collector.source=AUTO",
       "--collector.source: must be one of auto, netlink, procfs; got \"AUTO\""},
      {"--collector.source=", "--collector.source: must be one of auto, netlink, procfs; got \"\""},
      {"--collector.source=proc",
       "--collector.source: must be one of auto, netlink, procfs; got "
       "\"proc\""},
      {"--log.level=warning",
       "--log.level: must be one of debug, info, warn, error; got "
       "\"warning\""},
      {"--log.level=INFO", "--log.level: must be one of debug, info, warn, error; got \"INFO\""},
      {"--log.level=", "--log.level: must be one of debug, info, warn, error; got \"\""},
      {"--log.level=0", "--log.level: must be one of debug, info, warn, error; got \"0\""},
  };
  for (const auto& [arg, message] : cases) {
    Values v;
    v.source = SourceMode::kNetlink;
    v.level = LogLevel::kWarn;
    Parsed parsed = Parse(v, {arg});
    EXPECT_EQ(parsed.exit_code, kUsageErrorExitCode) << arg;
    EXPECT_EQ(parsed.err, "connwatch test: " + message + "\n(see connwatch test --help)\n");
    EXPECT_EQ(parsed.out, "");
    EXPECT_EQ(v.source, SourceMode::kNetlink) << arg;
    EXPECT_EQ(v.level, LogLevel::kWarn) << arg;
  }
  Values v;
  EXPECT_EQ(Parse(v, {"--collector.source"}).err,
            "connwatch test: --collector.source: needs a value\n(see connwatch test --help)\n");
}

TEST(CommonFlagsTest, WithoutFlagsTheDeclaredValuesStay) {
  Values v;
  v.source = SourceMode::kProcfs;
  v.level = LogLevel::kError;
  v.procfs = "/host/proc";
  v.storage = "/srv/state";
  ASSERT_EQ(Parse(v, {}).exit_code, std::nullopt);
  EXPECT_EQ(v.source, SourceMode::kProcfs);
  EXPECT_EQ(v.level, LogLevel::kError);
  EXPECT_EQ(v.procfs, "/host/proc");
  EXPECT_EQ(v.storage, "/srv/state");
  EXPECT_STREQ(kDefaultStoragePath, "/var/lib/connwatch");
}

TEST(CommonFlagsTest, HelpShowsTheDeclaredDefaults) {
  Values defaults;
  Parsed parsed = Parse(defaults, {"--help"});
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_EQ(parsed.out,
            "usage: connwatch test [flags]\n"
            "\n"
            "flags:\n"
            "  --collector.source=auto\n"
            "      Where sockets come from. Must be one of auto, netlink, procfs.\n"
            "  --log.level=info\n"
            "      Only log messages with the given severity or above. Must be one of debug, info, "
            "warn, error.\n"
            "  --path.procfs=/proc\n"
            "      procfs mountpoint.\n"
            "  --storage.path=/var/lib/connwatch\n"
            "      Where state is kept.\n"
            "  --help\n"
            "      Show this help and exit.\n");
  // Another declared value is another default.
  Values other;
  other.source = SourceMode::kNetlink;
  other.level = LogLevel::kDebug;
  std::string help = HelpText(TestCommand(other));
  EXPECT_NE(help.find("  --collector.source=netlink\n"), std::string::npos) << help;
  EXPECT_NE(help.find("  --log.level=debug\n"), std::string::npos) << help;
}

TEST(CommonFlagsTest, PathFlagsTakeAnyString) {
  Values v;
  Parsed parsed = Parse(v, {"--path.procfs=/host/proc", "--storage.path", "/tmp/x y"});
  ASSERT_EQ(parsed.exit_code, std::nullopt) << parsed.err;
  EXPECT_EQ(v.procfs, "/host/proc");
  EXPECT_EQ(v.storage, "/tmp/x y");
  ASSERT_EQ(Parse(v, {"--storage.path="}).exit_code, std::nullopt);
  EXPECT_EQ(v.storage, "");
}

}  // namespace
}  // namespace connwatch
