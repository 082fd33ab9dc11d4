// Which container and which Kubernetes pod each socket belongs to, from the kernel and the
// node's files only (no kubelet, CRI socket or API server): the cgroup path of the socket's
// owner names the runtime, the container id and the pod UID (sources/cgroup_path.h); the
// container's OCI bundle (containerd's or cri-o's config.json) names the pod, its namespace
// and the container, else kubelet's log directories do (sources/workload_metadata.h). Every
// file is read under --path.rootfs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "model.h"
#include "sources/workload_metadata.h"

namespace connwatch {

struct Snapshot;

struct WorkloadStats {
  // Bundles found but refused: larger than kMaxOciConfigBytes, not a regular file,
  // unreadable, truncated or not JSON (connwatch_parse_errors_total{source="oci_config"}).
  uint64_t metadata_errors = 0;
  uint64_t bundles_read = 0;  // config.json files read this sample (cache misses)
};

// A container's names are read once and kept while any of its processes holds a socket:
// a bundle does not change while its container runs. A container whose names are not all
// known (no bundle, no log directory yet) is read again every kRetryEvery samples.
class WorkloadResolver {
 public:
  static constexpr uint64_t kRetryEvery = 30;
  // Containers not seen for this many samples are forgotten.
  static constexpr uint64_t kForgetAfter = 10;
  // Past this many containers (a hostile churn) the cache starts over rather than grow.
  static constexpr size_t kMaxEntries = 16384;

  // The workload of a process in `cgroup_path` (the host's when it names no container),
  // its names read under `rootfs` unless known.
  Workload Resolve(const std::string& rootfs, std::string_view cgroup_path, WorkloadStats& stats);
  // Ends a sample: forgets what has not been asked about for kForgetAfter samples.
  void EndSample();

  size_t cached() const { return entries_.size(); }

 private:
  struct Entry {
    Workload workload;
    uint64_t resolved_at = 0;
    uint64_t seen_at = 0;
    bool complete = false;
  };
  Workload Fill(const std::string& rootfs, Workload workload, WorkloadStats& stats, bool& complete);
  bool ReadBundle(const std::string& rootfs, Workload& workload, WorkloadStats& stats);
  void ApplyLogNames(const std::string& rootfs, Workload& workload);
  void ListLogs(const std::string& rootfs);

  std::unordered_map<std::string, Entry> entries_;  // by container id, or "pod:" + pod UID
  uint64_t sample_ = 1;
  // kubelet's log names, listed at most once per sample, when a container is resolved.
  std::unordered_map<std::string, PodNames> pod_logs_;        // by pod UID
  std::unordered_map<std::string, PodNames> container_logs_;  // by container id
  uint64_t logs_listed_at_ = 0;
};

// Fills snapshot.workloads ([0] the host) and snapshot.workload_of (left empty when every
// socket is the host's) from the cgroup of each socket's first readable owner,
// snapshot.workload_by_cgroup from the sockets of containers, and snapshot.workload_stats.
void AssignWorkloads(Snapshot& snapshot, const std::string& rootfs, WorkloadResolver& resolver);

}  // namespace connwatch
