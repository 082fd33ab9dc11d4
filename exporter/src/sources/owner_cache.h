// Socket owners carried across samples (see owner_cache.cpp for what it may miss).
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "sources/proc_fd.h"

namespace connwatch {

class OwnerCache {
 public:
  // The owners of `sockets`, as a full /proc/<pid>/fd walk would find them.
  SocketOwners Scan(const std::string& procfs, const std::vector<Socket>& sockets,
                    OwnerScanStats& stats);
};

}  // namespace connwatch
