// The beacon score (tracking/beacon_score.h) on simulated series: 1,000 seeded series per
// case, at 40 connections, 24 and 12 (the default min_connections). The test prints the
// quantiles of the scores as a markdown table (24 is printed only, to choose a gate by) and
// asserts the separation the header claims at 40 and what holds at 12.
#include "tracking/beacon_score.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace connwatch {
namespace {

using Rng = std::mt19937_64;
using Series = std::vector<double>;

double Uniform(Rng& rng, double low, double high) {
  return std::uniform_real_distribution<double>(low, high)(rng);
}

// A sleep loop: each interval uniform in [low, high] x period; a beat is missed with
// probability `missing`; with `bursts`, each beat is 1-3 connections within about 2 s; then
// `extras` connections at random times inside the series.
struct Shape {
  double low = 1, high = 1, missing = 0;
  bool bursts = false;
  size_t extras = 0;
};

Series Beacon(Rng& rng, size_t connections, double period, const Shape& shape) {
  Series starts;
  double now = Uniform(rng, 0, period);
  size_t own = connections - shape.extras;
  while (starts.size() < own) {
    now += Uniform(rng, shape.low * period, shape.high * period);
    if (Uniform(rng, 0, 1) < shape.missing) continue;
    starts.push_back(now);
    int burst = shape.bursts ? std::uniform_int_distribution<int>(1, 3)(rng) : 1;
    double at = now;
    for (int i = 1; i < burst && starts.size() < own; ++i)
      starts.push_back(at += Uniform(rng, 0.05, 1));
  }
  double first = starts.front(), last = starts.back();
  for (size_t i = 0; i < shape.extras; ++i) starts.push_back(Uniform(rng, first, last));
  return starts;
}

Series Poisson(Rng& rng, size_t connections, double mean) {
  std::exponential_distribution<double> interval(1 / mean);
  Series starts;
  double now = 0;
  while (starts.size() < connections) starts.push_back(now += interval(rng));
  return starts;
}

// Two sleep loops with the same jitter to the same pair, each starting at a random phase.
Series Interleaved(Rng& rng, size_t connections, double period_a, double period_b, double jitter) {
  Series starts;
  double a = Uniform(rng, 0, period_a), b = Uniform(rng, 0, period_b);
  while (starts.size() < connections) {
    double& next = a < b ? a : b;
    double period = a < b ? period_a : period_b;
    starts.push_back(next);
    next += Uniform(rng, period * (1 - jitter), period * (1 + jitter));
  }
  return starts;
}

enum class Kind { kBeacon, kPoisson, kInterleaved };

struct Case {
  std::string name;
  Kind kind;
  std::function<Series(Rng&, size_t)> make;
};

Shape Jitter(double low, double high) { return Shape{.low = low, .high = high}; }
Shape Missing(Shape shape) { return shape.missing = 0.1, shape; }
Shape Bursts(Shape shape) { return shape.bursts = true, shape; }
// "A few": one connection in 20, at least one.
Shape Extras(Shape shape, size_t connections) {
  return shape.extras = std::max<size_t>(1, connections / 20), shape;
}

Case BeaconCase(std::string name, std::function<Shape(size_t)> shape) {
  return {std::move(name), Kind::kBeacon, [shape](Rng& rng, size_t connections) {
            return Beacon(rng, connections, 60, shape(connections));
          }};
}

Case InterleavedCase(std::string name, double period_b, double jitter) {
  return {std::move(name), Kind::kInterleaved, [=](Rng& rng, size_t connections) {
            return Interleaved(rng, connections, 60, period_b, jitter);
          }};
}

std::vector<Case> Cases() {
  auto fixed = [](Shape shape) { return [shape](size_t) { return shape; }; };
  const Shape sym20 = Jitter(0.8, 1.2), sym50 = Jitter(0.5, 1.5);
  return {
      BeaconCase("60 s, no jitter", fixed(Jitter(1, 1))),
      BeaconCase("60 s, +-20%", fixed(sym20)),
      BeaconCase("60 s, +-50%", fixed(sym50)),
      BeaconCase("60 s, sleep -20%", fixed(Jitter(0.8, 1))),
      BeaconCase("60 s, sleep -50%", fixed(Jitter(0.5, 1))),
      BeaconCase("+-20%, 10% missing", fixed(Missing(sym20))),
      BeaconCase("+-50%, 10% missing", fixed(Missing(sym50))),
      BeaconCase("+-20%, bursts of 1-3", fixed(Bursts(sym20))),
      BeaconCase("+-50%, bursts of 1-3", fixed(Bursts(sym50))),
      BeaconCase("+-20%, 5% extra", [=](size_t n) { return Extras(sym20, n); }),
      BeaconCase("+-50%, 5% extra", [=](size_t n) { return Extras(sym50, n); }),
      BeaconCase("+-20%, missing+bursts+extra",
                 [=](size_t n) { return Extras(Bursts(Missing(sym20)), n); }),
      {"Poisson, mean 60 s", Kind::kPoisson,
       [](Rng& rng, size_t connections) { return Poisson(rng, connections, 60); }},
      InterleavedCase("60 s + 97 s, no jitter", 97, 0),
      InterleavedCase("60 s + 97 s, +-20%", 97, 0.2),
      InterleavedCase("60 s + 143 s, +-20%", 143, 0.2),
      InterleavedCase("60 s + 23 s, +-20%", 23, 0.2),
      InterleavedCase("60 s + 97 s, +-50%", 97, 0.5),
  };
}

constexpr double kPercents[] = {0, 1, 5, 50, 95, 99, 100};
enum Column { kMin, kP1, kP5, kP50, kP95, kP99, kMax, kAlarmed };
// The quantiles, then the share of series scoring >= 0.8.
using Quantiles = std::array<double, std::size(kPercents) + 1>;

// Nearest rank: a reported p1 is a score some series really had.
Quantiles ScoreQuantiles(const Case& test_case, size_t connections) {
  Rng rng(0xbeac0 + connections);
  std::vector<double> scores;
  for (int i = 0; i < 1000; ++i) {
    Series series = test_case.make(rng, connections);
    EXPECT_EQ(series.size(), connections) << test_case.name;
    // A series too short to judge counts as 0: what a caller would see is "no beacon".
    scores.push_back(BeaconScore(series).value_or(0));
  }
  std::sort(scores.begin(), scores.end());
  Quantiles out;
  for (size_t i = 0; i < std::size(kPercents); ++i)
    out[i] = scores[static_cast<size_t>(std::lround(kPercents[i] / 100 * (scores.size() - 1)))];
  out[kAlarmed] = static_cast<double>(std::count_if(scores.begin(), scores.end(),
                                                    [](double s) { return s >= 0.8; })) /
                  static_cast<double>(scores.size());
  return out;
}

struct Table {
  std::vector<Quantiles> at40, at24, at12;
};

// Computed once: both tests below read it, and printing it is the point of the first.
const Table& Separation() {
  static const Table table = [] {
    Table t;
    for (const Case& c : Cases()) {
      t.at40.push_back(ScoreQuantiles(c, 40));
      t.at24.push_back(ScoreQuantiles(c, 24));
      t.at12.push_back(ScoreQuantiles(c, 12));
    }
    return t;
  }();
  return table;
}

std::string Row(const std::string& name, size_t connections, const Quantiles& q) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "| %s | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f%% |\n",
                name.c_str(), connections, q[kMin], q[kP1], q[kP5], q[kP50], q[kP95], q[kP99],
                q[kMax], 100 * q[kAlarmed]);
  return line;
}

