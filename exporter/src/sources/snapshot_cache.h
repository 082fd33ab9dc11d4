// What one sample leaves for the next so that a steady host is not rescanned from scratch:
// which sockets each process held (the /proc/<pid>/fd walk) and who each process is
// (/proc/<pid>/{stat,status,exe,cmdline}). The Sampler owns one and passes it to every
// TakeSnapshot; a fresh cache gives a cold sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace connwatch {

class NetnsRegistry;
class OwnerCache;
class WorkloadResolver;
struct Snapshot;

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
  // Containers' names, read once per container (sources/containers.h).
  WorkloadResolver& workloads() { return *workloads_; }
  // The other network namespaces, and the sockets held open inside them.
  NetnsRegistry& namespaces() { return *namespaces_; }
  void CountSample(size_t sockets) {
    ++samples_;
    last_socket_count_ = sockets;
  }
  // Takes back what `snapshot` (taken with this cache, and done with) borrowed from it: its
  // owner table, which the next sample otherwise rebuilds.
  void Reclaim(Snapshot&& snapshot);
  // Sockets in the last sample: the next dump's vector is reserved for about as many, so
  // it is not grown by doubling (which briefly holds 1.5x the table and copies it).
  size_t last_socket_count() const { return last_socket_count_; }

 private:
  std::unique_ptr<OwnerCache> owners_;
  std::unique_ptr<WorkloadResolver> workloads_;
  std::unique_ptr<NetnsRegistry> namespaces_;
  uint64_t samples_ = 0;
  size_t last_socket_count_ = 0;
};

}  // namespace connwatch
