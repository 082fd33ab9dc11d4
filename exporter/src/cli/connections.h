// `connwatch connections`: what `netstat -tanup` shows, plus owner user, peer zone and
// direction, from the same snapshot code the exporter samples with.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sources/snapshot.h"

namespace connwatch {

struct ConnectionsView {
  bool listening_only = false;
  // Only the sockets of the namespace with this `netns` label ("-": connwatch's own); unset:
  // every namespace.
  std::optional<std::string> netns;
};

// Pure formatters over a snapshot. Names are escaped so that no process name can forge
// table rows or break the JSON (invalid UTF-8 becomes U+FFFD).
std::string FormatConnectionsTable(const Snapshot& snapshot, const ConnectionsView& view);
std::string FormatConnectionsJson(const Snapshot& snapshot, const ConnectionsView& view);

// The subcommand: parses its flags, takes one snapshot, prints. Returns the exit code
// (0, or 2 on bad usage).
int RunConnections(const std::vector<std::string>& args);

}  // namespace connwatch