TEST(BeaconScore, SeparationTable) {
  const Table& table = Separation();
  std::vector<Case> cases = Cases();
  std::string text =
      "| series (1,000 each) | connections | min | p1 | p5 | p50 | p95 | p99 | max | >= 0.8 |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < cases.size(); ++i) text += Row(cases[i].name, 40, table.at40[i]);
  for (size_t i = 0; i < cases.size(); ++i) text += Row(cases[i].name, 24, table.at24[i]);
  for (size_t i = 0; i < cases.size(); ++i) text += Row(cases[i].name, 12, table.at12[i]);
  std::printf("%s", text.c_str());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Quantiles& q = table.at40[i];
    switch (cases[i].kind) {
      case Kind::kBeacon:
        EXPECT_GE(q[kP1], 0.8) << cases[i].name;
        break;
      case Kind::kPoisson:
        EXPECT_LT(q[kP99], 0.8) << cases[i].name;
        EXPECT_LT(q[kP50], 0.4) << cases[i].name;
        break;
      case Kind::kInterleaved:
        EXPECT_LT(q[kP95], 0.8) << cases[i].name;
        EXPECT_LT(q[kP50], 0.5) << cases[i].name;
        break;
    }
  }
}

// At 12 connections (11 intervals, fewer beats with bursts) the quantiles are noisy. Beacons
// still score high, but random pairs often score >= 0.8 too: Poisson traffic about 8% of
// the time, two interleaved beacons up to 30%. What holds, with a margin:
TEST(BeaconScore, TwelveConnections) {
  const Table& table = Separation();
  std::vector<Case> cases = Cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Quantiles& q = table.at12[i];
    switch (cases[i].kind) {
      case Kind::kBeacon:
        EXPECT_GE(q[kAlarmed], 0.85) << cases[i].name;
        EXPECT_GE(q[kP50], 0.9) << cases[i].name;
        break;
      case Kind::kPoisson:
        EXPECT_LE(q[kAlarmed], 0.12) << cases[i].name;
        EXPECT_LT(q[kP50], 0.4) << cases[i].name;
        break;
      case Kind::kInterleaved:
        EXPECT_LE(q[kAlarmed], 0.4) << cases[i].name;
        EXPECT_LT(q[kP50], 0.75) << cases[i].name;
        break;
    }
  }
}

