#include "tracking/beacon_tracker.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include "base/hash_combine.h"
#include "base/tab_fields.h"
#include "tracking/beacon_score.h"

namespace connwatch {
namespace {

constexpr std::string_view kBeaconHeader = "# connwatch beacon state 1\n";
constexpr size_t kNameFields = 5, kFixedFields = 7;  // names, address, port

void AppendNumber(double value, std::string& out) {
  char text[64];
  auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
  out.append(text, end);
}

// Only the text to_chars writes for the value: strict, and the round trip is exact.
std::optional<double> ParseStart(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!std::isfinite(value) || std::signbit(value)) return std::nullopt;
  std::string canonical;
  AppendNumber(value, canonical);
  if (canonical != text) return std::nullopt;
  return value;
}

std::optional<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  if (std::to_string(value) != text) return std::nullopt;  // no leading zeros
  return static_cast<uint16_t>(value);
}

struct ParsedLine {
  BeaconPair pair;
  std::vector<double> starts;
};

// One pair's line without its newline; an error says what is wrong with it.
std::optional<ParsedLine> ParseLine(std::string_view line, std::string& error) {
  auto fields = SplitTabFields(line);
  if (!fields) return error = "bad escape", std::nullopt;
  if (fields->size() <= kFixedFields) return error = "too few fields", std::nullopt;
  if (fields->size() > kFixedFields + kBeaconStartsPerPair)
    return error = "more than " + std::to_string(kBeaconStartsPerPair) + " starts", std::nullopt;
  const std::vector<std::string>& f = *fields;
  ParsedLine parsed;
  parsed.pair = {f[0], f[1], f[2], f[3], f[4], {}, 0};
  auto address = ParseIpAddress(f[kNameFields]);
  if (!address || FormatIpAddress(*address) != f[kNameFields])
    return error = "bad address", std::nullopt;
  parsed.pair.remote = *address;
  auto port = ParsePort(f[kNameFields + 1]);
  if (!port) return error = "bad port", std::nullopt;
  parsed.pair.remote_port = *port;
  for (size_t i = kFixedFields; i < f.size(); ++i) {
    auto start = ParseStart(f[i]);
    if (!start) return error = "bad start time in field " + std::to_string(i + 1), std::nullopt;
    parsed.starts.push_back(*start);
  }
  return parsed;
}

}  // namespace

size_t BeaconPairHash::operator()(const BeaconPair& pair) const {
  size_t seed = 0;
  for (const std::string* name :
       {&pair.process, &pair.k8s_namespace, &pair.pod, &pair.container, &pair.remote_zone})
    HashCombine(seed, std::hash<std::string>()(*name));
  HashCombineAddress(seed, pair.remote);
  HashCombine(seed, pair.remote_port);
  return seed;
}

std::vector<double> BeaconTracker::Entry::Starts() const {
  std::vector<double> starts(ring.begin() + static_cast<ptrdiff_t>(head), ring.end());
  starts.insert(starts.end(), ring.begin(), ring.begin() + static_cast<ptrdiff_t>(head));
  return starts;
}

void BeaconTracker::Entry::Add(double start) {
  bool dropped_oldest = false;
  if (ring.empty()) {
    in_order = true;
  } else {
    in_order = in_order && start >= ring[(head + ring.size() - 1) % ring.size()];
  }
  if (ring.size() < kBeaconStartsPerPair) {
    ring.push_back(start);
  } else {
    dropped_oldest = ring[head] == oldest;
    ring[head] = start;
    head = (head + 1) % kBeaconStartsPerPair;
  }
  if (ring.size() == 1 || start < oldest) {
    oldest = start;
  } else if (dropped_oldest) {
    // In order (nearly always), the next oldest is the next one observed.
    oldest = in_order ? ring[head] : *std::min_element(ring.begin(), ring.end());
  }
  dirty = true;
}

BeaconTracker::BeaconTracker(size_t max_pairs) : max_pairs_(std::max<size_t>(1, max_pairs)) {}

void BeaconTracker::Observe(const BeaconPair& pair, double start_unix) {
  // What the state file could not hold; no clock gives it.
  if (!std::isfinite(start_unix) || std::signbit(start_unix)) return;
  auto found = index_.find(&pair);
  if (found != index_.end()) {
    pairs_.splice(pairs_.begin(), pairs_, found->second);
    pairs_.front().Add(start_unix);
    return;
  }
  if (pairs_.size() >= max_pairs_) {
    index_.erase(&pairs_.back().pair);
    pairs_.pop_back();
    ++evicted_;
  }
  pairs_.emplace_front();
  pairs_.front().pair = pair;
  pairs_.front().Add(start_unix);
  index_.emplace(&pairs_.front().pair, pairs_.begin());
}

