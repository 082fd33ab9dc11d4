// The age tracker's table: connection key -> when it started. At 100k connections it holds
// 200k entries (both ends of every loopback connection), so its size matters: sock_diag's
// connections (keyed by the 64-bit cookie alone) live in one flat open-addressing array of
// 24-byte slots, ~6 MiB at 200k entries where a node-based map of full keys took ~28 MiB.
// Only the procfs source's keys (inode + tuple, no cookie) go to a node-based map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model.h"

namespace connwatch {

// What identifies one connection across samples: sock_diag's cookie (unique per boot)
// when there is one, else (inode, transport, addresses, ports) for the procfs source.
struct ConnectionKey {
  uint64_t cookie = 0;
  uint64_t inode = 0;
  Transport transport = Transport::kTcp;
  IpAddress local, remote;
  uint16_t local_port = 0, remote_port = 0;

  bool operator==(const ConnectionKey&) const = default;
};
ConnectionKey KeyOf(const Socket& socket);
struct ConnectionKeyHash {
  size_t operator()(const ConnectionKey& key) const;
};

// One tracked connection: when it started on the boot clock, and how we know.
struct TrackedConnection {
  double start_boot_seconds = 0;
  AgeSource source = AgeSource::kFirstSeen;
  uint32_t seen = 0;  // the tracker's last Update that saw it (not persisted)
};

// A map from ConnectionKey to TrackedConnection with the parts of std::unordered_map's
// interface connwatch uses. Iteration yields (key, tracked) pairs by value, in no order.
// Pointers returned by try_emplace/operator[] are valid until the next insertion.
class ConnectionTable {
 public:
  using value_type = std::pair<ConnectionKey, TrackedConnection>;

  class const_iterator {
   public:
    using value_type = ConnectionTable::value_type;
    using difference_type = std::ptrdiff_t;
    struct Arrow {
      value_type value;
      const value_type* operator->() const { return &value; }
    };
    const_iterator() = default;
    value_type operator*() const;
    Arrow operator->() const { return {**this}; }
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& other) const {
      return slot_ == other.slot_ && tuple_ == other.tuple_;
    }

   private:
    friend class ConnectionTable;
    using TupleIterator =
        std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash>::const_iterator;
    const_iterator(const ConnectionTable* table, size_t slot, TupleIterator tuple)
        : table_(table), slot_(slot), tuple_(tuple) {}
    void SkipEmptySlots();
    const ConnectionTable* table_ = nullptr;
    size_t slot_ = 0;  // cookie slots first; == slots.size() once in the tuple map
    TupleIterator tuple_;
  };

  ConnectionTable() = default;
  ConnectionTable(const ConnectionTable&) = default;
  ConnectionTable& operator=(const ConnectionTable&) = default;
  // A moved-from table is empty (the tracker lends its table out and takes it back).
  ConnectionTable(ConnectionTable&& other) noexcept { *this = std::move(other); }
  ConnectionTable& operator=(ConnectionTable&& other) noexcept {
    if (this != &other) {
      slots_ = std::exchange(other.slots_, {});
      cookie_count_ = std::exchange(other.cookie_count_, 0);
      tuples_ = std::exchange(other.tuples_, {});
    }
    return *this;
  }

  size_t size() const { return cookie_count_ + tuples_.size(); }
  bool empty() const { return size() == 0; }
  void clear();
  void reserve(size_t entries);

  const_iterator begin() const;
  const_iterator end() const { return {this, slots_.size(), tuples_.end()}; }
  const_iterator find(const ConnectionKey& key) const;
  bool contains(const ConnectionKey& key) const { return find(key) != end(); }

  // The entry for `key`, default-constructed if new; and whether it was inserted.
  std::pair<TrackedConnection*, bool> try_emplace(const ConnectionKey& key);
  TrackedConnection& operator[](const ConnectionKey& key) { return *try_emplace(key).first; }
  size_t erase(const ConnectionKey& key);

  // Visits every entry once, in no order: visit(key, tracked). A cookie key is a temporary;
  // a procfs key is the table's own (stable until the table changes).
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const CookieSlot& entry : slots_) {
      if (entry.cookie != 0) visit(CookieKey(entry.cookie), entry.tracked);
    }
    for (const auto& [key, tracked] : tuples_) visit(key, tracked);
  }

  // Visits every entry once: visit(key, tracked&) returns false to drop the entry (after
  // the call). The tracker's sweep of connections that are gone.
  template <typename Visit>
  void Sweep(Visit visit);

 private:
  struct CookieSlot {
    uint64_t cookie = 0;  // 0: empty (KeyOf never makes a cookie key of 0)
    TrackedConnection tracked;
  };
  size_t HomeOf(uint64_t cookie) const;
  size_t FindSlot(uint64_t cookie) const;  // the slot holding it, or slots_.size()
  void EraseSlot(size_t slot);             // backward-shift deletion: no tombstones
  void Grow(size_t capacity);
  static ConnectionKey CookieKey(uint64_t cookie) {
    ConnectionKey key;
    key.cookie = cookie;
    return key;
  }

  std::vector<CookieSlot> slots_;  // power-of-two size, at most 80% full
  size_t cookie_count_ = 0;
  std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash> tuples_;
};

template <typename Visit>
void ConnectionTable::Sweep(Visit visit) {
  if (cookie_count_ > 0) {
    // Start just after an empty slot and go once around: backward-shift deletion then only
    // moves entries that are yet to be visited into the current or later slots.
    size_t mask = slots_.size() - 1, start = 0;
    while (slots_[start].cookie != 0) ++start;
    size_t visited = 0, slot = (start + 1) & mask;
    while (visited < slots_.size()) {
      CookieSlot& entry = slots_[slot];
      if (entry.cookie != 0 && !visit(CookieKey(entry.cookie), entry.tracked)) {
        EraseSlot(slot);  // another entry may have moved here: look at this slot again
        continue;
      }
      ++visited;
      slot = (slot + 1) & mask;
    }
  }
  for (auto it = tuples_.begin(); it != tuples_.end();) {
    if (visit(it->first, it->second)) {
      ++it;
    } else {
      it = tuples_.erase(it);
    }
  }
}

// A list of connection keys (the journal's added and removed), cookies kept as 8 bytes:
// a cold start adds every connection at once.
class ConnectionKeyList {
 public:
  void push_back(const ConnectionKey& key) {
    if (key.cookie != 0) {
      cookies_.push_back(key.cookie);
    } else {
      others_.push_back(key);
    }
  }
  void clear() {
    cookies_.clear();
    others_.clear();
  }
  size_t size() const { return cookies_.size() + others_.size(); }
  bool empty() const { return size() == 0; }
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (uint64_t cookie : cookies_) {
      ConnectionKey key;
      key.cookie = cookie;
      visit(key);
    }
    for (const ConnectionKey& key : others_) visit(key);
  }

 private:
  std::vector<uint64_t> cookies_;
  std::vector<ConnectionKey> others_;
};

}  // namespace connwatch
