#include "sources/owner_cache.h"

namespace connwatch {

SocketOwners OwnerCache::Scan(const std::string& procfs, const std::vector<Socket>& sockets,
                              OwnerScanStats& stats) {
  (void)sockets;
  return ScanSocketOwners(procfs, stats);
}

}  // namespace connwatch
