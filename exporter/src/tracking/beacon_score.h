// How periodic the start times of one pair's connections are: the beacon score. Timing only:
// sizes are not needed, and a beacon that varies its payload scores as one that does not.
//
// The method, and why:
// 1. Bursts become beats. An implant often opens 1-3 connections per check-in within a second
//    or two (a DNS lookup's retry, a TLS resumption, a second channel). Starts closer than
//    kBurstGapFraction of the 90th percentile of the raw intervals are one beat, timed by its
//    first start. The gap is relative, so it holds at a 1 s period as at an hourly one; the
//    90th percentile sits among the beat-to-beat intervals even when most intervals are
//    inside bursts (3 connections a beat is 2 short intervals to 1 long), and the fraction is
//    small so that random traffic, whose short intervals are common, loses few of them.
// 2. The spread of the beat intervals, on a log scale: d = ln(upper / lower), with `upper`
//    the mean of the intervals ranked 60-80% and `lower` that of those ranked 3-17%. A sleep
//    with uniform jitter keeps every interval within a factor 3 of the others (50% either way,
//    d ~ 0.66; sleep cut by up to 50% as Cobalt Strike does, d ~ 0.41; no jitter, d = 0),
//    while Poisson arrivals of the same mean rate give d ~ 1.7 and two interleaved beacons
//    d ~ 1.4. Ranks, not moments, so that 10% missing beats (doubled intervals, above the
//    80% rank) and a few extra connections (split intervals, mostly below the 3% rank) move
//    d little. The low band is what separates: interleaving and randomness both make short
//    intervals common, a jittered sleep never does. Band means rather than single quantiles
//    halve the sampling noise at 40 connections. A log ratio is free of the period's scale.
// 3. score = 1 / (1 + (d / kSpreadAtHalf)^kSteepness): 1 for a strict period, 0.8 at d = 1.05
//    (between the worst jittered beacon's 99th percentile, ~0.95, and Poisson's 1st, ~1.17,
//    at 40 connections), ~0.2 for Poisson.
// The thresholds were tuned by simulation (tests/unit/beacon_score_test.cpp prints the
// table). RITA's interval score (Bowley skew with MAD/median) gives random traffic about 0.5
// and a jittered beacon about 0.9; this one gives ~0.2 and ~0.97.
//
// Limits: the start times must be finer than the jitter (a 1 s beacon needs starts to well
// under 100 ms). With few connections the quantiles are noisy: at 12 connections a random
// pair scores >= 0.8 about one time in 20 (the test prints how often), so a caller should
// ask for more before it calls a pair a beacon. Two beacons whose periods are unrelated
// score low; two with nearly equal periods drift in and out of step and can look like one.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace connwatch {

inline constexpr double kBurstGapFraction = 0.05;
inline constexpr double kSpreadAtHalf = 1.2347;  // 0.98 * 4^(1/6): 0.8 at d = 0.98
inline constexpr double kSteepness = 6;

struct BeaconFit {
  double score = 0;            // [0, 1]
  double spread = 0;           // d above
  double median_interval = 0;  // seconds between beats: the period's estimate
  size_t beats = 0;            // after bursts are merged
};

// Start times in seconds, in any order; non-finite values are ignored. nullopt when fewer than
// 4 beats (3 intervals) remain after bursts are merged: nothing to judge.
std::optional<BeaconFit> FitBeacon(std::span<const double> start_times);
std::optional<double> BeaconScore(std::span<const double> start_times);

}  // namespace connwatch
