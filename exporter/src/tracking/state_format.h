// The text of the persisted first-seen table, and nothing else: no file is opened here
// (tracking/state_store.h writes and reads the files). The table is kept as a snapshot,
// connections.state, and beside it a journal, connections.journal, to which each sample
// appends only what changed. The journal names the snapshot it extends (a hash of its bytes)
// and is replayed on it. A bad text is reported, never trusted.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tracking/connection_table.h"

namespace connwatch {

// At most this many entries are written (the oldest connections are kept): bounds the
// file and the time to write it.
inline constexpr size_t kMaxPersistedConnections = 200000;

struct TrackerState {
  std::string boot_id;
  ConnectionTable entries;
};

// The snapshot's text and back. Parse returns nullopt with `error` for a corrupt, truncated
// or foreign file.
std::string SerializeTrackerState(const TrackerState& state);
std::optional<TrackerState> ParseTrackerState(std::string_view text, std::string& error);

// connections.state -> connections.journal
std::string JournalPathFor(const std::string& state_path);

// Journal format 1:
//   connwatch-connection-journal 1
//   boot_id <id>
//   snapshot <FNV-1a 64 of the snapshot file's bytes, 16 hex digits>
//   then per sample: "+ <entry as in the snapshot>" and "- <key>" lines, then "commit <n>"
//   with n the number of those lines since the previous commit.
std::string JournalHeader(const std::string& boot_id, std::string_view snapshot_text);
std::string JournalRecords(const TrackerState& state, const ConnectionKeyList& added,
                           const ConnectionKeyList& removed);
// Applies a journal's committed records to `state` (the snapshot `snapshot_text` holds).
// false when the journal is not for this snapshot (error "": a crash between a snapshot's
// rewrite and the journal's restart leaves that, and it holds nothing new) or is corrupt
// (`error` says why); `state` is then left as it was. true with `error` set when only a torn
// tail (a sample's records without their "commit" line, as a kill during the append leaves)
// was dropped.
bool ReplayJournal(std::string_view journal, std::string_view snapshot_text, TrackerState& state,
                   std::string& error);

}  // namespace connwatch
