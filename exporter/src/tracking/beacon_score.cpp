#include "tracking/beacon_score.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace connwatch {
namespace {

// The q-quantile of sorted values, interpolated between ranks.
double Quantile(const std::vector<double>& sorted, double q) {
  double position = q * static_cast<double>(sorted.size() - 1);
  size_t below = static_cast<size_t>(position);
  if (below + 1 >= sorted.size()) return sorted.back();
  double fraction = position - static_cast<double>(below);
  return sorted[below] * (1 - fraction) + sorted[below + 1] * fraction;
}

// The mean of the sorted values whose rank falls in [from, to] (fractions of the ranks),
// each value standing for the rank interval of width 1 around it, weighted by its overlap:
// a quantile smoothed over a band, defined for as few as 3 values.
double BandMean(const std::vector<double>& sorted, double from, double to) {
  double last = static_cast<double>(sorted.size() - 1);
  double low = from * last - 0.5, high = to * last + 0.5;
  double sum = 0, weight = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    double rank = static_cast<double>(i);
    double overlap = std::min(rank + 0.5, high) - std::max(rank - 0.5, low);
    if (overlap <= 0) continue;
    sum += overlap * sorted[i];
    weight += overlap;
  }
  return sum / weight;
}

void Intervals(const std::vector<double>& sorted_times, std::vector<double>& intervals) {
  intervals.clear();
  for (size_t i = 1; i < sorted_times.size(); ++i)
    intervals.push_back(sorted_times[i] - sorted_times[i - 1]);
}

// Quantile() of the values once sorted, without sorting them all: the two order statistics
// it interpolates between (the values are reordered).
double UnsortedQuantile(std::vector<double>& values, double q) {
  double position = q * static_cast<double>(values.size() - 1);
  size_t below = static_cast<size_t>(position);
  auto nth = values.begin() + static_cast<ptrdiff_t>(below);
  std::nth_element(values.begin(), nth, values.end());
  if (below + 1 >= values.size()) return *nth;
  double next = *std::min_element(nth + 1, values.end());
  double fraction = position - static_cast<double>(below);
  return *nth * (1 - fraction) + next * fraction;
}

// Starts within `gap` of the previous start belong to its beat (single linkage: a burst may
// be longer than the gap as long as no pause inside it is).
void Beats(const std::vector<double>& sorted_times, double gap, std::vector<double>& beats) {
  beats.clear();
  for (size_t i = 0; i < sorted_times.size(); ++i)
    if (i == 0 || sorted_times[i] - sorted_times[i - 1] > gap) beats.push_back(sorted_times[i]);
}

}  // namespace

std::optional<BeaconFit> FitBeacon(std::span<const double> start_times) {
  // Scratch reused across calls: a sample rescores thousands of pairs, and four allocations
  // a pair were a fifth of the cost.
  thread_local std::vector<double> times, raw, beats, intervals;
  times.clear();
  for (double t : start_times)
    if (std::isfinite(t)) times.push_back(t);
  if (times.size() < 4) return std::nullopt;
  // A pair's starts arrive in order nearly always: checking is cheaper than sorting.
  if (!std::is_sorted(times.begin(), times.end())) std::sort(times.begin(), times.end());
  Intervals(times, raw);
  double gap = kBurstGapFraction * UnsortedQuantile(raw, 0.9);
  Beats(times, gap, beats);
  if (beats.size() < 4) return std::nullopt;
  Intervals(beats, intervals);
  std::sort(intervals.begin(), intervals.end());
  // Every interval is > gap >= 0, so both means are positive.
  double upper = BandMean(intervals, 0.6, 0.8), lower = BandMean(intervals, 0.03, 0.17);
  BeaconFit fit;
  fit.spread = std::log(upper / lower);
  fit.score = 1 / (1 + std::pow(fit.spread / kSpreadAtHalf, kSteepness));  // inf -> 0
  fit.median_interval = Quantile(intervals, 0.5);
  fit.beats = beats.size();
  return fit;
}

std::optional<double> BeaconScore(std::span<const double> start_times) {
  auto fit = FitBeacon(start_times);
  if (!fit) return std::nullopt;
  return fit->score;
}

}  // namespace connwatch
