// Which socket (cookie) each inode stood for in the last two samples: the owner cache asks,
// for every claimed inode, whether the socket behind it is still the one it was. One flat
// table updated in place, because every sample touches every socket's entry (a sorted
// vector per sample cost ~7 ms at 100k sockets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sources/inode_table.h"

namespace connwatch {

class InodeCookieMap {
 public:
  // Starts the next sample, in which about `inodes` inodes will be recorded. What was last
  // recorded before the previous sample is dropped whenever the table fills up.
  void BeginSample(size_t inodes);
  // Records `inode`'s cookie in this sample. True when the previous sample recorded the
  // same cookie for it; false for an inode new, changed, or unknown then. Sockfs inode
  // numbers are 32 bits; a larger one (not a socket) is never stored, so never "the same".
  bool Record(uint64_t inode, uint64_t cookie);
  // Asks the CPU to fetch `inode`'s slot now: Record calls in socket order hit the table at
  // random, and announcing one a few sockets ahead hides most of each cache miss.
  void Prefetch(uint64_t inode) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Home(static_cast<uint32_t>(inode))]);
  }
  // Whether this sample recorded `inode`.
  bool RecordedNow(uint64_t inode) const;
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint32_t inode = 0;       // 0: empty
    uint32_t generation = 0;  // the sample that recorded it last
    uint64_t cookie = 0;
  };
  size_t Home(uint32_t inode) const { return InodeHome(inode, slots_.size()); }
  size_t Probe(uint32_t inode) const;  // its slot, or the empty one where it would go
  // A table of `capacity` slots (a power of two) holding only what the previous and this
  // sample recorded.
  void Rebuild(size_t capacity);

  std::vector<Slot> slots_;  // a power of two, at most 7/8 used
  size_t used_ = 0;          // slots holding an inode, current or not
  uint32_t generation_ = 0;  // this sample's
};

}  // namespace connwatch
