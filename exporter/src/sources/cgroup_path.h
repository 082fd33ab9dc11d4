// Pure parsers for cgroup v2: a process's cgroup path (/proc/<pid>/cgroup), where cgroup2 is
// mounted (/proc/self/mountinfo), and what a cgroup path says about the container and pod a
// process runs in (the runtime, the container id, the pod UID), for the layouts of
// containerd, cri-o, Docker and podman under the systemd and the cgroupfs drivers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model.h"

namespace connwatch {

// The cgroup v2 path of a /proc/<pid>/cgroup text: the "0::" line's path. A host with only
// cgroup v1 has none; the "name=systemd" hierarchy then carries the same names. "" when
// neither is there. The first matching line counts: a directory name holding a newline
// cannot forge a later line that wins.
std::string ParseProcCgroup(std::string_view text);

// Where cgroup2 is mounted in a /proc/self/mountinfo text: /sys/fs/cgroup on unified hosts,
// /sys/fs/cgroup/unified on hybrid ones. Octal escapes (\040 for a space) are undone.
// nullopt when no cgroup2 is mounted.
std::optional<std::string> ParseCgroup2Mount(std::string_view mountinfo);

// A container id as runtimes write it into cgroup names: 64 lowercase hex digits. Strict,
// since the id is later part of file paths under --path.rootfs.
bool IsContainerId(std::string_view text);

// The runtime, container id and pod UID a cgroup path names; the Kubernetes names stay
// empty (sources/containers.h reads them from the node's files). The deepest component
// naming a container decides (a container may make cgroups of its own below its scope).
// Everything else is the host: *.service, session-*.scope, user slices, and conmon's
// scopes (the monitor of a container, not the container).
Workload ParseCgroupWorkload(std::string_view cgroup_path);

}  // namespace connwatch
