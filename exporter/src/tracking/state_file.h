// The persisted first-seen table: <storage.path>/connections.state, written atomically
// (temp file, fsync, rename, directory fsync). A bad file is reported, never trusted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tracking/connection_ages.h"

namespace connwatch {

// At most this many entries are written (the oldest connections are kept): bounds the
// file and the time to write it.
inline constexpr size_t kMaxPersistedConnections = 200000;

struct TrackerState {
  std::string boot_id;
  std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash> entries;
};

// Pure: the file's text and back. Parse returns nullopt with `error` for a corrupt,
// truncated or foreign file.
std::string SerializeTrackerState(const TrackerState& state);
std::optional<TrackerState> ParseTrackerState(std::string_view text, std::string& error);

// I/O. Load: nullopt with error "" when the file does not exist.
bool SaveTrackerState(const std::string& path, const TrackerState& state, std::string& error);
std::optional<TrackerState> LoadTrackerState(const std::string& path, std::string& error);

// /proc/sys/kernel/random/boot_id under procfs, without the newline; "" if unreadable.
std::string ReadBootId(const std::string& procfs);

}  // namespace connwatch
