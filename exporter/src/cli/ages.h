// Connection ages for the one-shot commands (`connections`, `check`): what the running
// exporter persisted (first sightings, when from this boot), conntrack starts (the snapshot's,
// taken with SnapshotOptions::conntrack), and for the rest the owning process's start as an
// upper bound. Reads the state; never writes it.
#pragma once

#include <string>

#include "sources/snapshot.h"

namespace connwatch {

void AttachOneShotAges(Snapshot& snapshot, const std::string& procfs,
                       const std::string& storage_path);

// "3h12m", "45s", "2d4h": compact, for tables.
std::string FormatAge(double seconds);

}  // namespace connwatch
