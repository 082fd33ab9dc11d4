// What the two flat tables keyed by socket inode share (SocketOwners, InodeCookieMap): where
// an inode's probe starts and how full a table may get.
#pragma once

#include <cstddef>
#include <cstdint>

namespace connwatch {

// Fibonacci hashing: sockfs inode numbers are sequential, the multiplication spreads them.
// `capacity` is a power of two.
inline size_t InodeHome(uint64_t inode, size_t capacity) {
  return static_cast<size_t>((inode * 0x9E3779B97F4A7C15ULL) >> 20) & (capacity - 1);
}

// At most 7/8 full: these tables hold one entry per socket, and at 200k sockets 3/4 would
// take the next power of two (8 MiB instead of 4 MiB for 16-byte slots). Nearly every lookup
// of a sample finds its inode, within a probe or three.
inline bool InodeTableCrowded(size_t entries, size_t capacity) {
  return entries * 8 > capacity * 7;
}

// The smallest capacity (a power of two, at least 16) that holds `entries` uncrowded.
inline size_t InodeTableCapacityFor(size_t entries) {
  size_t capacity = 16;
  while (InodeTableCrowded(entries, capacity)) capacity *= 2;
  return capacity;
}

}  // namespace connwatch
