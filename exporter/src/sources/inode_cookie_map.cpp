#include "sources/inode_cookie_map.h"

#include <limits>

namespace connwatch {
namespace {

size_t CapacityFor(size_t entries) {
  size_t capacity = 16;
  while (capacity * 3 < entries * 4) capacity *= 2;
  return capacity;
}

}  // namespace

size_t InodeCookieMap::Probe(uint32_t inode) const {
  const size_t mask = slots_.size() - 1;
  size_t index = Home(inode);
  while (slots_[index].inode != 0 && slots_[index].inode != inode) index = (index + 1) & mask;
  return index;
}

void InodeCookieMap::Rebuild(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot());
  used_ = 0;
  for (const Slot& slot : old) {
    // Generations compare by difference, so that the counter may wrap.
    uint32_t age = generation_ - slot.generation;
    if (slot.inode == 0 || age > 1) continue;
    slots_[Probe(slot.inode)] = slot;
    ++used_;
  }
}

void InodeCookieMap::BeginSample(size_t inodes) {
  ++generation_;
  // Room for every inode of this sample being new; dropping the inodes older than the
  // previous sample usually makes it, else the table grows.
  if ((used_ + inodes) * 4 > slots_.size() * 3) {
    size_t live = 0;
    for (const Slot& slot : slots_) {
      if (slot.inode != 0 && generation_ - slot.generation == 1) ++live;
    }
    Rebuild(CapacityFor(live + inodes));
  }
}

bool InodeCookieMap::Record(uint64_t inode, uint64_t cookie) {
  if (inode == 0 || inode > std::numeric_limits<uint32_t>::max()) return false;
  if (slots_.empty() || (used_ + 1) * 4 > slots_.size() * 3) {
    Rebuild(CapacityFor(used_ * 2 + 1));
  }
  Slot& slot = slots_[Probe(static_cast<uint32_t>(inode))];
  if (slot.inode == 0) {
    slot = {static_cast<uint32_t>(inode), generation_, cookie};
    ++used_;
    return false;
  }
  bool same = generation_ - slot.generation <= 1 && slot.cookie == cookie;
  // Listed twice in one sample: compared with the first sighting, which is kept (its own
  // answer already told whether the previous sample had the socket).
  if (slot.generation == generation_) return same;
  slot.generation = generation_;
  slot.cookie = cookie;
  return same;
}

bool InodeCookieMap::RecordedNow(uint64_t inode) const {
  if (inode == 0 || inode > std::numeric_limits<uint32_t>::max() || slots_.empty()) return false;
  const Slot& slot = slots_[Probe(static_cast<uint32_t>(inode))];
  return slot.inode != 0 && slot.generation == generation_;
}

}  // namespace connwatch
