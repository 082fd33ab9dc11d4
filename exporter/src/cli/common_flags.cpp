#include "cli/common_flags.h"

#include <utility>
#include <vector>

namespace connwatch {
namespace {

// The names as the flags spell them; what each means comes from the layer that owns it
// (ParseSourceMode, ParseLogLevel), so the two cannot disagree.
constexpr const char* kSourceModeNames[] = {"auto", "netlink", "procfs"};
constexpr const char* kLogLevelNames[] = {"debug", "info", "warn", "error"};

std::vector<std::pair<std::string, SourceMode>> SourceModes() {
  std::vector<std::pair<std::string, SourceMode>> modes;
  for (const char* name : kSourceModeNames) {
    SourceMode mode = SourceMode::kAuto;
    if (ParseSourceMode(name, mode)) modes.emplace_back(name, mode);
  }
  return modes;
}

std::vector<std::pair<std::string, LogLevel>> LogLevels() {
  std::vector<std::pair<std::string, LogLevel>> levels;
  for (const char* name : kLogLevelNames) {
    LogLevel level = LogLevel::kInfo;
    if (ParseLogLevel(name, level)) levels.emplace_back(name, level);
  }
  return levels;
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

Flag ProcfsFlag(std::string* procfs) {
  return StringFlag("path.procfs", "procfs mountpoint.", procfs);
}

Flag StoragePathFlag(std::string* storage_path, std::string help) {
  return StringFlag("storage.path", std::move(help), storage_path);
}

}  // namespace connwatch
