// The flags several subcommands share (serve, connections, check, baseline and the benchmark
// driver), declared once so that their names, values and defaults agree everywhere.
#pragma once

#include <string>

#include "base/log.h"
#include "cli/flags.h"
#include "sources/snapshot.h"

namespace connwatch {

inline constexpr const char* kDefaultStoragePath = "/var/lib/connwatch";

// --collector.source=auto|netlink|procfs.
Flag SourceModeFlag(SourceMode* mode, std::string help);
// "auto", "netlink" or "procfs": the flag's own spelling, for log lines.
std::string SourceModeName(SourceMode mode);
// --log.level=debug|info|warn|error.
Flag LogLevelFlag(LogLevel* level);
// --collector.netns=all|own: every network namespace of the host, or connwatch's own.
Flag NetnsFlag(bool* all_namespaces);
// --path.procfs=/proc.
Flag ProcfsFlag(std::string* procfs);
// --path.rootfs=/ (the host's root: pinned namespaces, OCI bundles, pod logs).
Flag RootfsFlag(std::string* rootfs);
// --path.sysfs=/sys (cgroup2 is found through the host's mountinfo, under this).
Flag SysfsFlag(std::string* sysfs);
// --storage.path=/var/lib/connwatch; each command says what it keeps or reads there.
Flag StoragePathFlag(std::string* storage_path, std::string help);

}  // namespace connwatch
