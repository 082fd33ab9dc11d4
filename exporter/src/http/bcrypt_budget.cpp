#include "http/bcrypt_budget.h"

#include <algorithm>

namespace connwatch {

double BcryptBudget::Refilled(const Bucket& bucket, double now_seconds) const {
  double elapsed = std::max(0.0, now_seconds - bucket.updated_seconds);
  return std::min(limits_.per_peer_burst, bucket.tokens + elapsed * limits_.per_peer_per_second);
}

void BcryptBudget::ForgetFullBuckets(double now_seconds) {
  // A full bucket says nothing a new one would not: forgetting it loses no limit.
  std::erase_if(buckets_, [&](const auto& entry) {
    return Refilled(entry.second, now_seconds) >= limits_.per_peer_burst;
  });
  // Still too many peers (a flood from many addresses): start over. The concurrency cap
  // still holds, so the CPU spent stays bounded.
  if (buckets_.size() >= limits_.max_peers) buckets_.clear();
}

BcryptRefusal BcryptBudget::TryStart(std::string_view peer, double now_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_ >= limits_.max_concurrent) return BcryptRefusal::kBusy;
  auto found = buckets_.find(std::string(peer));
  if (found == buckets_.end()) {
    if (buckets_.size() >= limits_.max_peers) ForgetFullBuckets(now_seconds);
    found = buckets_.emplace(std::string(peer), Bucket{limits_.per_peer_burst, now_seconds}).first;
  }
  Bucket& bucket = found->second;
  bucket.tokens = Refilled(bucket, now_seconds);
  bucket.updated_seconds = std::max(bucket.updated_seconds, now_seconds);
  if (bucket.tokens < 1.0) return BcryptRefusal::kPeerRate;
  bucket.tokens -= 1.0;
  ++running_;
  return BcryptRefusal::kNone;
}

void BcryptBudget::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_ > 0) --running_;
}

size_t BcryptBudget::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

size_t BcryptBudget::peers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return buckets_.size();
}

}  // namespace connwatch
