#include "sources/snapshot_cache.h"

#include "sources/containers.h"
#include "sources/netns_registry.h"
#include "sources/owner_cache.h"
#include "sources/snapshot.h"

namespace connwatch {

SnapshotCache::SnapshotCache()
    : owners_(std::make_unique<OwnerCache>()),
      workloads_(std::make_unique<WorkloadResolver>()),
      namespaces_(std::make_unique<NetnsRegistry>()) {}
SnapshotCache::~SnapshotCache() = default;
SnapshotCache::SnapshotCache(SnapshotCache&&) noexcept = default;
SnapshotCache& SnapshotCache::operator=(SnapshotCache&&) noexcept = default;

void SnapshotCache::Reclaim(Snapshot&& snapshot) {
  owners_->ReturnClaims(std::move(snapshot.owners));
}

}  // namespace connwatch
