#include "tracking/connection_table.h"

#include <bit>
#include <cstring>
#include <functional>

#include "base/hash_combine.h"

namespace connwatch {
namespace {

// The kernel hands out cookies from a counter: consecutive values must land apart.
uint64_t MixCookie(uint64_t cookie) {
  cookie ^= cookie >> 33;
  cookie *= 0xff51afd7ed558ccdULL;
  cookie ^= cookie >> 33;
  cookie *= 0xc4ceb9fe1a85ec53ULL;
  cookie ^= cookie >> 33;
  return cookie;
}

constexpr size_t kMinSlots = 64;

}  // namespace

ConnectionKey KeyOf(const Socket& socket) {
  ConnectionKey key;
  if (socket.cookie != 0) {
    key.cookie = socket.cookie;
    return key;
  }
  key.inode = socket.inode;
  key.transport = socket.transport;
  key.local = socket.local;
  key.remote = socket.remote;
  key.local_port = socket.local_port;
  key.remote_port = socket.remote_port;
  return key;
}

size_t ConnectionKeyHash::operator()(const ConnectionKey& key) const {
  size_t seed = 0;
  HashCombine(seed, key.cookie);
  HashCombine(seed, key.inode);
  HashCombine(seed, static_cast<uint64_t>(key.transport));
  HashCombineAddress(seed, key.local);
  HashCombineAddress(seed, key.remote);
  HashCombine(seed, (static_cast<uint64_t>(key.local_port) << 16) | key.remote_port);
  return seed;
}

ConnectionTable::value_type ConnectionTable::const_iterator::operator*() const {
  if (slot_ < table_->slots_.size()) {
    const CookieSlot& entry = table_->slots_[slot_];
    return {CookieKey(entry.cookie), entry.tracked};
  }
  return *tuple_;
}

ConnectionTable::const_iterator& ConnectionTable::const_iterator::operator++() {
  if (slot_ < table_->slots_.size()) {
    ++slot_;
    SkipEmptySlots();
  } else {
    ++tuple_;
  }
  return *this;
}

void ConnectionTable::const_iterator::SkipEmptySlots() {
  while (slot_ < table_->slots_.size() && table_->slots_[slot_].cookie == 0) ++slot_;
}

void ConnectionTable::clear() {
  slots_.clear();
  slots_.shrink_to_fit();
  cookie_count_ = 0;
  tuples_.clear();
}

void ConnectionTable::reserve(size_t entries) {
  size_t needed = std::bit_ceil(std::max(kMinSlots, entries + entries / 4 + 1));
  if (needed > slots_.size()) Grow(needed);
}

ConnectionTable::const_iterator ConnectionTable::begin() const {
  const_iterator it{this, 0, tuples_.begin()};
  it.SkipEmptySlots();
  return it;
}

ConnectionTable::const_iterator ConnectionTable::find(const ConnectionKey& key) const {
  if (key.cookie == 0) return {this, slots_.size(), tuples_.find(key)};
  size_t slot = FindSlot(key.cookie);
  return slot == slots_.size() ? end() : const_iterator{this, slot, tuples_.begin()};
}

size_t ConnectionTable::HomeOf(uint64_t cookie) const {
  return MixCookie(cookie) & (slots_.size() - 1);
}

size_t ConnectionTable::FindSlot(uint64_t cookie) const {
  if (slots_.empty()) return 0;
  size_t mask = slots_.size() - 1;
  for (size_t slot = HomeOf(cookie);; slot = (slot + 1) & mask) {
    if (slots_[slot].cookie == cookie) return slot;
    if (slots_[slot].cookie == 0) return slots_.size();
  }
}

std::pair<TrackedConnection*, bool> ConnectionTable::try_emplace(const ConnectionKey& key) {
  if (key.cookie == 0) {
    auto [it, inserted] = tuples_.try_emplace(key);
    return {&it->second, inserted};
  }
  // At most 80% full: linear probing stays short, and the slots take ~30 bytes per entry.
  if ((cookie_count_ + 1) * 5 > slots_.size() * 4) {
    Grow(std::max(kMinSlots, slots_.size() * 2));
  }
  size_t mask = slots_.size() - 1;
  for (size_t slot = HomeOf(key.cookie);; slot = (slot + 1) & mask) {
    CookieSlot& entry = slots_[slot];
    if (entry.cookie == key.cookie) return {&entry.tracked, false};
    if (entry.cookie == 0) {
      entry.cookie = key.cookie;
      entry.tracked = TrackedConnection();
      ++cookie_count_;
      return {&entry.tracked, true};
    }
  }
}

size_t ConnectionTable::erase(const ConnectionKey& key) {
  if (key.cookie == 0) return tuples_.erase(key);
  size_t slot = FindSlot(key.cookie);
  if (slot == slots_.size()) return 0;
  EraseSlot(slot);
  return 1;
}

void ConnectionTable::EraseSlot(size_t hole) {
  // Entries after the hole whose probe passed through it move back into it, so that every
  // probe sequence stays unbroken without tombstones.
  size_t mask = slots_.size() - 1;
  for (size_t next = (hole + 1) & mask; slots_[next].cookie != 0; next = (next + 1) & mask) {
    size_t home = HomeOf(slots_[next].cookie);
    // It stays when its home lies cyclically in (hole, next].
    bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    slots_[hole] = slots_[next];
    hole = next;
  }
  slots_[hole] = CookieSlot();
  --cookie_count_;
}

void ConnectionTable::Grow(size_t capacity) {
  std::vector<CookieSlot> old = std::move(slots_);
  slots_.assign(capacity, CookieSlot());
  size_t mask = capacity - 1;
  for (const CookieSlot& entry : old) {
    if (entry.cookie == 0) continue;
    size_t slot = HomeOf(entry.cookie);
    while (slots_[slot].cookie != 0) slot = (slot + 1) & mask;
    slots_[slot] = entry;
  }
}

}  // namespace connwatch
