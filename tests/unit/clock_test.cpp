// The clocks against what the kernel says independently: time(2) for Unix time, /proc/uptime
// for the boot clock.
#include "base/clock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace connwatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(ClockTest, UnixSecondsIsTheTimeOfDay) {
  time_t before = time(nullptr);
  double now = UnixSeconds();
  time_t after = time(nullptr);
  // time(2) may read a coarse clock a tick behind: a second of slack either way.
  EXPECT_GE(now, static_cast<double>(before) - 1);
  EXPECT_LE(now, static_cast<double>(after) + 2);
  EXPECT_GT(now, 1.6e9) << "seconds since 1970, not since boot or in milliseconds";
}

TEST(ClockTest, UnixSecondsHasSubSecondResolution) {
  double first = UnixSeconds();
  std::this_thread::sleep_for(milliseconds(20));
  double later = UnixSeconds();
  EXPECT_GE(later - first, 0.015);
  EXPECT_LT(later - first, 5.0);
}

TEST(ClockTest, BootClockSecondsIsTheUptime) {
  double before = BootClockSeconds();
  std::ifstream file("/proc/uptime");
  double uptime = -1;
  file >> uptime;
  double after = BootClockSeconds();
  ASSERT_TRUE(file) << "cannot read /proc/uptime";
  // /proc/uptime has two decimals and is the same CLOCK_BOOTTIME.
  EXPECT_GE(uptime + 0.011, before);
  EXPECT_LE(uptime, after + 0.011);
}

TEST(ClockTest, BootClockSecondsNeverGoesBackAndCountsSleeps) {
  double previous = BootClockSeconds();
  for (int i = 0; i < 1000; ++i) {
    double now = BootClockSeconds();
    ASSERT_GE(now, previous);
    previous = now;
  }
  std::this_thread::sleep_for(milliseconds(20));
  double later = BootClockSeconds();
  EXPECT_GE(later - previous, 0.015);
  EXPECT_LT(later - previous, 5.0);
  // CLOCK_BOOTTIME is CLOCK_MONOTONIC plus the time suspended: never less.
  timespec monotonic{};
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &monotonic), 0);
  EXPECT_GE(BootClockSeconds() + 1e-6,
            static_cast<double>(monotonic.tv_sec) + static_cast<double>(monotonic.tv_nsec) / 1e9);
}

TEST(ClockTest, SecondsSinceGrowsFromZero) {
  steady_clock::time_point start = steady_clock::now();
  double first = SecondsSince(start);
  EXPECT_GE(first, 0.0);
  EXPECT_LT(first, 1.0);
  std::this_thread::sleep_for(milliseconds(20));
  double later = SecondsSince(start);
  EXPECT_GE(later, first + 0.015);
  EXPECT_LT(later, 5.0);
}

TEST(ClockTest, SecondsSinceAStartInThePastIsItsAge) {
  double age = SecondsSince(steady_clock::now() - std::chrono::seconds(5));
  EXPECT_GE(age, 5.0);
  EXPECT_LT(age, 6.0);
}

}  // namespace
}  // namespace connwatch
