#include "base/duration.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

TEST(DurationTest, ParsesPrometheusDurations) {
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

TEST(DurationTest, FormatsWholeSecondsLargestUnitsFirst) {
  EXPECT_EQ(FormatDuration(std::chrono::seconds(5400)), "1h30m");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(90061)), "1d1h1m1s");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(0)), "0");
}

}  // namespace
}  // namespace connwatch
