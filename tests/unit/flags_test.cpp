#include "cli/flags.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

TEST(FlagsTest, ParsesDurations) {
  EXPECT_EQ(ParseDuration("10s")->count(), 10000);
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("1m30s")->count(), 90000);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200000);
  EXPECT_EQ(ParseDuration("1d")->count(), 86400000);
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("10"));
  EXPECT_FALSE(ParseDuration("s"));
  EXPECT_FALSE(ParseDuration("-1s"));
  EXPECT_FALSE(ParseDuration("10x"));
  EXPECT_FALSE(ParseDuration("99999999999999h"));
}

TEST(FlagsTest, ParsesBothFormsAndBooleans) {
  std::string address = ":10107", path = "/metrics";
  bool listening = false;
  std::vector<FlagSpec> specs = {{"web.listen-address", "", &address, nullptr},
                                 {"web.telemetry-path", "", &path, nullptr},
                                 {"listening", "", nullptr, &listening}};
  std::vector<std::string> positional;
  std::string error;
  ASSERT_TRUE(ParseFlags(
      {"--web.listen-address=127.0.0.1:0", "--web.telemetry-path", "/m", "--listening", "extra"},
      specs, positional, error))
      << error;
  EXPECT_EQ(address, "127.0.0.1:0");
  EXPECT_EQ(path, "/m");
  EXPECT_TRUE(listening);
  EXPECT_EQ(positional, std::vector<std::string>{"extra"});
}

TEST(FlagsTest, RejectsUnknownAndIncompleteFlags) {
  std::string value;
  bool enabled = false;
  std::vector<FlagSpec> specs = {{"a", "", &value, nullptr}, {"b", "", nullptr, &enabled}};
  std::vector<std::string> positional;
  std::string error;
  EXPECT_FALSE(ParseFlags({"--nope"}, specs, positional, error));
  EXPECT_NE(error.find("--nope"), std::string::npos);
  EXPECT_FALSE(ParseFlags({"--a"}, specs, positional, error));
  EXPECT_NE(error.find("needs a value"), std::string::npos);
  EXPECT_FALSE(ParseFlags({"--b=maybe"}, specs, positional, error));
  EXPECT_FALSE(ParseFlags({"-x"}, specs, positional, error));
}

}  // namespace
}  // namespace connwatch
