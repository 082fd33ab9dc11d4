#include "sources/inode_cookie_map.h"

#include <limits>

#include "sources/inode_table.h"

namespace connwatch {

size_t InodeCookieMap::Probe(uint32_t inode) const {
  const size_t mask = slots_.size() - 1;
  size_t index = Home(inode);
  while (slots_[index].inode != 0 && slots_[index].inode != inode) index = (index + 1) & mask;
  return index;
}

void InodeCookieMap::Rebuild(size_t capacity) {
  // Only what the previous and this sample recorded survives. The survivors are set aside
  // first (16 bytes each) so that a rebuild at the same capacity reuses the table instead
  // of holding an old and a new one at once.
  std::vector<Slot> live;
  for (const Slot& slot : slots_) {
    // Generations compare by difference, so that the counter may wrap.
    if (slot.inode != 0 && generation_ - slot.generation <= 1) live.push_back(slot);
  }
  if (slots_.size() == capacity) {
    std::fill(slots_.begin(), slots_.end(), Slot());
  } else {
    slots_ = std::vector<Slot>(capacity);
  }
  for (const Slot& slot : live) slots_[Probe(slot.inode)] = slot;
  used_ = live.size();
}

void InodeCookieMap::BeginSample(size_t inodes) {
  ++generation_;
  // Sized for this sample's inodes; what the earlier samples left is dropped when the
  // table fills up (Record), not reserved for: a steady host records the same inodes again.
  if (slots_.size() < InodeTableCapacityFor(inodes)) Rebuild(InodeTableCapacityFor(inodes));
}

bool InodeCookieMap::Record(uint64_t inode, uint64_t cookie) {
  if (inode == 0 || inode > std::numeric_limits<uint32_t>::max()) return false;
  if (slots_.empty() || InodeTableCrowded(used_ + 1, slots_.size())) {
    // Full of current and departed inodes: drop the departed, and grow only when the
    // current ones alone would fill more than half of it.
    size_t live = 0;
    for (const Slot& slot : slots_) {
      if (slot.inode != 0 && generation_ - slot.generation <= 1) ++live;
    }
    bool crowded = slots_.empty() || InodeTableCrowded(live * 2, slots_.size());
    Rebuild(crowded ? InodeTableCapacityFor(live * 2 + 1) : slots_.size());
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
