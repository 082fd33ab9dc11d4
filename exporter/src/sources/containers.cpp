#include "sources/containers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "sources/cgroup_path.h"
#include "sources/snapshot.h"

namespace connwatch {
namespace {

// A hostile or runaway log directory cannot grow the name tables past this.
constexpr size_t kMaxLogEntries = 100000;

enum class BundleRead { kOk, kMissing, kRefused };

// `rootfs` + `path` (absolute), without a doubled slash for the default "/".
std::string UnderRoot(const std::string& rootfs, std::string_view path) {
  std::string root = rootfs;
  while (!root.empty() && root.back() == '/') root.pop_back();
  return root + std::string(path);
}

// Reads a regular file of at most `max_bytes`. Refused without reading: anything but a
// regular file (a FIFO cannot hang the sampler: opened non-blocking) and a file whose size
// is past the cap (a 100 MB config.json costs one fstat); a symlink as the last component
// is not followed.
BundleRead ReadRegularFile(const std::string& path, size_t max_bytes, std::string& text,
                           std::string& why) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return BundleRead::kMissing;
    why = strerror(errno);
    return BundleRead::kRefused;
  }
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    why = "not a regular file";
  } else if (static_cast<uint64_t>(info.st_size) > max_bytes) {
    why = "larger than " + std::to_string(max_bytes) + " bytes";
  }
  text.clear();
  char buffer[16384];
  while (why.empty() && text.size() <= max_bytes) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = strerror(errno);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  // The file grew past the cap between fstat and read: refused as well.
  if (why.empty() && text.size() > max_bytes) why = "larger than the limit while read";
  return why.empty() ? BundleRead::kOk : BundleRead::kRefused;
}

// Where each runtime keeps a running container's bundle: containerd's v2 shim state for
// the CRI ("k8s.io"), Docker's ("moby") and ctr's ("default") namespaces; cri-o's and
// podman's container storage.
std::vector<std::string> BundlePaths(const std::string& rootfs, const Workload& workload) {
  const std::string& id = workload.container_id;
  std::string containerd = "/run/containerd/io.containerd.runtime.v2.task/";
  std::string storage =
      "/run/containers/storage/overlay-containers/" + id + "/userdata/config.json";
  std::vector<std::string> paths;
  if (workload.runtime == "containerd") {
    for (const char* ns : {"k8s.io", "moby", "default"}) {
      paths.push_back(UnderRoot(rootfs, containerd + ns + "/" + id + "/config.json"));
    }
  } else if (workload.runtime == "docker") {
    paths.push_back(UnderRoot(rootfs, containerd + "moby/" + id + "/config.json"));
  } else {
    paths.push_back(UnderRoot(rootfs, storage));
  }
  return paths;
}

// Calls `visit(name)` for each entry of `dir` (not "." and ".."); false when unreadable.
template <typename Visit>
bool ForEachEntry(const std::string& dir, Visit visit) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return false;
  while (dirent* entry = readdir(handle)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") visit(name);
  }
  closedir(handle);
  return true;
}

}  // namespace

Workload WorkloadResolver::Resolve(const std::string& rootfs, std::string_view cgroup_path,
                                   WorkloadStats& stats) {
  Workload parsed = ParseCgroupWorkload(cgroup_path);
  if (parsed.IsHost()) return parsed;
  std::string key = parsed.container_id.empty() ? "pod:" + parsed.pod_uid : parsed.container_id;
  if (entries_.size() >= kMaxEntries && entries_.count(key) == 0) entries_.clear();
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& entry = it->second;
  entry.seen_at = sample_;
  bool fresh_enough = !inserted && (entry.complete || sample_ - entry.resolved_at < kRetryEvery);
  if (fresh_enough) return entry.workload;
  entry.workload = Fill(rootfs, std::move(parsed), stats, entry.complete);
  entry.resolved_at = sample_;
  return entry.workload;
}

Workload WorkloadResolver::Fill(const std::string& rootfs, Workload workload, WorkloadStats& stats,
                                bool& complete) {
  bool bundle = !workload.container_id.empty() && ReadBundle(rootfs, workload, stats);
  bool named = !workload.pod.empty() && !workload.k8s_namespace.empty() &&
               (workload.container_id.empty() || !workload.container.empty());
  if (!named && !workload.pod_uid.empty()) ApplyLogNames(rootfs, workload);
  // A bundle says all there is to know; outside one, only a full set of names is final.
  complete = bundle || (!workload.pod.empty() && !workload.container.empty());
  return workload;
}

