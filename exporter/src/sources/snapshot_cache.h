// What one sample leaves for the next so that a steady host is not rescanned from scratch:
// which sockets each process held (the /proc/<pid>/fd walk) and who each process is
// (/proc/<pid>/{stat,status,exe,cmdline}). The Sampler owns one and passes it to every
// TakeSnapshot; a fresh cache gives a cold sample.
#pragma once

#include <cstdint>
#include <memory>

namespace connwatch {

class OwnerCache;

class SnapshotCache {
 public:
  SnapshotCache();
  ~SnapshotCache();
  SnapshotCache(SnapshotCache&&) noexcept;
  SnapshotCache& operator=(SnapshotCache&&) noexcept;
  SnapshotCache(const SnapshotCache&) = delete;
  SnapshotCache& operator=(const SnapshotCache&) = delete;

  // Samples taken with this cache so far.
  uint64_t samples() const { return samples_; }

  // Used by TakeSnapshot.
  OwnerCache& owners() { return *owners_; }
  void CountSample() { ++samples_; }

 private:
  std::unique_ptr<OwnerCache> owners_;
  uint64_t samples_ = 0;
};

}  // namespace connwatch
