#include "cli/common_flags.h"

#include <utility>
#include <vector>

namespace connwatch {
namespace {

// The names as the flags spell them; what each means comes from the layer that owns it
// (ParseSourceMode, ParseLogLevel), so the two cannot disagree.
constexpr const char* kSourceModeNames[] = {"auto", "netlink", "procfs"};
constexpr const char* kLogLevelNames[] = {"debug", "info", "warn", "error"};

// Each name with the value the owning layer's parser gives it.
template <typename T, size_t N>
std::vector<std::pair<std::string, T>> Named(const char* const (&names)[N],
                                             bool (*parse)(std::string_view, T&)) {
  std::vector<std::pair<std::string, T>> values;
  for (const char* name : names) {
    T value{};
    if (parse(name, value)) values.emplace_back(name, value);
  }
  return values;
}

std::vector<std::pair<std::string, SourceMode>> SourceModes() {
  return Named(kSourceModeNames, &ParseSourceMode);
}

std::vector<std::pair<std::string, LogLevel>> LogLevels() {
  return Named(kLogLevelNames, &ParseLogLevel);
}

}  // namespace

Flag SourceModeFlag(SourceMode* mode, std::string help) {
  return TypedChoiceFlag("collector.source", std::move(help), mode, SourceModes());
}

std::string SourceModeName(SourceMode mode) {
  for (const auto& [name, candidate] : SourceModes()) {
    if (candidate == mode) return name;
  }
  return "unknown";
}

Flag LogLevelFlag(LogLevel* level) {
  return TypedChoiceFlag("log.level", "Only log messages with the given severity or above.", level,
                         LogLevels());
}

Flag NetnsFlag(bool* all_namespaces) {
  return TypedChoiceFlag("collector.netns",
                         "Network namespaces to read: all of the host's (pods, containers, `ip "
                         "netns`), or only connwatch's own.",
                         all_namespaces,
                         std::vector<std::pair<std::string, bool>>{{"all", true}, {"own", false}});
}

Flag ProcfsFlag(std::string* procfs) {
  return StringFlag("path.procfs", "procfs mountpoint.", procfs);
}

Flag RootfsFlag(std::string* rootfs) {
  return StringFlag("path.rootfs",
                    "The host's root filesystem (a container mounts it, e.g. /host).", rootfs);
}

Flag SysfsFlag(std::string* sysfs) { return StringFlag("path.sysfs", "sysfs mountpoint.", sysfs); }

Flag StoragePathFlag(std::string* storage_path, std::string help) {
  return StringFlag("storage.path", std::move(help), storage_path);
}

}  // namespace connwatch
