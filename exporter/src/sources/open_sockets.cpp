#include "sources/open_sockets.h"

#include <algorithm>

namespace connwatch {

OpenSockets::OpenSockets(size_t capacity) : capacity_(std::max<size_t>(capacity, 2)) {
  open_.reserve(capacity_);
}

void OpenSockets::Remember(uint64_t cookie, const OpenedSocket& opened) {
  if (auto it = open_.find(cookie); it != open_.end()) {
    if (opened.direction == EventDirection::kInbound) return;
    it->second = Entry{opened, next_sequence_++};  // a cookie reused: the kernel never does
    return;
  }
  if (open_.size() >= capacity_) ForgetOlderHalf();
  open_.emplace(cookie, Entry{opened, next_sequence_++});
}

bool OpenSockets::Take(uint64_t cookie, OpenedSocket& opened) {
  auto it = open_.find(cookie);
  if (it == open_.end()) return false;
  opened = it->second.opened;
  open_.erase(it);
  return true;
}

// One pass over every entry per capacity/2 insertions: constant time per Remember, and no
// ordered index to maintain on the path every connection takes.
void OpenSockets::ForgetOlderHalf() {
  sequences_.clear();
  for (const auto& [cookie, entry] : open_) sequences_.push_back(entry.sequence);
  auto middle = sequences_.begin() + static_cast<std::ptrdiff_t>(sequences_.size() / 2);
  std::nth_element(sequences_.begin(), middle, sequences_.end());
  const uint64_t keep_from = *middle;
  forgotten_ += static_cast<uint64_t>(
      std::erase_if(open_, [&](const auto& item) { return item.second.sequence < keep_from; }));
}

}  // namespace connwatch
