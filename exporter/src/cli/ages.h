// Connection ages for the one-shot commands (`connections`, `check`): what the running
// exporter persisted (first sightings, when from this boot), conntrack starts (the snapshot's,
// taken with SnapshotOptions::conntrack), and for the rest the owning process's start as an
// upper bound. Reads the state; never writes it.
#pragma once

#include <string>

#include "sources/snapshot.h"

namespace connwatch {

// The state is read as `serve` loads it (the snapshot, then its journal's committed
// samples), and serve may be writing it meanwhile: the snapshot is replaced by rename, so it is
// read whole or not at all, and a journal torn or rewritten under the reader is skipped, its
// connections falling back to the bound. Returns "" or what made the state unusable (a
// missing state is no problem: serve may never have run).
std::string AttachOneShotAges(Snapshot& snapshot, const std::string& procfs,
                              const std::string& storage_path);

// "3h12m", "45s", "2d4h": compact, for tables.
std::string FormatAge(double seconds);
// FormatAge, after "<=" when the age is only an upper bound (the owner's start time).
std::string FormatAgeOf(const ConnectionAge& age);

}  // namespace connwatch
