// The persisted first-seen table's files (their text is tracking/state_format.h's): the
// snapshot, <storage.path>/connections.state, written atomically (temp file, fsync, rename,
// directory fsync), and its journal, connections.journal, to which each sample appends only
// what changed (one fsync'd write). When the journal has grown past the snapshot's size the
// snapshot is rewritten and the journal starts over, so both stay bounded. A bad file is
// reported, never trusted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tracking/connection_table.h"
#include "tracking/state_format.h"

namespace connwatch {

// <storage.path>/connections.state
std::string StatePathIn(const std::string& storage_path);

// Save writes the snapshot alone. Load reads the snapshot, then replays its journal
// (JournalPathFor) when there is one for this very snapshot: nullopt with error "" when the
// snapshot does not exist, nullopt with `error` when it is unusable. A journal that cannot
// be trusted is skipped, and a torn tail (a sample's records without their "commit" line,
// as a kill during the append leaves) is dropped: both are said in `journal_error`, while
// the state (the snapshot, plus the journal's intact records) is returned.
bool SaveTrackerState(const std::string& path, const TrackerState& state, std::string& error);
std::optional<TrackerState> LoadTrackerState(const std::string& path, std::string& error,
                                             std::string* journal_error = nullptr);

// The sampler's writer: appends each sample's changes to the journal, and rewrites the
// snapshot when there is none yet (the first save of a run), the journal outgrew it, or an
// append failed (the journal's tail is then in doubt). A failed save says every failed step
// in `error`, the clean-up after the first failure included.
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