TEST(BeaconScore, StrictPeriodIsOneAndShortSeriesAreNotJudged) {
  Series strict;
  for (int i = 0; i < 10; ++i) strict.push_back(1000 + 60.0 * i);
  auto fit = FitBeacon(strict);
  ASSERT_TRUE(fit);
  EXPECT_DOUBLE_EQ(fit->score, 1);
  EXPECT_DOUBLE_EQ(fit->median_interval, 60);
  EXPECT_EQ(fit->beats, 10u);
  EXPECT_FALSE(BeaconScore(Series{1, 2, 3}));  // 2 intervals
  EXPECT_TRUE(BeaconScore(Series{1, 2, 3, 4}));
  // 8 starts, but bursts of two: 4 beats are 3 intervals, 3 beats are not enough.
  EXPECT_TRUE(BeaconScore(Series{0, 0.5, 60, 60.5, 120, 120.5, 180, 180.5}));
  EXPECT_FALSE(BeaconScore(Series{0, 0.5, 60, 60.5, 120, 120.5}));
  EXPECT_FALSE(BeaconScore(Series{5, 5, 5, 5, 5}));  // one beat
}

TEST(BeaconScore, OrderDoesNotMatterAndNonFiniteIsIgnored) {
  Rng rng(7);
  Series series = Beacon(rng, 40, 60, Jitter(0.5, 1.5));
  double score = BeaconScore(series).value();
  Series shuffled = series;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  shuffled.push_back(std::numeric_limits<double>::quiet_NaN());
  shuffled.push_back(std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(BeaconScore(shuffled).value(), score);
  // Times at the ends of the double's range: no crash, no score outside [0, 1].
  for (const Series& extreme : {Series{0, 1e308, -1e308, 5, 7, 9, 11}, Series{-1e308, 1e308, 0, 1},
                                Series{0, 5e-324, 1e-300, 1, 2, 3, 4}}) {
    auto score = BeaconScore(extreme);
    if (score) {
      EXPECT_TRUE(*score >= 0 && *score <= 1) << *score;
    }
  }
}

// The method has no scale: the same series at 1 s and at 4 h scores the same, and the
// end-to-end test's 1 s beacon with 30% jitter is a beacon.
TEST(BeaconScore, AnyPeriod) {
  Rng rng(11);
  Series minute = Beacon(rng, 40, 60, Jitter(0.7, 1.3));
  Series second, hours;
  for (double t : minute) second.push_back(1.7e9 + t / 60);
  for (double t : minute) hours.push_back(t * 240);
  double score = BeaconScore(minute).value();
  EXPECT_NEAR(BeaconScore(second).value(), score, 1e-6);
  EXPECT_NEAR(BeaconScore(hours).value(), score, 1e-9);
  std::vector<double> scores;
  for (int i = 0; i < 1000; ++i) {
    Series s = Beacon(rng, 40, 1, Jitter(0.7, 1.3));
    for (double& t : s) t += 1.7e9;
    scores.push_back(BeaconScore(s).value());
  }
  std::sort(scores.begin(), scores.end());
  EXPECT_GE(scores[10], 0.8);
  EXPECT_NEAR(FitBeacon(second)->median_interval, 1, 0.15);
}

}  // namespace
}  // namespace connwatch