void BeaconTracker::Expire(double window_seconds, double now_unix) {
  double cutoff = now_unix - window_seconds;
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    Entry& entry = *it;
    if (entry.oldest >= cutoff) {
      ++it;
      continue;
    }
    std::vector<double> kept = entry.Starts();
    std::erase_if(kept, [&](double t) { return t < cutoff; });
    if (kept.empty()) {
      index_.erase(&entry.pair);
      it = pairs_.erase(it);
      continue;
    }
    // No dirty flag: a cached score stays valid while the window it was computed on is
    // unchanged, which Score sees from the count (see its comment).
    entry.ring = std::move(kept);
    entry.head = 0;
    entry.oldest = *std::min_element(entry.ring.begin(), entry.ring.end());
    ++it;
  }
}

std::vector<BeaconResult> BeaconTracker::Score(double window_seconds, size_t min_connections,
                                               double now_unix, size_t max_rescores) {
  std::vector<BeaconResult> results;
  Score(window_seconds, min_connections, now_unix, max_rescores, results);
  return results;
}

void BeaconTracker::Score(double window_seconds, size_t min_connections, double now_unix,
                          size_t max_rescores, std::vector<BeaconResult>& results) {
  double cutoff = now_unix - window_seconds;
  ++rounds_;
  // The starts in the window of each pair, in list order (0: fewer than min_connections),
  // and the pairs whose score is out of date.
  std::vector<size_t>& counts = counts_;
  std::vector<Entry*>& stale = stale_;
  counts.clear();
  stale.clear();
  for (Entry& entry : pairs_) {
    size_t count = entry.oldest >= cutoff
                       ? entry.ring.size()  // all of them: what Expire leaves
                       : static_cast<size_t>(std::count_if(entry.ring.begin(), entry.ring.end(),
                                                           [&](double t) { return t >= cutoff; }));
    if (count < std::max<size_t>(1, min_connections)) count = 0;
    counts.push_back(count);
    if (count > 0 && (entry.dirty || count != entry.scored_count)) stale.push_back(&entry);
  }
  if (stale.size() > max_rescores) {
    auto scored_earlier = [](const Entry* a, const Entry* b) {
      return a->scored_round < b->scored_round;
    };
    std::nth_element(stale.begin(), stale.begin() + static_cast<ptrdiff_t>(max_rescores),
                     stale.end(), scored_earlier);
    backlog_ = stale.size() - max_rescores;
    stale.resize(max_rescores);
  } else {
    backlog_ = 0;
  }
  std::vector<double>& window = window_;
  for (Entry* entry : stale) {
    window.clear();
    entry->ForEachOldestFirst([&](double t) {
      if (t >= cutoff) window.push_back(t);
    });
    auto fit = FitBeacon(window);
    ++rescored_;
    entry->dirty = false;
    entry->scored_count = window.size();
    entry->scored_round = rounds_;
    entry->scored.reset();
    if (fit)
      entry->scored = Entry::Scored{fit->score, fit->median_interval,
                                    *std::max_element(window.begin(), window.end())};
  }
  results.clear();
  size_t index = 0;
  for (const Entry& entry : pairs_) {
    size_t count = counts[index++];
    if (count == 0 || !entry.scored) continue;
    results.push_back({entry.pair, entry.scored->score, count, entry.scored->median_interval,
                       entry.scored->last_start_unix});
  }
}

std::string FormatBeaconState(const BeaconTracker& tracker) {
  std::string text(kBeaconHeader);
  tracker.ForEachOldestFirst([&](const BeaconPair& pair, const std::vector<double>& starts) {
    for (const std::string* name :
         {&pair.process, &pair.k8s_namespace, &pair.pod, &pair.container, &pair.remote_zone}) {
      AppendTabField(*name, text);
      text += '\t';
    }
    text += FormatIpAddress(pair.remote);
    text += '\t';
    text += std::to_string(pair.remote_port);
    for (double start : starts) {
      text += '\t';
      AppendNumber(start, text);
    }
    text += '\n';
  });
  return text;
}

std::optional<BeaconTracker> ParseBeaconState(std::string_view text, size_t max_pairs,
                                              std::string& error) {
  if (!text.starts_with(kBeaconHeader)) {
    error = "line 1: not a connwatch beacon state 1 file";
    return std::nullopt;
  }
  text.remove_prefix(kBeaconHeader.size());
  std::vector<ParsedLine> lines;
  std::unordered_map<BeaconPair, size_t, BeaconPairHash> seen;
  for (size_t number = 2; !text.empty(); ++number) {
    auto fail = [&](const std::string& why) {
      error = "line " + std::to_string(number) + ": " + why;
      return std::nullopt;
    };
    size_t end = text.find('\n');
    if (end == std::string_view::npos) return fail("no newline at the end (torn)");
    auto parsed = ParseLine(text.substr(0, end), error);
    text.remove_prefix(end + 1);
    if (!parsed) return fail(error);
    if (!seen.emplace(parsed->pair, number).second) return fail("the pair of an earlier line");
    if (lines.size() == max_pairs) return fail("more than " + std::to_string(max_pairs) + " pairs");
    lines.push_back(std::move(*parsed));
  }
  BeaconTracker tracker(max_pairs);
  for (const ParsedLine& line : lines)
    for (double start : line.starts) tracker.Observe(line.pair, start);
  return tracker;
}

}  // namespace connwatch
