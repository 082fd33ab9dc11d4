// The persisted first-seen table: a snapshot, <storage.path>/connections.state, written
// atomically (temp file, fsync, rename, directory fsync), and beside it a journal,
// connections.journal, to which each sample appends only what changed (one fsync'd write).
// The journal names the snapshot it extends (a hash of its bytes) and is replayed on load;
// when it has grown past the snapshot's size the snapshot is rewritten and the journal
// starts over, so both stay bounded. A bad file is reported, never trusted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tracking/connection_ages.h"

namespace connwatch {

// At most this many entries are written (the oldest connections are kept): bounds the
// file and the time to write it.
inline constexpr size_t kMaxPersistedConnections = 200000;

struct TrackerState {
  std::string boot_id;
  ConnectionTable entries;
};

// Pure: the file's text and back. Parse returns nullopt with `error` for a corrupt,
// truncated or foreign file.
std::string SerializeTrackerState(const TrackerState& state);
std::optional<TrackerState> ParseTrackerState(std::string_view text, std::string& error);

// I/O. Save writes the snapshot alone. Load reads the snapshot, then replays its journal
// (JournalPathFor) when there is one for this very snapshot: nullopt with error "" when the
// snapshot does not exist, nullopt with `error` when it is unusable. A journal that cannot
// be trusted is skipped, and a torn tail (a sample's records without their "commit" line,
// as a kill during the append leaves) is dropped: both are said in `journal_error`, while
// the state (the snapshot, plus the journal's intact records) is returned.
bool SaveTrackerState(const std::string& path, const TrackerState& state, std::string& error);
std::optional<TrackerState> LoadTrackerState(const std::string& path, std::string& error,
                                             std::string* journal_error = nullptr);

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
// tail was dropped.
bool ReplayJournal(std::string_view journal, std::string_view snapshot_text, TrackerState& state,
                   std::string& error);

// The sampler's writer: appends each sample's changes to the journal, and rewrites the
// snapshot when there is none yet (the first save of a run), the journal outgrew it, or an
// append failed (the journal's tail is then in doubt).
class TrackerStateStore {
 public:
  explicit TrackerStateStore(std::string state_path);
  bool Save(const TrackerState& state, const ConnectionKeyList& added,
            const ConnectionKeyList& removed, std::string& error);
  // Snapshot rewrites so far (for tests).
  uint64_t compactions() const { return compactions_; }

 private:
  bool Compact(const TrackerState& state, std::string& error);

  std::string state_path_, journal_path_;
  bool journal_ok_ = false;
  uint64_t journal_bytes_ = 0;
  uint64_t snapshot_bytes_ = 0;
  uint64_t compactions_ = 0;
};

}  // namespace connwatch
