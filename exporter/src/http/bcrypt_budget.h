// How much bcrypt work a client can make connwatch do before it has proven anything. Every
// check of a password that is not in the cache costs one bcrypt run (tens of milliseconds of
// CPU at the usual costs): without a bound, 32 clients sending wrong passwords kept 1.3 of 2
// cores busy. A run over budget is refused (the request gets 429), never queued.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace connwatch {

struct BcryptLimits {
  size_t max_concurrent = 2;         // runs at once, from everyone together
  double per_peer_per_second = 2.0;  // a peer's steady rate of runs
  double per_peer_burst = 10.0;      // and how many it may make at once after a pause
  size_t max_peers = 4096;           // buckets kept; past it, full buckets are forgotten
};

enum class BcryptRefusal { kNone, kBusy, kPeerRate };

class BcryptBudget {
 public:
  explicit BcryptBudget(BcryptLimits limits = {}) : limits_(limits) {}

  // Takes a run for `peer` at `now_seconds` (a monotonic clock); kNone when granted, and the
  // caller must then call Finish once the run is over.
  BcryptRefusal TryStart(std::string_view peer, double now_seconds);
  void Finish();

  size_t running() const;
  size_t peers() const;

 private:
  struct Bucket {
    double tokens = 0;
    double updated_seconds = 0;
  };
  double Refilled(const Bucket& bucket, double now_seconds) const;
  void ForgetFullBuckets(double now_seconds);

  const BcryptLimits limits_;
  mutable std::mutex mutex_;
  size_t running_ = 0;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace connwatch