bool WorkloadResolver::ReadBundle(const std::string& rootfs, Workload& workload,
                                  WorkloadStats& stats) {
  for (const std::string& path : BundlePaths(rootfs, workload)) {
    std::string text, why;
    BundleRead read = ReadRegularFile(path, kMaxOciConfigBytes, text, why);
    if (read == BundleRead::kMissing) continue;
    PodNames names;
    if (read == BundleRead::kOk) {
      ++stats.bundles_read;
      if (ParseOciAnnotations(text, names, why)) {
        workload.k8s_namespace = names.k8s_namespace;
        workload.pod = names.pod;
        workload.container = names.container;
        if (workload.pod_uid.empty()) workload.pod_uid = names.pod_uid;
        return true;
      }
    }
    ++stats.metadata_errors;
    Log(LogLevel::kWarn, "container bundle refused",
        {{"container_id", workload.container_id}, {"path", path}, {"err", why}});
    return false;
  }
  return false;
}

void WorkloadResolver::ApplyLogNames(const std::string& rootfs, Workload& workload) {
  auto find = [&] {
    auto pod = pod_logs_.find(workload.pod_uid);
    auto container = container_logs_.find(workload.container_id);
    if (pod != pod_logs_.end()) {
      if (workload.pod.empty()) workload.pod = pod->second.pod;
      if (workload.k8s_namespace.empty()) workload.k8s_namespace = pod->second.k8s_namespace;
    }
    // A container's log link names its pod too: only trusted when it is this pod.
    if (container != container_logs_.end() && workload.container.empty() &&
        container->second.pod == workload.pod &&
        container->second.k8s_namespace == workload.k8s_namespace) {
      workload.container = container->second.container;
    }
    return pod != pod_logs_.end();
  };
  if (find() || logs_listed_at_ == sample_) return;
  ListLogs(rootfs);
  find();
}

void WorkloadResolver::ListLogs(const std::string& rootfs) {
  logs_listed_at_ = sample_;
  pod_logs_.clear();
  container_logs_.clear();
  ForEachEntry(UnderRoot(rootfs, "/var/log/pods"), [&](std::string_view name) {
    std::optional<PodNames> names = ParsePodLogDirectory(name);
    if (names && pod_logs_.size() < kMaxLogEntries) pod_logs_.emplace(names->pod_uid, *names);
  });
  ForEachEntry(UnderRoot(rootfs, "/var/log/containers"), [&](std::string_view name) {
    std::optional<ContainerLog> log = ParseContainerLogName(name);
    if (log && container_logs_.size() < kMaxLogEntries) {
      container_logs_.emplace(log->container_id, log->names);
    }
  });
}

void WorkloadResolver::EndSample() {
  std::erase_if(entries_,
                [&](const auto& item) { return sample_ - item.second.seen_at >= kForgetAfter; });
  ++sample_;
}

namespace {

// The key that tells workloads apart within one snapshot.
std::string_view WorkloadKey(const Workload& workload) {
  return workload.container_id.empty() ? std::string_view(workload.pod_uid)
                                       : std::string_view(workload.container_id);
}

}  // namespace

void AssignWorkloads(Snapshot& snapshot, const std::string& rootfs, WorkloadResolver& resolver) {
  snapshot.workloads.assign(1, Workload{});
  snapshot.workload_of.clear();
  snapshot.workload_by_cgroup.clear();
  std::vector<uint32_t> workload_of(snapshot.sockets.size(), 0);
  std::unordered_map<pid_t, uint32_t> by_pid;
  std::unordered_map<std::string, uint32_t> by_key;
  // A socket's cgroup is its creator's, and a process moved into a container after making
  // sockets (or one handed a socket) leaves sockets of one cgroup in two workloads: such a
  // cgroup names none.
  constexpr uint32_t kAmbiguous = UINT32_MAX;
  std::unordered_map<uint64_t, uint32_t> by_cgroup;
  bool any = false;
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    for (pid_t pid : snapshot.OwnersOf(snapshot.sockets[i])) {
      auto process = snapshot.processes.find(pid);
      if (process == snapshot.processes.end()) continue;  // exited before it was read
      auto [known, inserted] = by_pid.try_emplace(pid, 0);
      if (inserted) {
        Workload workload =
            resolver.Resolve(rootfs, process->second.cgroup, snapshot.workload_stats);
        if (!workload.IsHost()) {
          auto [slot, added] = by_key.try_emplace(std::string(WorkloadKey(workload)),
                                                  static_cast<uint32_t>(snapshot.workloads.size()));
          if (added) snapshot.workloads.push_back(std::move(workload));
          known->second = slot->second;
        }
      }
      workload_of[i] = known->second;
      any = any || known->second != 0;
      if (snapshot.sockets[i].cgroup_id != 0) {
        auto [cgroup, first] = by_cgroup.try_emplace(snapshot.sockets[i].cgroup_id, known->second);
        if (!first && cgroup->second != known->second) cgroup->second = kAmbiguous;
      }
      break;  // the first readable owner decides
    }
  }
  if (any) snapshot.workload_of = std::move(workload_of);
  for (const auto& [cgroup, workload] : by_cgroup) {
    if (workload != 0 && workload != kAmbiguous)
      snapshot.workload_by_cgroup.emplace(cgroup, workload);
  }
  resolver.EndSample();
}

}  // namespace connwatch
