// The recent connection starts of each pair (a workload's process and one remote endpoint),
// and their beacon scores (tracking/beacon_score.h). Pure: time is passed in, nothing is
// read or written here; the persisted text is FormatBeaconState / ParseBeaconState.
//
// Memory is bounded by construction: at most max_pairs pairs, each with at most
// kBeaconStartsPerPair starts. At the cap a pair holds its ring (1 KiB), its entry (the
// 184-byte BeaconPair, the cached score and the list links: about 280 bytes) and its index
// node (about 40 bytes), about 1.4 KiB, plus the bytes of names longer than 15 (an exe
// basename is at most 255, a namespace 63, a pod 253, a container 63): at most about
// 2 KiB. 4,096 pairs (the default) take 6 MiB at the cap with short names, 8 MiB at most.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/ip_address.h"

namespace connwatch {

// The most recent starts a pair keeps. 128 beats are 2 hours of a 1-minute beacon; a faster
// one is judged on its last 128 connections, which is plenty for the quantiles.
inline constexpr size_t kBeaconStartsPerPair = 128;
inline constexpr size_t kDefaultBeaconPairs = 4096;

struct BeaconPair {
  std::string process, k8s_namespace, pod, container, remote_zone;
  IpAddress remote;
  uint16_t remote_port = 0;

  bool operator==(const BeaconPair&) const = default;
  auto operator<=>(const BeaconPair&) const = default;
};

struct BeaconPairHash {
  size_t operator()(const BeaconPair& pair) const;
};

struct BeaconResult {
  BeaconPair pair;
  double score = 0;
  size_t connections = 0;      // starts in the window
  double median_interval = 0;  // seconds between beats (bursts merged)
  double last_start_unix = 0;
};

class BeaconTracker {
 public:
  explicit BeaconTracker(size_t max_pairs = kDefaultBeaconPairs);
  BeaconTracker(BeaconTracker&&) = default;
  BeaconTracker& operator=(BeaconTracker&&) = default;

  // Records a start. A new pair beyond max_pairs evicts the least recently observed one
  // (counted in evicted()); a pair with kBeaconStartsPerPair starts forgets its oldest (in
  // the order observed: starts arriving out of order are kept as they came). A negative or
  // non-finite start is ignored.
  void Observe(const BeaconPair& pair, double start_unix);
  // Forgets starts before now - window, and pairs left with none.
  void Expire(double window_seconds, double now_unix);
  // The pairs with at least min_connections starts since now - window that can be scored
  // (FitBeacon: 4 beats or more), most recently observed first. A pair not observed since
  // it was last scored, with as many starts in the window as then, keeps its score (see
  // rescored()): a window's starts are those at or after a cutoff, so without a new start
  // the same count is the same starts, whichever way the cutoff moved.
  // At most max_rescores pairs are rescored in one call, those scored longest ago first
  // (never scored before all others); the rest keep their last score, or are not returned
  // yet when they have none, and wait for a later call (backlog()). A score costs a few
  // microseconds: the cap is what bounds a sample's cost however many pairs changed.
  std::vector<BeaconResult> Score(double window_seconds, size_t min_connections, double now_unix,
                                  size_t max_rescores = SIZE_MAX);
  // The same into `results` (cleared first), whose storage a caller reuses every sample.
  void Score(double window_seconds, size_t min_connections, double now_unix, size_t max_rescores,
             std::vector<BeaconResult>& results);

  bool Tracks(const BeaconPair& pair) const { return index_.contains(&pair); }

  size_t pairs() const { return pairs_.size(); }
  size_t max_pairs() const { return max_pairs_; }
  uint64_t evicted() const { return evicted_; }
  uint64_t rescored() const { return rescored_; }  // FitBeacon calls, for tests
  // Pairs the last Score call left to a later one (over max_rescores).
  size_t backlog() const { return backlog_; }

  // Each pair with its starts, oldest first, least recently observed pair first: the order
  // that Observe replays into the same tracker (persistence).
  template <typename Visit>
  void ForEachOldestFirst(Visit visit) const {
    for (auto it = pairs_.rbegin(); it != pairs_.rend(); ++it) visit(it->pair, it->Starts());
  }

 private:
  struct Entry {
    BeaconPair pair;
    std::vector<double> ring;  // up to kBeaconStartsPerPair; oldest at `head` once full
    size_t head = 0;
    double oldest = 0;     // the earliest start in the ring
    bool in_order = true;  // every start observed at or after the one before
    bool dirty = true;
    size_t scored_count = 0;    // starts in the window when last scored
    uint64_t scored_round = 0;  // the Score call that last scored it, 0 never
    struct Scored {
      double score, median_interval, last_start_unix;
    };
    std::optional<Scored> scored;  // nullopt: too few beats to score

    std::vector<double> Starts() const;
    // The starts in the order observed (FitBeacon finds them sorted then, nearly always).
    template <typename Visit>
    void ForEachOldestFirst(Visit visit) const {
      for (size_t i = head; i < ring.size(); ++i) visit(ring[i]);
      for (size_t i = 0; i < head; ++i) visit(ring[i]);
    }
    void Add(double start);
  };
  struct PairPtrHash {
    size_t operator()(const BeaconPair* pair) const { return BeaconPairHash()(*pair); }
  };
  struct PairPtrEqual {
    bool operator()(const BeaconPair* a, const BeaconPair* b) const { return *a == *b; }
  };

  size_t max_pairs_;
  std::list<Entry> pairs_;  // most recently observed first
  // Keys point into pairs_' entries, which list nodes never move.
  std::unordered_map<const BeaconPair*, std::list<Entry>::iterator, PairPtrHash, PairPtrEqual>
      index_;
  uint64_t evicted_ = 0;
  uint64_t rescored_ = 0;
  uint64_t rounds_ = 0;  // Score calls
  size_t backlog_ = 0;
  // Score's scratch, kept between calls (a sample's worth of pairs each).
  std::vector<size_t> counts_;
  std::vector<Entry*> stale_;
  std::vector<double> window_;
};

// The tracker's state as text and back; no file is opened here. Format 1:
//   # connwatch beacon state 1
//   then one line per pair, least recently observed first, tab-separated: process,
//   namespace, pod, container, remote zone (escaped as base/tab_fields.h does), remote
//   address, remote port, then its starts (Unix seconds, shortest round-trip decimal),
//   oldest first, one field each.
std::string FormatBeaconState(const BeaconTracker& tracker);
// nullopt with `error` ("line N: ...") for anything FormatBeaconState never writes: another
// header, a torn last line, a wrong field count, an address, port or time that does not
// parse, a negative or non-finite time, more than kBeaconStartsPerPair starts, a pair twice,
// more than max_pairs pairs.
std::optional<BeaconTracker> ParseBeaconState(std::string_view text, size_t max_pairs,
                                              std::string& error);

}  // namespace connwatch
