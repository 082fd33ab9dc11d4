// How periodic the start times of one pair's connections are: the beacon score. Timing only:
// sizes are not needed, and a beacon that varies its payload scores as one that does not.
//
// The method, and why:
// 1. Bursts become beats. An implant often opens 1-3 connections per check-in within a second
//    or two (a check-in, then a fetch of its tasking; a retry; a second channel). Starts closer
//    than kBurstGapFraction of the 90th percentile of the raw intervals are one beat, timed by its
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
//    80% rank) and a few extra connections (5% extra split about a tenth of the intervals,
//    which moves the low band without taking it over) move d little. The low band is what
//    separates: interleaving and randomness both make short intervals common, a jittered sleep
//    never does. Band means rather than single quantiles smooth the sampling noise of 40
//    connections. A log ratio is free of the period's scale.
// 3. score = 1 / (1 + (d / kSpreadAtHalf)^kSteepness), smooth and decreasing: 1 for a strict
//    period, 0.8 at d = 0.98, 0.5 at d = 1.23. The threshold sits between the jittered
//    beacons (at 40 connections the worst case, 50% jitter with 5% extra connections, has
//    its 1st percentile at 0.84) and the two-beacon mixtures (95th percentile <= 0.76);
//    Poisson timing has its median at 0.13 and its 99th percentile at 0.57.
// The constants were tuned by simulation; tests/unit/beacon_score_test.cpp prints the whole
// table. RITA's interval score (Bowley skew averaged with MAD/median) gives, by its formula,
// about 0.5 to Poisson timing and 0.9 to a 50% jittered sleep: too close to threshold.
//
// Limits: the start times must be finer than the jitter (a 1 s beacon needs starts to well
// under 100 ms). With few connections the quantiles are noisy: at 12 connections Poisson
// timing scores >= 0.8 in 8% of series and two interleaved beacons in up to 30%, at 24 in
// 0.5% and up to 9%, at 40 in none and up to 3%; a caller should want 24 or more before it
// calls a pair a beacon. Two beacons of nearly equal periods drift in and out of step and
// can look like one with bursts.
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
